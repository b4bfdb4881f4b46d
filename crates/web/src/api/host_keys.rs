//! Pinned host keys and trusted host certificate authorities (admin only).

use crate::auth::Admin;
use crate::error::ApiResult;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use drover_api::Done;
use drover_api::host_keys::{AddAuthority, HostKeys, ImportAnswer, ImportKnownHosts};
use drover_domain::executor::Executor;
use drover_domain::host_key::HostAuthority;
use drover_domain::ids::AuthorityId;
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/host-keys", get(list))
        .route("/host-keys/import", post(import))
        .route("/host-keys/authorities", post(add_authority))
        .route("/host-keys/authorities/{id}", delete(remove_authority))
}

async fn list(State(engine): State<Engine>, _a: Admin) -> ApiResult<Json<HostKeys>> {
    let (keys, authorities) = engine.list_host_keys().await?;
    Ok(Json(HostKeys { keys, authorities }))
}

async fn import(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(body): Json<ImportKnownHosts>,
) -> ApiResult<Json<ImportAnswer>> {
    Ok(Json(engine.import_known_hosts(&Executor::user(&admin.name), &body.known_hosts).await?))
}

async fn add_authority(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(body): Json<AddAuthority>,
) -> ApiResult<Json<HostAuthority>> {
    let ca = engine.add_host_authority(&Executor::user(&admin.name), &body.key, &body.hosts).await?;
    tracing::warn!(by = %admin.name, ca = %ca.fingerprint, hosts = %ca.hosts, "host certificate authority trusted");
    Ok(Json(ca))
}

async fn remove_authority(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> ApiResult<Json<Done>> {
    engine.remove_host_authority(&Executor::user(&admin.name), AuthorityId(id)).await?;
    tracing::warn!(by = %admin.name, id, "host certificate authority removed");
    Ok(Json(Done::new(format!("certificate authority {id} removed"))))
}
