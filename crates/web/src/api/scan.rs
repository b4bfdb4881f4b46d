//! Inventory scans: scan targets (admin: add, edit, enable, disable, remove), running a scan now (operator), and what scans
//! learnt per asset (software, its history, interfaces).

use crate::auth::{Admin, Operator, Viewer};
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use drover_api::Done;
use drover_api::assets::AssetRef;
use drover_api::scan::{ScanAddress, ScanReport, ScanTargetChange, SoftwareQuery};
use drover_domain::executor::Executor;
use drover_domain::inventory::{Interface, Software, SoftwareChange};
use drover_domain::scan::{NewScanTarget, ScanTarget};
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/scan-targets", get(list).post(add))
        .route("/scan-targets/{target}", get(show).patch(edit).delete(remove))
        .route("/scan-targets/{target}/enable", post(enable))
        .route("/scan-targets/{target}/disable", post(disable))
        .route("/scan-targets/{target}/run", post(run))
        .route("/scans", post(scan_address))
        .route("/assets/{asset}/software", get(software))
        .route("/assets/{asset}/software-history", get(history))
        .route("/assets/{asset}/interfaces", get(interfaces))
}

async fn list(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<ScanTarget>>> {
    Ok(Json(engine.list_scan_targets().await?))
}

async fn show(State(engine): State<Engine>, _v: Viewer, Path(t): Path<String>) -> ApiResult<Json<ScanTarget>> {
    Ok(Json(engine.resolve_scan_target(&t).await?))
}

async fn add(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(t): Json<NewScanTarget>,
) -> ApiResult<Json<ScanTarget>> {
    Ok(Json(engine.add_scan_target(&Executor::user(&admin.name), t).await?))
}

async fn edit(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(t): Path<String>,
    Json(change): Json<ScanTargetChange>,
) -> ApiResult<Json<ScanTarget>> {
    Ok(Json(engine.edit_scan_target(&Executor::user(&admin.name), &t, change).await?))
}

async fn remove(State(engine): State<Engine>, Admin(admin): Admin, Path(t): Path<String>) -> ApiResult<Json<Done>> {
    let t = engine.remove_scan_target(&Executor::user(&admin.name), &t).await?;
    Ok(Json(Done::new(format!("scan target {} '{}' removed", t.id, t.target.name))))
}

async fn enable(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(t): Path<String>,
) -> ApiResult<Json<ScanTarget>> {
    Ok(Json(engine.set_scan_target_enabled(&Executor::user(&admin.name), &t, true).await?))
}

async fn disable(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(t): Path<String>,
) -> ApiResult<Json<ScanTarget>> {
    Ok(Json(engine.set_scan_target_enabled(&Executor::user(&admin.name), &t, false).await?))
}

/// Scans the target now and answers when every host has been scanned.
async fn run(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(t): Path<String>,
) -> ApiResult<Json<ScanReport>> {
    Ok(Json(engine.run_scan_target(&Executor::user(&user.name), &t).await?))
}

async fn scan_address(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Json(a): Json<ScanAddress>,
) -> ApiResult<Json<ScanReport>> {
    Ok(Json(engine.scan_address(&Executor::user(&user.name), &a.address, a.ssh_port).await?))
}

async fn software(
    State(engine): State<Engine>,
    _v: Viewer,
    Path(asset): Path<String>,
    Query(q): Query<SoftwareQuery>,
) -> ApiResult<Json<Vec<Software>>> {
    Ok(Json(engine.asset_software(&AssetRef::Name(asset), q.name.as_deref()).await?))
}

async fn history(
    State(engine): State<Engine>,
    _v: Viewer,
    Path(asset): Path<String>,
) -> ApiResult<Json<Vec<SoftwareChange>>> {
    Ok(Json(engine.software_history(&AssetRef::Name(asset)).await?))
}

async fn interfaces(
    State(engine): State<Engine>,
    _v: Viewer,
    Path(asset): Path<String>,
) -> ApiResult<Json<Vec<Interface>>> {
    Ok(Json(engine.asset_interfaces(&AssetRef::Name(asset)).await?))
}
