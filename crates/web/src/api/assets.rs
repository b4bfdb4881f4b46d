//! Assets: add, list, show, remove, accept a changed host key.

use crate::auth::{Admin, Operator, Viewer};
use crate::error::ApiResult;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use drover_api::Done;
use drover_api::assets::{AddAsset, AssetQuery, AssetRef};
use drover_domain::asset::Asset;
use drover_domain::executor::Executor;
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/assets", get(list).post(create))
        .route("/assets/{asset}", get(show).delete(remove))
        .route("/assets/{asset}/accept-host-key", post(accept_key))
}

/// Without parameters, every asset (a JSON array); with any search parameter, one page
/// of the search as `{total, assets}`.
async fn list(State(engine): State<Engine>, _v: Viewer, Query(q): Query<AssetQuery>) -> ApiResult<Response> {
    if q.is_empty() {
        return Ok(Json(engine.list_assets().await?).into_response());
    }
    Ok(Json(engine.search_assets(&q).await?).into_response())
}

async fn create(State(engine): State<Engine>, _o: Operator, Json(c): Json<AddAsset>) -> ApiResult<Json<Asset>> {
    Ok(Json(engine.add_asset(c.asset, c.credential.as_deref()).await?))
}

async fn show(State(engine): State<Engine>, _v: Viewer, Path(asset): Path<String>) -> ApiResult<Json<Asset>> {
    Ok(Json(engine.resolve_asset(&AssetRef::Name(asset)).await?))
}

async fn remove(State(engine): State<Engine>, _o: Operator, Path(asset): Path<String>) -> ApiResult<Json<Done>> {
    let a = engine.delete_asset(&AssetRef::Name(asset)).await?;
    Ok(Json(Done::new(format!("asset {} '{}' removed", a.id, a.name))))
}

async fn accept_key(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(asset): Path<String>,
) -> ApiResult<Json<Done>> {
    let a = engine.resolve_asset(&AssetRef::Name(asset)).await?;
    engine.accept_new_host_key(&Executor::user(&admin.name), a.id).await?;
    tracing::warn!(by = %admin.name, asset = %a.name, old = ?a.host_key_fingerprint, "pinned host key cleared");
    Ok(Json(Done::new(format!("the next connection to '{}' pins the key it presents", a.name))))
}
