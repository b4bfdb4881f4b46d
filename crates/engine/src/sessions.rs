//! Console sessions: logging in with a password (through the same check as the API's
//! login: `auth::check_login`), the session a cookie names, and the CSRF token bound to it.
//!
//! The cookie holds a random token; the store keeps only its hash. A form's CSRF token is
//! an HMAC-SHA256 of the session token under a key derived from the server's vault key,
//! so every node of a cluster computes the same one and nothing more is stored.

use crate::error::{EngineError, Result};
use crate::secrets::{new_token, token_hash};
use crate::{Engine, LoginAttempt};
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::user::User;
use sha2::{Digest, Sha256};

/// How long a console session lasts.
pub const SESSION_LIFETIME_MS: i64 = 12 * 3600 * 1000;

/// A new console session: the token goes into the cookie once.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user: User,
    pub token: String,
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| block.map(|k| k ^ b);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(msg).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Engine {
    /// Checks a name and password typed into the console's login form and opens a
    /// session. The same check as the API's [`Engine::login`]: one throttle (per user
    /// name and per client address), the password pool, and the audit log.
    pub async fn console_login(&self, a: LoginAttempt<'_>) -> Result<NewSession> {
        let user = self.check_login(a, "console").await?;
        let token = new_token();
        self.store().create_session(user.id, &token_hash(&token), a.now_ms, a.now_ms + SESSION_LIFETIME_MS).await?;
        Ok(NewSession { user, token })
    }

    /// The user of a console session.
    pub async fn console_user(&self, token: &str, now_ms: i64) -> Result<User> {
        self.store()
            .user_by_session(&token_hash(token), now_ms)
            .await?
            .ok_or_else(|| EngineError::Unauthorized("the session is unknown or expired: log in again".into()))
    }

    /// Ends a console session.
    pub async fn console_logout(&self, user: &User, token: &str, now_ms: i64) -> Result<()> {
        self.store().delete_session(&token_hash(token)).await?;
        self.audit(&Executor::user(&user.name), AuditAction::Logout, "console", now_ms).await
    }

    /// Changes the user's password from the console: every session and API token of the
    /// user ends, and a new session is opened for this browser.
    pub async fn console_change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        now_ms: i64,
    ) -> Result<NewSession> {
        self.change_password(user, current, new).await?;
        self.store().delete_sessions_of(user.id).await?;
        let token = new_token();
        self.store().create_session(user.id, &token_hash(&token), now_ms, now_ms + SESSION_LIFETIME_MS).await?;
        Ok(NewSession { user: user.clone(), token })
    }

    /// The CSRF token that the forms of this session must carry.
    pub fn csrf_token(&self, session_token: &str) -> String {
        hex::encode(hmac_sha256(self.vault().mac_key(), format!("csrf\0{session_token}").as_bytes()))
    }

    /// Whether `given` is this session's CSRF token.
    pub fn csrf_ok(&self, session_token: &str, given: &str) -> bool {
        same(self.csrf_token(session_token).as_bytes(), given.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::hmac_sha256;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
