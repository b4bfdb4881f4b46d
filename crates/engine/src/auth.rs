//! Users, passwords (Argon2id) and API tokens.

use crate::Engine;
use crate::error::{EngineError, Result};
use crate::secrets::{new_token, token_hash};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::user::{Role, User};

/// How long an API token from `login` stays valid.
pub const TOKEN_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

pub fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

impl Engine {
    /// Creates the first admin when there is no user yet. Returns the password it set
    /// (the given one, or a new random one) so the caller can show it once.
    pub async fn ensure_first_admin(&self, password: Option<String>, now_ms: i64) -> Result<Option<String>> {
        if self.store().count_users().await? > 0 {
            return Ok(None);
        }
        let password = password.unwrap_or_else(|| new_token()[..20].to_string());
        self.store().create_user("admin", &hash_password(&password)?, Role::Admin, now_ms).await?;
        Ok(Some(password))
    }

    /// Adds a user (`by`: the admin who adds it, for the audit log).
    pub async fn create_user(
        &self,
        by: &Executor,
        name: &str,
        password: &str,
        role: Role,
        now_ms: i64,
    ) -> Result<User> {
        if name.trim().is_empty() || password.len() < 8 {
            return Err(EngineError::Invalid("a user needs a name and a password of at least 8 characters".into()));
        }
        let user = self.store().create_user(name.trim(), &hash_password(password)?, role, now_ms).await?;
        self.audit_done(by, AuditAction::UserAdd, &format!("user '{}' with role {}", user.name, user.role.as_str()))
            .await;
        Ok(user)
    }

    /// The user, when the name and password are right.
    pub(crate) async fn check_password(&self, name: &str, password: &str) -> Result<Option<User>> {
        Ok(self.store().user_with_hash(name).await?.filter(|(_, hash)| verify_password(password, hash)).map(|(u, _)| u))
    }

    /// Checks a name and password and returns a new API token.
    pub async fn login(&self, name: &str, password: &str, now_ms: i64) -> Result<(User, String)> {
        let user = self
            .check_password(name, password)
            .await?
            .ok_or_else(|| EngineError::Unauthorized("wrong user name or password".into()))?;
        let token = new_token();
        self.store().create_token(user.id, &token_hash(&token), now_ms, now_ms + TOKEN_LIFETIME_MS).await?;
        Ok((user, token))
    }

    /// The user a token belongs to.
    pub async fn authenticate(&self, token: &str, now_ms: i64) -> Result<User> {
        self.store().user_by_token(&token_hash(token), now_ms).await?.ok_or_else(|| {
            EngineError::Unauthorized("the token is unknown or expired: log in again (drover login)".into())
        })
    }

    /// Changes a user's own password; every token of theirs ends (log in again).
    pub async fn change_password(&self, user: &User, current: &str, new: &str) -> Result<()> {
        let (_, hash) = self
            .store()
            .user_with_hash(&user.name)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no user '{}'", user.name)))?;
        if !verify_password(current, &hash) {
            return Err(EngineError::Forbidden("the current password is wrong".into()));
        }
        if new.len() < 8 {
            return Err(EngineError::Invalid("the new password must have at least 8 characters".into()));
        }
        Ok(self.store().set_password_hash(user.id, &hash_password(new)?).await?)
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        Ok(self.store().delete_token(&token_hash(token)).await?)
    }
}
