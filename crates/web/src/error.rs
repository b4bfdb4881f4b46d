//! The one place engine errors become HTTP responses: `{"error": "...", "code": "..."}`.
//! An internal error's detail (paths, database messages) goes to the server log only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use drover_api::ErrorBody;
use drover_engine::EngineError;

#[derive(Debug)]
pub struct ApiError(pub EngineError);

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self.0 {
            EngineError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            EngineError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            EngineError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            EngineError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            EngineError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            EngineError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            EngineError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            EngineError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let error = match &self.0 {
            EngineError::Internal(m) => {
                let id = drover_engine::secrets::new_token()[..8].to_string();
                tracing::error!(error_id = %id, "internal error: {m}");
                format!("internal error {id}: the server's log has the details")
            }
            e => e.to_string(),
        };
        (status, Json(ErrorBody { error, code: code.to_string() })).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_do_not_show_their_detail() {
        let resp = ApiError(EngineError::Internal("cannot read /root/secret/file".into())).into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("/root"), "{text}");
        assert!(text.contains("the server's log has the details"), "{text}");
    }
}
