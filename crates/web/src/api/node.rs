//! This node: its deployment threads (read, change live) and its settings; and the nodes
//! of its database with their leases.

use crate::auth::{Admin, Viewer};
use crate::error::ApiResult;
use crate::extract::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use drover_api::nodes::NodeInfo;
use drover_api::settings::Settings;
use drover_api::threads::{SetThreads, ThreadsInfo};
use drover_domain::executor::Executor;
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/threads", get(threads).put(set_threads))
        .route("/settings", get(settings))
        .route("/nodes", get(nodes))
}

/// This node's deployment threads: the limit, running and queued targets.
async fn threads(State(engine): State<Engine>, _v: Viewer) -> Json<ThreadsInfo> {
    Json(engine.threads())
}

/// Changes the limit live; running targets are not interrupted.
async fn set_threads(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(b): Json<SetThreads>,
) -> ApiResult<Json<ThreadsInfo>> {
    let info = engine.set_threads(&Executor::user(&admin.name), b.threads).await?;
    tracing::info!(by = %admin.name, threads = b.threads, "deployment threads changed");
    Ok(Json(info))
}

/// This node's settings and the defaults of deployment options.
async fn settings(State(engine): State<Engine>, _v: Viewer) -> Json<Settings> {
    Json(engine.settings())
}

/// The nodes of this database: each one's lease and whether it still runs.
async fn nodes(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<NodeInfo>>> {
    Ok(Json(engine.nodes(drover_engine::now_ms()).await?))
}
