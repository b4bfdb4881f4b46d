//! Assets: add, list, show, remove, accept a changed host key.

use crate::auth::{Admin, Operator, Viewer};
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use drover_api::Done;
use drover_api::assets::{AddAsset, AssetRef};
use drover_domain::asset::Asset;
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/assets", get(list).post(create))
        .route("/assets/{asset}", get(show).delete(remove))
        .route("/assets/{asset}/accept-host-key", post(accept_key))
}

async fn list(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<Asset>>> {
    Ok(Json(engine.list_assets().await?))
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
    engine.accept_new_host_key(a.id).await?;
    tracing::warn!(by = %admin.name, asset = %a.name, old = ?a.host_key_fingerprint, "pinned host key cleared");
    Ok(Json(Done::new(format!("the next connection to '{}' pins the key it presents", a.name))))
}
