//! The connection loop: HTTP/1.1 over hyper with a header-read timeout (which also ends
//! a keep-alive connection idle between requests), an idle timeout on request bodies, a
//! bound on open connections, the client's address for each request, and a graceful
//! shutdown that lets requests in flight finish. With a TLS acceptor, each connection's
//! handshake runs in its own task (bounded by the header-read timeout) before HTTP.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// Limits of the connection loop; [`crate::serve`] uses the defaults.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// A client must send a request's headers within this, and a keep-alive connection
    /// with no request for this long is closed.
    pub header_read_timeout: Duration,
    /// A request body that sends nothing for this long is cut off.
    pub body_idle_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // e.g. out of file descriptors: wait instead of spinning
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = tls else {
                return serve_connection(stream, remote, app, limits, watcher).await;
            };
            // a client that never finishes its handshake holds its permit no longer
            // than one that never sends its headers
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => serve_connection(tls_stream, remote, app, limits, watcher).await,
                Ok(Err(e)) => tracing::debug!(%remote, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// HTTP/1.1 on one connection (plain or TLS), until it ends or the server shuts down.
async fn serve_connection<I>(
    io: I,
    remote: SocketAddr,
    app: Router,
    limits: ServeLimits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(remote));
        tower::ServiceExt::oneshot(app.clone(), req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(Lingering(Some(io))), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%remote, "connection ended: {e}");
    }
}

/// The client's address, as the connection loop recorded it.
pub(crate) fn client_addr(ext: &axum::http::Extensions) -> Option<SocketAddr> {
    ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

/// What a closed connection still reads and throws away, at most, before it is dropped.
const LINGER_BYTES: usize = 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// A connection that, once hyper is done with it (its answer sent and its write side
/// shut), reads and discards what the client still sends, for a while, before closing.
/// An answer given before the request body was read (413) would otherwise meet that body
/// in the socket at close: the kernel then resets the connection, and the client loses
/// the answer it was sent.
struct Lingering<I: AsyncRead + Unpin + Send + 'static>(Option<I>);

impl<I: AsyncRead + Unpin + Send + 'static> AsyncRead for Lingering<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().0.as_mut() {
            Some(io) => Pin::new(io).poll_read(cx, buf),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Lingering<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut().0.as_mut() {
            Some(io) => Pin::new(io).poll_write(cx, buf),
            None => Poll::Ready(Err(std::io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().0.as_mut() {
            Some(io) => Pin::new(io).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().0.as_mut() {
            Some(io) => Pin::new(io).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<I: AsyncRead + Unpin + Send + 'static> Drop for Lingering<I> {
    fn drop(&mut self) {
        let Some(io) = self.0.take() else { return };
        // without a runtime (never in the server) the connection just closes
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        rt.spawn(drain(io));
    }
}

/// Reads until the client closes, LINGER_BYTES were read or LINGER_TIME passed.
async fn drain(mut io: impl AsyncRead + Unpin) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16 * 1024];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while left > 0 {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}
