//! Deployments: start one, follow it, cancel and relaunch it, read logs and the retry
//! queue.

use crate::auth::{Operator, Viewer};
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use drover_api::deployments::{Cancelled, DeployRequest, DeploymentQuery, DeploymentView};
use drover_api::logs::{LogEntry, LogQuery};
use drover_api::retry::Retry;
use drover_domain::deployment::{Deployment, Executor};
use drover_domain::ids::DeploymentId;
use drover_domain::user::User;
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/deployments", get(list).post(create))
        .route("/deployments/{id}", get(show))
        .route("/deployments/{id}/cancel", post(cancel))
        .route("/deployments/{id}/relaunch", post(relaunch))
        .route("/logs", get(logs))
        .route("/retry-queue", get(retry_queue))
}

/// Who acts, as the engine records it.
fn executor(user: &User) -> Executor {
    Executor::user(&user.name)
}

async fn create(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Json(req): Json<DeployRequest>,
) -> ApiResult<Json<DeploymentView>> {
    let (deployment, targets) = engine.deploy(req, executor(&user)).await?;
    Ok(Json(DeploymentView { deployment, targets }))
}

async fn list(
    State(engine): State<Engine>,
    _v: Viewer,
    Query(q): Query<DeploymentQuery>,
) -> ApiResult<Json<Vec<Deployment>>> {
    Ok(Json(engine.list_deployments(&q).await?))
}

async fn show(State(engine): State<Engine>, _v: Viewer, Path(id): Path<i64>) -> ApiResult<Json<DeploymentView>> {
    Ok(Json(engine.deployment_view(DeploymentId(id)).await?))
}

async fn logs(State(engine): State<Engine>, _v: Viewer, Query(q): Query<LogQuery>) -> ApiResult<Json<Vec<LogEntry>>> {
    Ok(Json(engine.log(&q).await?))
}

/// Targets waiting in the retry queue, next attempt first.
async fn retry_queue(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<Retry>>> {
    Ok(Json(engine.retry_queue().await?))
}

async fn cancel(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(id): Path<i64>,
) -> ApiResult<Json<Cancelled>> {
    let n = engine.cancel(DeploymentId(id), &executor(&user)).await?;
    Ok(Json(Cancelled { ok: true, cancelled: n }))
}

/// Deploys again to the failed, offline and timed-out targets, with the same options;
/// those whose task turns out to have succeeded are listed, not run again.
async fn relaunch(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(id): Path<i64>,
) -> ApiResult<Json<drover_api::deployments::Relaunched>> {
    Ok(Json(engine.relaunch(DeploymentId(id), executor(&user)).await?))
}
