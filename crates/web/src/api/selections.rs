//! Overviews (`/overviews/{kind}`), groups (`/groups`) and reports (`/reports`):
//! viewers read and run them, operators change them. `{g}` and `{r}` are ids or names.

use crate::auth::{Operator, Viewer};
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use drover_api::Done;
use drover_api::selections::{GroupDetail, GroupFile, GroupSummary, MemberRequest, ReportRun, RunReport};
use drover_domain::executor::Executor;
use drover_domain::report::{NewReport, Report};
use drover_domain::selection::{OverviewEntry, OverviewKind};
use drover_engine::{Engine, EngineError};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/overviews/{kind}", get(overview))
        .route("/groups", get(list_groups).post(create_group))
        .route("/groups/{g}", get(show_group).delete(delete_group))
        .route("/groups/{g}/members", get(show_group).post(add_member).delete(remove_member))
        .route("/groups/{g}/export", get(export_group))
        .route("/reports", get(list_reports).post(create_report))
        .route("/reports/{r}", get(show_report).delete(delete_report))
        .route("/reports/{r}/run", post(run_report))
}

async fn overview(
    State(engine): State<Engine>,
    _v: Viewer,
    Path(kind): Path<String>,
) -> ApiResult<Json<Vec<OverviewEntry>>> {
    let kind = OverviewKind::parse(&kind)
        .ok_or_else(|| EngineError::NotFound(format!("no overview '{kind}': use domain, os, type or subnet")))?;
    Ok(Json(engine.overview(kind).await?))
}

async fn list_groups(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<GroupSummary>>> {
    Ok(Json(engine.list_groups().await?))
}

async fn create_group(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Json(f): Json<GroupFile>,
) -> ApiResult<Json<GroupDetail>> {
    Ok(Json(engine.create_group(f, &Executor::user(&user.name)).await?))
}

async fn show_group(State(engine): State<Engine>, _v: Viewer, Path(g): Path<String>) -> ApiResult<Json<GroupDetail>> {
    Ok(Json(engine.group_detail(&g).await?))
}

async fn export_group(State(engine): State<Engine>, _v: Viewer, Path(g): Path<String>) -> ApiResult<Json<GroupFile>> {
    Ok(Json(engine.export_group(&g).await?))
}

async fn delete_group(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(g): Path<String>,
) -> ApiResult<Json<Done>> {
    let g = engine.delete_group(&g, &Executor::user(&user.name)).await?;
    Ok(Json(Done::new(format!("group {} '{}' removed; its assets stay", g.id, g.name))))
}

async fn add_member(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(g): Path<String>,
    Json(m): Json<MemberRequest>,
) -> ApiResult<Json<Done>> {
    let changed = engine.change_group_member(&g, &m.asset, true, &Executor::user(&user.name)).await?;
    Ok(Json(Done::new(if changed { "asset added to the group" } else { "the asset was a member already" })))
}

async fn remove_member(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(g): Path<String>,
    Json(m): Json<MemberRequest>,
) -> ApiResult<Json<Done>> {
    let changed = engine.change_group_member(&g, &m.asset, false, &Executor::user(&user.name)).await?;
    Ok(Json(Done::new(if changed { "asset removed from the group" } else { "the asset was not a member" })))
}

async fn list_reports(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<Report>>> {
    Ok(Json(engine.list_reports().await?))
}

async fn create_report(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Json(r): Json<NewReport>,
) -> ApiResult<Json<Report>> {
    Ok(Json(engine.create_report(r, &Executor::user(&user.name)).await?))
}

async fn show_report(State(engine): State<Engine>, _v: Viewer, Path(r): Path<String>) -> ApiResult<Json<Report>> {
    Ok(Json(engine.resolve_report(&r).await?))
}

async fn delete_report(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(r): Path<String>,
) -> ApiResult<Json<Done>> {
    let r = engine.delete_report(&r, &Executor::user(&user.name)).await?;
    Ok(Json(Done::new(format!("report {} '{}' removed", r.id, r.report.name))))
}

/// Runs a report read-only; any viewer may (reports read only the report views).
async fn run_report(
    State(engine): State<Engine>,
    _v: Viewer,
    Path(r): Path<String>,
    Json(run): Json<RunReport>,
) -> ApiResult<Json<ReportRun>> {
    Ok(Json(engine.run_report(&r, &run.params).await?))
}
