//! Schedules (`/schedules`) and deployment configurations (`/configs`): operators
//! change them, viewers read them. `{id}` is an id or a name.

use crate::auth::{Operator, Viewer};
use crate::error::{ApiError, ApiResult};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use drover_api::Done;
use drover_api::schedules::{ConfigRequest, ConfigView, PreviewQuery, RunTime, ScheduleView};
use drover_domain::deploy_config::ConfigRun;
use drover_domain::executor::Executor;
use drover_domain::schedule::Schedule;
use drover_engine::{Engine, EngineError};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/schedules", get(list_schedules).post(create_schedule))
        .route("/schedules/{id}", get(show_schedule).put(update_schedule).delete(delete_schedule))
        .route("/schedules/{id}/preview", get(preview))
        .route("/configs", get(list_configs).post(create_config))
        .route("/configs/{id}", get(show_config).delete(delete_config))
        .route("/configs/{id}/enable", post(enable))
        .route("/configs/{id}/disable", post(disable))
        .route("/configs/{id}/runs", get(runs))
}

/// A JSON body, or a 422 whose message names the field that did not read (e.g.
/// `start: '2026-02-31T22:00' is not a local date-time`).
fn body<T>(b: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    b.map(|Json(v)| v).map_err(|e| ApiError(EngineError::Invalid(e.body_text())))
}

async fn list_schedules(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<ScheduleView>>> {
    Ok(Json(engine.list_schedules().await?))
}

async fn create_schedule(
    State(engine): State<Engine>,
    Operator(user): Operator,
    b: Result<Json<Schedule>, JsonRejection>,
) -> ApiResult<Json<ScheduleView>> {
    Ok(Json(engine.create_schedule(&Executor::user(&user.name), body(b)?).await?))
}

async fn show_schedule(
    State(engine): State<Engine>,
    _v: Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    Ok(Json(engine.show_schedule(&id).await?))
}

async fn update_schedule(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(id): Path<String>,
    b: Result<Json<Schedule>, JsonRejection>,
) -> ApiResult<Json<ScheduleView>> {
    Ok(Json(engine.update_schedule(&Executor::user(&user.name), &id, body(b)?).await?))
}

async fn delete_schedule(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    let s = engine.delete_schedule(&Executor::user(&user.name), &id).await?;
    Ok(Json(Done::new(format!("schedule {} '{}' removed", s.id, s.schedule.name))))
}

async fn preview(
    State(engine): State<Engine>,
    _v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Json<Vec<RunTime>>> {
    Ok(Json(engine.preview_schedule(&id, q.n).await?))
}

async fn list_configs(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<ConfigView>>> {
    Ok(Json(engine.list_configs().await?))
}

async fn create_config(
    State(engine): State<Engine>,
    Operator(user): Operator,
    b: Result<Json<ConfigRequest>, JsonRejection>,
) -> ApiResult<Json<ConfigView>> {
    Ok(Json(engine.create_config(&Executor::user(&user.name), body(b)?).await?))
}

async fn show_config(State(engine): State<Engine>, _v: Viewer, Path(id): Path<String>) -> ApiResult<Json<ConfigView>> {
    Ok(Json(engine.show_config(&id).await?))
}

async fn delete_config(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    let c = engine.delete_config(&Executor::user(&user.name), &id).await?;
    Ok(Json(Done::new(format!(
        "deployment configuration {} '{}' removed; its deployments stay in the log",
        c.id, c.config.name
    ))))
}

async fn enable(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<ConfigView>> {
    Ok(Json(engine.enable_config(&Executor::user(&user.name), &id).await?))
}

async fn disable(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<ConfigView>> {
    Ok(Json(engine.disable_config(&Executor::user(&user.name), &id).await?))
}

async fn runs(State(engine): State<Engine>, _v: Viewer, Path(id): Path<String>) -> ApiResult<Json<Vec<ConfigRun>>> {
    Ok(Json(engine.config_runs(&id).await?))
}
