//! Scanning credentials (admin only); secrets go in and never come back out.

use crate::auth::Admin;
use crate::error::ApiResult;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use drover_api::Done;
use drover_api::credentials::Mapping;
use drover_domain::credential::{Credential, NewCredential};
use drover_domain::executor::Executor;
use drover_domain::ids::CredentialId;
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/credentials", get(list).post(create))
        .route("/credentials/{id}", delete(remove))
        .route("/credentials/{id}/mappings", post(map))
}

async fn list(State(engine): State<Engine>, _a: Admin) -> ApiResult<Json<Vec<Credential>>> {
    Ok(Json(engine.list_credentials().await?))
}

async fn create(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(new): Json<NewCredential>,
) -> ApiResult<Json<Credential>> {
    Ok(Json(engine.add_credential(&Executor::user(&admin.name), new).await?))
}

async fn remove(State(engine): State<Engine>, Admin(admin): Admin, Path(id): Path<i64>) -> ApiResult<Json<Done>> {
    engine.delete_credential(&Executor::user(&admin.name), CredentialId(id)).await?;
    Ok(Json(Done::new(format!("credential {id} removed"))))
}

/// Maps the credential to one asset, or to every asset when the body names none.
async fn map(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    Json(m): Json<Mapping>,
) -> ApiResult<Json<Done>> {
    let asset = match &m.asset {
        Some(r) => Some(engine.resolve_asset(r).await?),
        None => None,
    };
    engine
        .map_credential(&Executor::user(&admin.name), CredentialId(id), asset.as_ref().map(|a| a.id), m.priority)
        .await?;
    Ok(Json(Done::new(match asset {
        Some(a) => format!("credential {id} mapped to asset '{}'", a.name),
        None => format!("credential {id} mapped to every asset"),
    })))
}
