//! Packages: import a bundle, list, show, export, remove.

use crate::auth::{Operator, Viewer};
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use drover_api::Done;
use drover_api::packages::PackageRef;
use drover_domain::executor::Executor;
use drover_domain::package::Package;
use drover_engine::{Engine, EngineError};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/packages", get(list).post(import).layer(DefaultBodyLimit::disable()))
        .route("/packages/{package}", get(show).delete(remove))
        .route("/packages/{package}/bundle", get(export))
}

async fn list(State(engine): State<Engine>, _v: Viewer) -> ApiResult<Json<Vec<Package>>> {
    Ok(Json(engine.list_packages().await?))
}

/// The body is a bundle (`.tar.gz` with package.toml and files/), streamed to a file
/// in the data directory (bounded by the engine's bundle limits), never held in memory.
async fn import(State(engine): State<Engine>, Operator(user): Operator, body: Body) -> ApiResult<Json<Package>> {
    use http_body_util::BodyExt;
    let mut upload = engine.begin_upload().await?;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| EngineError::Invalid(format!("the upload broke off: {e}")))?;
        if let Ok(chunk) = frame.into_data() {
            upload.write(&chunk).await?;
        }
    }
    Ok(Json(engine.import_upload(&Executor::user(&user.name), upload).await?))
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
