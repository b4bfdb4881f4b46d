//! Share locations: IP ranges whose targets fetch package files from a nearer share
//! (admin only).

use crate::auth::Admin;
use crate::error::ApiResult;
use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use drover_api::Done;
use drover_api::share_locations::{AddShareLocation, ShareLocations};
use drover_domain::executor::Executor;
use drover_domain::ids::ShareLocationId;
use drover_domain::share_location::ShareLocation;
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new().route("/share-locations", get(list).post(add)).route("/share-locations/{id}", delete(remove))
}

async fn list(State(engine): State<Engine>, _a: Admin) -> ApiResult<Json<ShareLocations>> {
    Ok(Json(ShareLocations { locations: engine.list_share_locations().await? }))
}

async fn add(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(body): Json<AddShareLocation>,
) -> ApiResult<Json<ShareLocation>> {
    let l = engine
        .add_share_location(&Executor::user(&admin.name), &body.range, &body.url, body.fingerprint.as_deref())
        .await?;
    tracing::info!(by = %admin.name, range = %l.range, url = %l.url, "share location added");
    Ok(Json(l))
}

async fn remove(State(engine): State<Engine>, Admin(admin): Admin, Path(id): Path<i64>) -> ApiResult<Json<Done>> {
    engine.remove_share_location(&Executor::user(&admin.name), ShareLocationId(id)).await?;
    tracing::info!(by = %admin.name, id, "share location removed");
    Ok(Json(Done::new(format!("share location {id} removed"))))
}
