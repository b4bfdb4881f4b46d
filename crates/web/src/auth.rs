//! Who is calling: handlers take `Viewer`, `Operator` or `Admin`, so a route cannot
//! forget to check the role — the extractor refuses a bearer token whose user's role is
//! below it.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use drover_domain::user::{Role, User};
use drover_engine::{Engine, EngineError, now_ms};

/// The bearer token of a request, if any.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}

async fn user_with(parts: &Parts, engine: &Engine, role: Role) -> Result<User, ApiError> {
    let token = bearer(parts).ok_or_else(|| {
        EngineError::Unauthorized("log in first: send `Authorization: Bearer <token>` (drover login)".into())
    })?;
    let user = engine.authenticate(token, now_ms()).await?;
    if user.role < role {
        return Err(EngineError::Forbidden(format!(
            "user '{}' has role {}; this needs role {} or higher",
            user.name,
            user.role.as_str(),
            role.as_str()
        ))
        .into());
    }
    Ok(user)
}

macro_rules! capability {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        pub(crate) struct $name(pub User);

        impl FromRequestParts<Engine> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, ApiError> {
                user_with(parts, engine, $role).await.map($name)
            }
        }
    };
}

capability!(Viewer, Role::Viewer, "Any logged-in user: may read.");
capability!(Operator, Role::Operator, "May deploy and manage assets and packages.");
capability!(Admin, Role::Admin, "May manage credentials, users and host keys.");
