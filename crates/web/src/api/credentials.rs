//! Scanning credentials (admin only); secrets go in and never come back out.

use crate::auth::Admin;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get, post};
use drover_api::Done;
use drover_api::credentials::Mapping;
use drover_domain::credential::{Credential, CredentialMapping, NewCredential};
use drover_domain::executor::Executor;
use drover_domain::ids::{CredentialId, MappingId};
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/credentials", get(list).post(create))
        .route("/credentials/{id}", delete(remove))
        .route("/credentials/{id}/mappings", post(map).get(mappings))
        .route("/credentials/{id}/mappings/{mapping}", delete(unmap))
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

/// Maps the credential to the scope the body names: an asset, an IP range, a domain, or
/// every asset (`global: true`).
async fn map(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    Json(m): Json<Mapping>,
) -> ApiResult<Json<CredentialMapping>> {
    let mapping = engine.map_credential(&Executor::user(&admin.name), CredentialId(id), &m).await?;
    tracing::info!(by = %admin.name, credential = id, scope = %mapping.scope, "credential mapped");
    Ok(Json(mapping))
}

async fn mappings(
    State(engine): State<Engine>,
    _a: Admin,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<CredentialMapping>>> {
    Ok(Json(engine.credential_mappings(CredentialId(id)).await?))
}

async fn unmap(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path((id, mapping)): Path<(i64, i64)>,
) -> ApiResult<Json<Done>> {
    engine.unmap_credential(&Executor::user(&admin.name), CredentialId(id), MappingId(mapping)).await?;
    tracing::info!(by = %admin.name, credential = id, mapping, "credential mapping removed");
    Ok(Json(Done::new(format!("mapping {mapping} of credential {id} removed"))))
}
