//! Console sessions: only the hash of the cookie's token is stored; a disabled user's
//! sessions do not count (and are ended when the user is disabled or deleted).

use crate::users::user_from_row;
use crate::{Result, Store};
use drover_domain::ids::UserId;
use drover_domain::user::User;

impl Store {
    /// Stores a session's token hash, valid until `expires_ms` (exclusive); forgets the
    /// sessions that expired before `now_ms`.
    pub async fn create_session(&self, user: UserId, token_hash: &str, now_ms: i64, expires_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE expires_ms <= $1").bind(now_ms).execute(self.writer()).await?;
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.0)
        .bind(now_ms)
        .bind(expires_ms)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The user of an unexpired session, unless the user is disabled.
    pub async fn user_by_session(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role FROM console_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_ms > $2 AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends every console session of a user (after a password change, or when an admin
    /// revokes their sessions).
    pub async fn delete_sessions_of(&self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE user_id = $1").bind(user.0).execute(self.writer()).await?;
        Ok(())
    }
}
