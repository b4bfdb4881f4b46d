//! drover's HTTP server: the JSON API under `/api/v1`, the deployer callback under
//! `/agent/v1`, the package share under `/share/v1` and the web console at `/`. Handlers
//! only translate HTTP to engine calls; every route but `/healthz`, `/login` and the
//! console's static files needs a token or a console session.

mod agent;
mod api;
mod auth;
mod console;
mod error;

pub use error::ApiError;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use drover_engine::Engine;
use std::future::Future;
use tokio::net::TcpListener;

/// Largest request body: a package bundle upload.
const MAX_BODY: usize = 1024 * 1024 * 1024;

pub fn router(engine: Engine) -> Router {
    Router::new()
        .nest("/api/v1", api::routes())
        .merge(agent::routes())
        .route("/healthz", get(|| async { "ok" }))
        .merge(console::routes())
        .fallback(console::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(engine)
}

/// Serves until `shutdown` completes. The listener may be bound to port 0.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        engine.set_listen_port(addr.port());
    }
    // The client address is what the console's login throttling counts per address.
    let app = router(engine).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
