//! Packages: import a bundle, list, show, export, remove.

use crate::auth::{Operator, Viewer};
use crate::error::ApiResult;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use drover_api::Done;
use drover_api::packages::PackageRef;
use drover_domain::executor::Executor;
use drover_domain::package::Package;
use drover_engine::Engine;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/packages", get(list).post(import))
        .route("/packages/{package}", get(show).delete(remove))
        .route("/packages/{package}/bundle", get(export))
}

async fn list(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<Package>>> {
    Ok(Json(engine.list_packages().await?))
}

/// The body is a bundle (`.tar.gz` with package.toml and files/).
async fn import(State(engine): State<Engine>, Operator(user): Operator, body: Bytes) -> ApiResult<Json<Package>> {
    Ok(Json(engine.import_bundle(&Executor::user(&user.name), &body).await?))
}

async fn show(State(engine): State<Engine>, _v: Viewer, Path(p): Path<String>) -> ApiResult<Json<Package>> {
    Ok(Json(engine.resolve_package(&PackageRef::parse(&p), None).await?))
}

async fn export(State(engine): State<Engine>, _v: Viewer, Path(p): Path<String>) -> ApiResult<impl IntoResponse> {
    let pkg = engine.resolve_package(&PackageRef::parse(&p), None).await?;
    let (pkg, bytes) = engine.export_bundle(pkg.id).await?;
    let file = format!("{}-{}.tar.gz", pkg.def.name, pkg.def.version).replace(['"', '/', '\\'], "_");
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        bytes,
    ))
}

async fn remove(
    State(engine): State<Engine>,
    Operator(user): Operator,
    Path(p): Path<String>,
) -> ApiResult<Json<Done>> {
    let pkg = engine.delete_package(&Executor::user(&user.name), &PackageRef::parse(&p)).await?;
    Ok(Json(Done::new(format!("package {} '{}' version {} removed", pkg.id, pkg.def.name, pkg.def.version))))
}
