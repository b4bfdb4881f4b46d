//! The store's error: not found, conflict (a uniqueness or state rule), or anything else.

/// What a store call failed with. `NotFound` and `Conflict` carry a message for users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A request the store will not run (a report that is not a plain SELECT over the
    /// report views, or that ran past its time limit); the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Other(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Other(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(format!("cannot migrate the database: {e}"))
    }
}

/// A unique violation becomes `Conflict(conflict())`, a foreign-key violation
/// `NotFound(missing())`; other errors stay `Other`.
pub(crate) fn db_error(
    e: sqlx::Error,
    conflict: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(conflict()),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound(missing()),
        _ => e.into(),
    }
}

/// A unique violation becomes `Conflict(message())`; other errors stay `Other`.
pub(crate) fn unique_as(message: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(message()),
        _ => e.into(),
    }
}

/// A foreign-key violation becomes `NotFound(message())`; other errors stay `Other`.
pub(crate) fn missing_as(message: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound(message()),
        _ => e.into(),
    }
}

/// A stored value the code cannot read back (e.g. an unknown state name).
pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("unreadable {what} '{value}' in the database"))
}
