//! Assets: add, list, show, remove; an admin pins the host key (trust-host-key,
//! accept-host-key).

use crate::auth::{Admin, Operator, Viewer};
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use drover_api::Done;
use drover_api::assets::{AddAsset, AssetQuery, AssetRef};
use drover_api::host_keys::{TrustAnswer, TrustKey};
use drover_domain::asset::Asset;
use drover_domain::executor::Executor;
use drover_domain::user::Role;
use drover_engine::{Engine, EngineError};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/assets", get(list).post(create))
        .route("/assets/{asset}", get(show).delete(remove))
        .route("/assets/{asset}/accept-host-key", post(accept_key))
        .route("/assets/{asset}/trust-host-key", post(trust_key))
}

/// Without parameters, every asset (a JSON array); with any search parameter, one page
/// of the search as `{total, assets}`.
async fn list(State(engine): State<Engine>, _v: Viewer, Query(q): Query<AssetQuery>) -> ApiResult<Response> {
    if q.is_empty() {
        return Ok(Json(engine.list_assets().await?).into_response());
    }
    Ok(Json(engine.search_assets(&q).await?).into_response())
}

/// An operator adds assets; mapping a credential to one (`credential`) is an admin's
/// decision, like every mapping.
async fn create(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Json(c): Json<AddAsset>,
) -> ApiResult<Json<Asset>> {
    if c.credential.is_some() && user.role < Role::Admin {
        return Err(EngineError::Forbidden(format!(
            "user '{}' has role {}: mapping a credential to an asset needs role admin; add the asset without --credential and ask an admin to map one",
            user.name,
            user.role.as_str()
        ))
        .into());
    }
    Ok(Json(engine.add_asset(c.asset, c.credential.as_deref()).await?))
}

async fn show(State(engine): State<Engine>, _v: Viewer, Path(asset): Path<String>) -> ApiResult<Json<Asset>> {
    Ok(Json(engine.resolve_asset(&AssetRef::Name(asset)).await?))
}

async fn remove(State(engine): State<Engine>, _o: Operator, Path(asset): Path<String>) -> ApiResult<Json<Done>> {
    let a = engine.delete_asset(&AssetRef::Name(asset)).await?;
    Ok(Json(Done::new(format!("asset {} '{}' removed", a.id, a.name))))
}

/// Shows the key the host presents now; with `fingerprint` (matching it), pins it.
async fn trust_key(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(asset): Path<String>,
    Json(t): Json<TrustKey>,
) -> ApiResult<Json<TrustAnswer>> {
    let pin = t.fingerprint.is_some();
    Ok(Json(
        engine
            .trust_host_key(&AssetRef::Name(asset), t.fingerprint.as_deref(), pin, &Executor::user(&admin.name))
            .await?,
    ))
}

/// Replaces the pinned key with the one the host presents now (after a reinstall); with
/// `fingerprint`, only if the presented key has it.
async fn accept_key(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(asset): Path<String>,
    Json(t): Json<TrustKey>,
) -> ApiResult<Json<TrustAnswer>> {
    Ok(Json(
        engine
            .trust_host_key(&AssetRef::Name(asset), t.fingerprint.as_deref(), true, &Executor::user(&admin.name))
            .await?,
    ))
}
