//! Console sessions (only the hash of the cookie's token is stored), failed logins for
//! throttling, and the user list of the console's settings.

use crate::users::user_from_row;
use crate::{Result, Store};
use drover_domain::ids::UserId;
use drover_domain::user::User;
use sqlx::Row;

impl Store {
    /// Stores a session's token hash, valid until `expires_ms` (exclusive); forgets the
    /// sessions that expired before `now_ms`.
    pub async fn create_session(&self, user: UserId, token_hash: &str, now_ms: i64, expires_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE expires_ms <= $1").bind(now_ms).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.0)
        .bind(now_ms)
        .bind(expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user of an unexpired session.
    pub async fn user_by_session(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role FROM console_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_ms > $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    /// Ends every console session of a user (after a password change).
    pub async fn delete_sessions_of(&self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE user_id = $1").bind(user.0).execute(&self.pool).await?;
        Ok(())
    }

    /// Records a failed login; forgets failures older than `forget_before_ms`.
    pub async fn record_login_failure(
        &self,
        name: &str,
        address: &str,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE at_ms < $1").bind(forget_before_ms).execute(&self.pool).await?;
        sqlx::query("INSERT INTO login_failures (name, address, at_ms) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(address)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Failed logins since `since_ms` for this user name and for this address, and the
    /// time of the oldest failure counted (per name, per address).
    pub async fn login_failures(&self, name: &str, address: &str, since_ms: i64) -> Result<LoginFailures> {
        let by_name = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(at_ms) AS first FROM login_failures WHERE name = $1 AND at_ms >= $2",
        )
        .bind(name)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        let by_address = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(at_ms) AS first FROM login_failures WHERE address = $1 AND at_ms >= $2",
        )
        .bind(address)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(LoginFailures {
            by_name: by_name.try_get("n")?,
            first_by_name_ms: by_name.try_get("first")?,
            by_address: by_address.try_get("n")?,
            first_by_address_ms: by_address.try_get("first")?,
        })
    }

    /// Forgets the failures of a user name (after a successful login).
    pub async fn clear_login_failures(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE name = $1").bind(name).execute(&self.pool).await?;
        Ok(())
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT id, name, role FROM users ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }
}

/// Counts of recent failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub by_name: i64,
    pub first_by_name_ms: Option<i64>,
    pub by_address: i64,
    pub first_by_address_ms: Option<i64>,
}
