//! The engine's error: what went wrong, in words a user can act on.

use drover_domain::package::PackageError;
use drover_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// Missing or wrong login / token.
    #[error("{0}")]
    Unauthorized(String),
    /// Logged in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed logins: refused for a while.
    #[error("{0}")]
    Throttled(String),
    /// The database cannot be used for now (restarting, busy, disk full): try again.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => EngineError::NotFound(m),
            StoreError::Conflict(m) => EngineError::Conflict(m),
            StoreError::Unavailable(m) => {
                // the database's own words (addresses, paths) go to the log only
                tracing::warn!("database unavailable: {m}");
                EngineError::Unavailable(
                    "the server cannot use its database for now (restarting, busy or full): try again in a moment"
                        .into(),
                )
            }
            StoreError::Refused(m) => EngineError::Invalid(m),
            StoreError::Other(m) => EngineError::Internal(m),
        }
    }
}

impl From<PackageError> for EngineError {
    fn from(e: PackageError) -> Self {
        EngineError::Invalid(e.to_string())
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> Self {
        EngineError::Internal(e.to_string())
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
