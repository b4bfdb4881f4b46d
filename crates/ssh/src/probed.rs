//! Connections a port probe opened, kept a few seconds for the login that follows: a
//! target then costs its machine one TCP connection (and one SSH server process) instead
//! of two, the probe's and the login's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long a probe's connection is kept for a login; then it is closed.
pub(crate) const KEPT_FOR: Duration = Duration::from_secs(5);

struct Kept {
    id: u64,
    until: Instant,
    stream: TcpStream,
}

/// By `host` and port as the probe was given them.
type ByAddress = HashMap<(String, u16), Vec<Kept>>;
static KEPT: Mutex<Option<ByAddress>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn with<T>(f: impl FnOnce(&mut ByAddress) -> T) -> T {
    f(KEPT.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashMap::new))
}

/// Keeps `stream` for a login to `host:port` within `ttl` ([`KEPT_FOR`]); closes it after.
pub(crate) fn keep(host: &str, port: u16, stream: TcpStream, ttl: Duration) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let until = Instant::now() + ttl;
    let key = (host.to_string(), port);
    with(|m| m.entry(key.clone()).or_default().push(Kept { id, until, stream }));
    tokio::spawn(async move {
        tokio::time::sleep(ttl).await;
        with(|m| {
            if let Some(list) = m.get_mut(&key) {
                list.retain(|k| k.id != id);
                if list.is_empty() {
                    m.remove(&key);
                }
            }
        });
    });
}

/// The newest connection a probe of `host:port` opened and that is still kept.
pub(crate) fn take(host: &str, port: u16) -> Option<TcpStream> {
    with(|m| {
        let key = (host.to_string(), port);
        let list = m.get_mut(&key)?;
        let kept = list.pop();
        if list.is_empty() {
            m.remove(&key);
        }
        kept.filter(|k| Instant::now() < k.until).map(|k| k.stream)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kept_connection_is_taken_once_and_only_while_kept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ttl = Duration::from_millis(200);
        keep("127.0.0.1", port, TcpStream::connect(("127.0.0.1", port)).await.unwrap(), ttl);
        assert!(take("127.0.0.1", port + 1).is_none(), "another port");
        assert!(take("127.0.0.1", port).is_some());
        assert!(take("127.0.0.1", port).is_none(), "taken once");
        keep("127.0.0.1", port, TcpStream::connect(("127.0.0.1", port)).await.unwrap(), ttl);
        tokio::time::sleep(ttl + Duration::from_millis(50)).await;
        assert!(take("127.0.0.1", port).is_none(), "closed after its time");
        assert!(with(|m| !m.contains_key(&("127.0.0.1".to_string(), port))), "nothing left behind");
    }

    /// A probe's connection the server closed before its host key: the login tries a new
    /// connection (here refused: the server is gone), not the dead one.
    #[tokio::test]
    async fn a_login_over_a_closed_kept_connection_connects_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(crate::probe("127.0.0.1", port, Duration::from_secs(2)).await);
        let (conn, _) = listener.accept().await.unwrap();
        drop((conn, listener));
        let opts = crate::ConnectOptions {
            host: "127.0.0.1".into(),
            port,
            user: "root".into(),
            auth: crate::Auth::Password("x".into()),
            host_key: crate::HostKeyPolicy::default(),
            connect_timeout: Duration::from_secs(5),
        };
        match crate::Session::connect(&opts).await {
            Err(crate::SshError::Unreachable { .. }) => {}
            Err(e) => panic!("the dead kept connection's error, not a new connection's: {e}"),
            Ok(_) => panic!("logged in to nothing"),
        }
        assert!(take("127.0.0.1", port).is_none(), "taken by the login");
    }
}
