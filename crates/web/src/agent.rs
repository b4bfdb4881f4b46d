//! What deployers call: the report callback and the package share, each with its own
//! per-target token.

use crate::auth::bearer;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::{get, post};
use drover_api::Done;
use drover_engine::{Engine, EngineError};
use drover_proto::Report;

pub(crate) fn routes() -> Router<Engine> {
    Router::new().route("/agent/v1/report", post(report)).route("/share/v1/files/{sha256}", get(share_file))
}

fn target_token(parts: &axum::http::request::Parts) -> Result<String, ApiError> {
    bearer(parts).map(str::to_string).ok_or_else(|| EngineError::Forbidden("a target token is required".into()).into())
}

/// The largest report body: a step's output tail (8 KiB at most, escaped in JSON) and
/// its texts.
const MAX_REPORT_BODY: usize = 64 * 1024;

/// The token is checked before the body is read: without a valid one, nothing of the
/// body is taken in.
async fn report(State(engine): State<Engine>, req: Request) -> ApiResult<Json<Done>> {
    let (parts, body) = req.into_parts();
    let token = target_token(&parts)?;
    engine.report_target(&token).await?;
    let bytes = axum::body::to_bytes(body, MAX_REPORT_BODY)
        .await
        .map_err(|_| EngineError::Invalid(format!("a report body has at most {} KiB", MAX_REPORT_BODY / 1024)))?;
    let report: Report =
        serde_json::from_slice(&bytes).map_err(|e| EngineError::Invalid(format!("report is not valid JSON: {e}")))?;
    engine.report_from_deployer(&token, report).await?;
    Ok(Json(Done::new("report recorded")))
}

async fn share_file(State(engine): State<Engine>, Path(sha256): Path<String>, req: Request) -> ApiResult<Response> {
    let (parts, _) = req.into_parts();
    engine.authorize_share_read(&target_token(&parts)?, &sha256).await?;
    let path = engine.share_file_path(&sha256).await?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!("share file {} is missing: {e}", path.display());
        EngineError::NotFound(format!("share file {sha256} is missing on the server"))
    })?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    // large reads: each one is a trip to tokio's blocking pool
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 1024 * 1024));
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, len)
        .body(body)
        .map_err(|e| EngineError::Internal(e.to_string()).into())
}
