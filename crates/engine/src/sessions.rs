//! Console sessions: logging in with a password (throttled per user name and per client
//! address), the session a cookie names, and the CSRF token bound to it.
//!
//! The cookie holds a random token; the store keeps only its hash. A form's CSRF token is
//! an HMAC-SHA256 of the session token under a key derived from the server's vault key,
//! so every node of a cluster computes the same one and nothing more is stored.

use crate::Engine;
use crate::error::{EngineError, Result};
use crate::secrets::{new_token, token_hash};
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::user::User;
use sha2::{Digest, Sha256};

/// How long a console session lasts.
pub const SESSION_LIFETIME_MS: i64 = 12 * 3600 * 1000;
/// Failed logins counted per user name and per address ...
pub const MAX_FAILURES: i64 = 5;
/// ... over this window; the login waits until the oldest counted one leaves it.
pub const FAILURE_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Why a console login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefused {
    #[error("wrong user name or password")]
    Wrong,
    #[error("too many failed logins for this user or from this address: try again in {retry_after_secs} s")]
    Locked { retry_after_secs: i64 },
}

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
    /// Checks a name and password typed into the console's login form from `address`
    /// and opens a session, unless this name or address failed too often lately. Every
    /// outcome goes to the audit log.
    pub async fn console_login(
        &self,
        name: &str,
        password: &str,
        address: &str,
        now_ms: i64,
    ) -> Result<std::result::Result<NewSession, LoginRefused>> {
        let actor = Executor::user(name);
        let f = self.store().login_failures(name, address, now_ms - FAILURE_WINDOW_MS).await?;
        let mut until = None;
        if f.by_name >= MAX_FAILURES {
            until = f.first_by_name_ms.map(|t| t + FAILURE_WINDOW_MS);
        }
        if f.by_address >= MAX_FAILURES {
            until = until.max(f.first_by_address_ms.map(|t| t + FAILURE_WINDOW_MS));
        }
        if let Some(until) = until {
            let retry_after_secs = ((until - now_ms) / 1000).max(1);
            let detail = format!("from {address}: {} failures by name, {} from the address", f.by_name, f.by_address);
            self.audit(&actor, AuditAction::LoginLocked, &detail, now_ms).await?;
            tracing::warn!(user = name, address, retry_after_secs, "console login locked out");
            return Ok(Err(LoginRefused::Locked { retry_after_secs }));
        }
        match self.check_password(name, password).await? {
            Some(user) => {
                self.store().clear_login_failures(name).await?;
                let token = new_token();
                self.store().create_session(user.id, &token_hash(&token), now_ms, now_ms + SESSION_LIFETIME_MS).await?;
                self.audit(&actor, AuditAction::Login, &format!("console, from {address}"), now_ms).await?;
                Ok(Ok(NewSession { user, token }))
            }
            None => {
                self.store().record_login_failure(name, address, now_ms, now_ms - FAILURE_WINDOW_MS).await?;
                self.audit(&actor, AuditAction::LoginFailed, &format!("console, from {address}"), now_ms).await?;
                Ok(Err(LoginRefused::Wrong))
            }
        }
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
        self.audit(&Executor::user(&user.name), AuditAction::PasswordChanged, "console", now_ms).await?;
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

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.store().list_users().await?)
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
