//! Users of the console and API, and their API tokens (only hashes are stored).

use crate::error::{corrupt, db_error, unique_as};
use crate::{Result, Store};
use drover_domain::ids::UserId;
use drover_domain::user::{Role, User};
use sqlx::Row;
use sqlx::any::AnyRow;

/// How many hex digits of a token's hash name it in lists (enough to tell tokens apart,
/// far too few to find the token).
pub const TOKEN_ID_LEN: usize = 16;

/// What logging in needs of a user.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginRecord {
    pub user: User,
    pub password_hash: String,
    pub disabled: bool,
}

/// A user as an admin lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub user: User,
    pub disabled: bool,
    pub created_ms: i64,
}

/// An API token as its owner lists it: never the token nor its full hash.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    /// The first [`TOKEN_ID_LEN`] hex digits of the token's hash.
    pub id: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

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
        .fetch_one(self.writer())
        .await
        .map_err(unique_as(|| format!("a user named '{name}' already exists")))?;
        Ok(User { id: UserId(row.try_get("id")?), name: name.to_string(), role })
    }

    /// Replaces a user's password hash and ends all their API tokens.
    pub async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        let mut tx = self.begin().await?;
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
        sqlx::query("DELETE FROM api_tokens WHERE expires_ms <= $1").bind(now_ms).execute(self.writer()).await?;
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user.0)
            .bind(now_ms)
            .bind(expires_ms)
            .execute(self.writer())
            .await
            .map_err(|e| db_error(e, || "this API token already exists".into(), || format!("user {user} not found")))?;
        Ok(())
    }

    /// The user an unexpired token belongs to, unless the user is disabled.
    pub async fn user_by_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.expires_ms > $2 AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Forgets a token (logging out); unknown tokens are fine.
    pub async fn delete_token(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1").bind(token_hash).execute(self.writer()).await?;
        Ok(())
    }

    /// The user, their password hash and whether they are disabled, for logging in.
    pub async fn user_for_login(&self, name: &str) -> Result<Option<LoginRecord>> {
        let row = sqlx::query("SELECT id, name, role, password_hash, disabled FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(LoginRecord {
            user: user_from_row(&row)?,
            password_hash: row.try_get("password_hash")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
        }))
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query("SELECT id, name, role, disabled, created_ms FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(UserRow {
                    user: user_from_row(row)?,
                    disabled: row.try_get::<i64, _>("disabled")? != 0,
                    created_ms: row.try_get("created_ms")?,
                })
            })
            .collect()
    }

    /// Disables (and ends every token and console session of) or enables a user.
    pub async fn set_user_disabled(&self, user: UserId, disabled: bool) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound(format!("no user with id {user}")));
        }
        if disabled {
            sqlx::query("DELETE FROM api_tokens WHERE user_id = $1").bind(user.0).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM console_sessions WHERE user_id = $1").bind(user.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user, their tokens and their console sessions.
    pub async fn delete_user(&self, user: UserId) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM api_tokens WHERE user_id = $1").bind(user.0).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM console_sessions WHERE user_id = $1").bind(user.0).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(user.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound(format!("no user with id {user}")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends every token of a user; returns how many there were.
    pub async fn delete_tokens_of(&self, user: UserId) -> Result<u64> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1").bind(user.0).execute(self.writer()).await?;
        Ok(done.rows_affected())
    }

    /// A user's tokens that have not expired at `now_ms`, newest first.
    pub async fn tokens_of(&self, user: UserId, now_ms: i64) -> Result<Vec<TokenRow>> {
        let rows = sqlx::query(
            "SELECT token_hash, created_ms, expires_ms FROM api_tokens WHERE user_id = $1 AND expires_ms > $2 \
             ORDER BY created_ms DESC, token_hash",
        )
        .bind(user.0)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let hash: String = row.try_get("token_hash")?;
                Ok(TokenRow {
                    id: hash.chars().take(TOKEN_ID_LEN).collect(),
                    created_ms: row.try_get("created_ms")?,
                    expires_ms: row.try_get("expires_ms")?,
                })
            })
            .collect()
    }

    /// Ends the user's token whose hash starts with `id` (a [`TokenRow::id`]); false when
    /// the user has none such.
    pub async fn delete_token_of(&self, user: UserId, id: &str) -> Result<bool> {
        if id.len() != TOKEN_ID_LEN || !id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
            return Ok(false);
        }
        let done = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND token_hash LIKE $2")
            .bind(user.0)
            .bind(format!("{id}%"))
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
