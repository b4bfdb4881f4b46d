//! Users of the console and API, and their API tokens (only hashes are stored).

use crate::error::{corrupt, db_error, unique_as};
use crate::{Result, Store};
use drover_domain::ids::UserId;
use drover_domain::user::{Role, User};
use sqlx::Row;
use sqlx::any::AnyRow;

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId(row.try_get("id")?),
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
    })
}

impl Store {
    /// Adds a user; the name is unique.
    pub async fn create_user(&self, name: &str, password_hash: &str, role: Role, now_ms: i64) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (name, password_hash, role, created_ms) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(unique_as(|| format!("a user named '{name}' already exists")))?;
        Ok(User { id: UserId(row.try_get("id")?), name: name.to_string(), role })
    }

    /// Replaces a user's password hash and ends all their API tokens.
    pub async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound(format!("no user with id {user}")));
        }
        sqlx::query("DELETE FROM api_tokens WHERE user_id = $1").bind(user.0).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user and their password hash, for logging in.
    pub async fn user_with_hash(&self, name: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query("SELECT id, name, role, password_hash FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
    }

    /// Stores an API token's hash, valid until `expires_ms` (exclusive). Also forgets
    /// tokens that expired before `now_ms`.
    pub async fn create_token(&self, user: UserId, token_hash: &str, now_ms: i64, expires_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM api_tokens WHERE expires_ms <= $1").bind(now_ms).execute(&self.pool).await?;
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user.0)
            .bind(now_ms)
            .bind(expires_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error(e, || "this API token already exists".into(), || format!("user {user} not found")))?;
        Ok(())
    }

    /// The user an unexpired token belongs to.
    pub async fn user_by_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.expires_ms > $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Forgets a token (logging out); unknown tokens are fine.
    pub async fn delete_token(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }
}
