//! drover's HTTP server: the JSON API under `/api/v1`, the deployer callback under
//! `/agent/v1`, the package share under `/share/v1` and the web console at `/`. Handlers
//! only translate HTTP to engine calls; every route but `/healthz`, `/login` and the
//! console's static files needs a token or a console session.

mod agent;
mod api;
mod auth;
mod console;
mod error;
mod extract;
mod server;

pub use error::ApiError;
pub use server::ServeLimits;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use drover_engine::Engine;
use std::future::Future;
use tokio::net::TcpListener;

/// Largest request body of every route (the console's url-encoded forms included) but
/// the bundle uploads of the API and the console (streamed to disk, bounded by the
/// engine's bundle limits) and the deployer's report (its own bound).
pub const MAX_JSON_BODY: usize = 64 * 1024;

pub fn router(engine: Engine) -> Router {
    router_with(engine, ServeLimits::default())
}

fn router_with(engine: Engine, limits: ServeLimits) -> Router {
    Router::new()
        .nest("/api/v1", api::routes())
        .merge(agent::routes())
        .route("/healthz", get(|| async { "ok" }))
        .merge(console::routes())
        .fallback(console::not_found)
        .method_not_allowed_fallback(|| async {
            extract::Rejection {
                status: StatusCode::METHOD_NOT_ALLOWED,
                message: "this route does not take that method".into(),
            }
        })
        .layer(axum::middleware::from_fn(close_after_refusal))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_idle_timeout))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(engine)
}

/// A refused request may leave its body unread, and then hyper ends its connection after
/// the answer, without saying so: the client, not told, sends its next request on that
/// connection as it closes and gets no answer. A refusal of a request that may carry a
/// body (any method but GET and HEAD) says `Connection: close`, so the client opens
/// another.
async fn close_after_refusal(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let may_have_body = !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let mut res = next.run(req).await;
    if may_have_body && (res.status().is_client_error() || res.status().is_server_error()) {
        res.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    res
}

/// Serves until `shutdown` completes, with the default [`ServeLimits`]. The listener may
/// be bound to port 0.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, engine, ServeLimits::default(), shutdown).await
}

/// Serves until `shutdown` completes: requests in flight finish, idle connections close.
pub async fn serve_with(
    listener: TcpListener,
    engine: Engine,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        engine.set_listen_port(addr.port());
    }
    server::run(listener, router_with(engine, limits), limits, None, shutdown).await
}

/// Serves HTTPS with `cert` until `shutdown` completes, like [`serve_with`].
pub async fn serve_tls(
    listener: TcpListener,
    engine: Engine,
    limits: ServeLimits,
    cert: &drover_engine::datadir::tls::ServerCert,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls_acceptor(cert)?;
    if let Ok(addr) = listener.local_addr() {
        engine.set_listen_port(addr.port());
    }
    server::run(listener, router_with(engine, limits), limits, Some(acceptor), shutdown).await
}

/// The TLS side of the server: `cert`'s chain and key, TLS 1.2 and 1.3 (ring), HTTP/1.1.
pub fn tls_acceptor(cert: &drover_engine::datadir::tls::ServerCert) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(cert.chain.clone(), cert.key.clone_key()))
        .map_err(|e| {
            std::io::Error::other(format!(
                "cannot serve HTTPS with the certificate {} and its key: {e}",
                cert.cert_path.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}
