//! Deployments: start one, follow it, read logs.

use crate::auth::{Admin, Operator, Viewer};
use crate::error::ApiResult;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use drover_domain::deployment::{Deployment, Target};
use drover_domain::ids::{AssetId, DeploymentId, PackageId};
use drover_engine::Engine;
use drover_engine::deploy::{DeployRequest, LogEntry};
use drover_engine::threads::ThreadsInfo;
use drover_store::LogFilter;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/deployments", get(list).post(create))
        .route("/deployments/{id}", get(show))
        .route("/deployments/{id}/cancel", post(cancel))
        .route("/deployments/{id}/relaunch", post(relaunch))
        .route("/logs", get(logs))
        .route("/threads", get(threads).put(set_threads))
        .route("/settings", get(settings))
        .route("/retry-queue", get(retry_queue))
}

#[derive(Serialize)]
struct DeploymentView {
    deployment: Deployment,
    targets: Vec<Target>,
}

async fn create(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Json(req): Json<DeployRequest>,
) -> ApiResult<Json<DeploymentView>> {
    let (deployment, targets) = engine.deploy(req, format!("user:{}", user.name)).await?;
    Ok(Json(DeploymentView { deployment, targets }))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

async fn list(
    State(engine): State<Engine>,
    _v: Viewer,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Deployment>>> {
    Ok(Json(engine.store().list_deployments(q.limit.clamp(1, 10_000)).await?))
}

async fn show(State(engine): State<Engine>, _v: Viewer, Path(id): Path<i64>) -> ApiResult<Json<DeploymentView>> {
    let deployment = engine.store().deployment(DeploymentId(id)).await?;
    let targets = engine.store().targets_of(deployment.id).await?;
    Ok(Json(DeploymentView { deployment, targets }))
}

#[derive(Deserialize)]
struct LogQuery {
    deployment: Option<i64>,
    asset: Option<i64>,
    package: Option<i64>,
    #[serde(default = "default_limit")]
    limit: i64,
}

async fn logs(State(engine): State<Engine>, _v: Viewer, Query(q): Query<LogQuery>) -> ApiResult<Json<Vec<LogEntry>>> {
    let filter = LogFilter {
        deployment: q.deployment.map(DeploymentId),
        asset: q.asset.map(AssetId),
        package: q.package.map(PackageId),
        limit: q.limit.clamp(1, 10_000),
    };
    Ok(Json(engine.log(&filter).await?))
}

/// This node's deployment threads: the limit, running and queued targets.
async fn threads(State(engine): State<Engine>, _v: Viewer) -> Json<ThreadsInfo> {
    Json(engine.threads())
}

#[derive(Deserialize)]
struct SetThreads {
    threads: usize,
}

/// Changes the limit live; running targets are not interrupted.
async fn set_threads(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(b): Json<SetThreads>,
) -> ApiResult<Json<ThreadsInfo>> {
    let info = engine.set_threads(b.threads).await?;
    tracing::info!(by = %admin.name, threads = b.threads, "deployment threads changed");
    Ok(Json(info))
}

/// This node's settings and the defaults of deployment options.
async fn settings(State(engine): State<Engine>, _v: Viewer) -> Json<drover_engine::Settings> {
    Json(engine.settings())
}

/// Targets waiting in the retry queue, next attempt first.
async fn retry_queue(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<drover_engine::deploy::Retry>>> {
    Ok(Json(engine.retry_queue().await?))
}

async fn cancel(State(engine): State<Engine>, Operator(user): Operator, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let n = engine.cancel(DeploymentId(id), &format!("user:{}", user.name)).await?;
    Ok(Json(json!({ "ok": true, "cancelled": n })))
}

/// Deploys again to the failed, offline and timed-out targets, with the same options.
async fn relaunch(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(id): Path<i64>,
) -> ApiResult<Json<DeploymentView>> {
    let (deployment, targets) = engine.relaunch(DeploymentId(id), format!("user:{}", user.name)).await?;
    Ok(Json(DeploymentView { deployment, targets }))
}
