//! Scanning credentials (admin only); secrets go in and never come back out.

use crate::auth::Admin;
use crate::error::ApiResult;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use drover_domain::credential::{Credential, NewCredential};
use drover_domain::ids::CredentialId;
use drover_engine::Engine;
use drover_engine::inventory::AssetRef;
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/credentials", get(list).post(create))
        .route("/credentials/{id}", delete(remove))
        .route("/credentials/{id}/mappings", post(map))
}

async fn list(State(engine): State<Engine>, _a: Admin) -> ApiResult<Json<Vec<Credential>>> {
    Ok(Json(engine.store().list_credentials().await?))
}

async fn create(
    State(engine): State<Engine>,
    _a: Admin,
    Json(new): Json<NewCredential>,
) -> ApiResult<Json<Credential>> {
    Ok(Json(engine.add_credential(new).await?))
}

async fn remove(State(engine): State<Engine>, _a: Admin, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    engine.store().delete_credential(CredentialId(id)).await?;
    Ok(Json(json!({ "ok": true })))
}

#[derive(Deserialize)]
struct Mapping {
    /// Absent: the credential applies to every asset.
    #[serde(default)]
    asset: Option<AssetRef>,
    #[serde(default)]
    priority: i64,
}

async fn map(
    State(engine): State<Engine>,
    _a: Admin,
    Path(id): Path<i64>,
    Json(m): Json<Mapping>,
) -> ApiResult<Json<Value>> {
    let asset = match &m.asset {
        Some(r) => Some(engine.resolve_asset(r).await?.id),
        None => None,
    };
    engine.map_credential(CredentialId(id), asset, m.priority).await?;
    Ok(Json(json!({ "ok": true })))
}
