//! The store's error: not found, conflict (a uniqueness or state rule), the database
//! unavailable for now (worth retrying), or anything else.

/// What a store call failed with. `NotFound` and `Conflict` carry a message for users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be used for now (connection lost or refused, PostgreSQL
    /// restarting, SQLite busy or its disk full): the same call may work later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A request the store will not run (a report that is not a plain SELECT over the
    /// report views, or that ran past its time limit); the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) { StoreError::Unavailable(e.to_string()) } else { StoreError::Other(e.to_string()) }
    }
}

/// Errors that say the database is away for now rather than that the call is wrong:
/// I/O and pool errors, PostgreSQL's connection exceptions (class 08), shutdowns and
/// restarts (57P01-57P03), insufficient resources (class 53: disk full, out of
/// memory), and SQLite's busy, locked and full (result codes 5, 6 and 13, extended too).
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            if code.starts_with("08") || code.starts_with("53") || matches!(code.as_str(), "57P01" | "57P02" | "57P03")
            {
                return true;
            }
            // SQLite: the primary result code is the low byte of an extended one
            code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 13))
        }
        _ => false,
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
