//! Password hashing (Argon2id) on a bounded blocking pool: a flood of logins waits for a
//! permit instead of filling tokio's async workers or its blocking pool, so the rest of
//! the server (`/healthz`, reports, deployments) keeps answering.

use crate::error::{EngineError, Result};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// The fewest characters a password has, the first admin's too.
pub const MIN_PASSWORD_LEN: usize = 8;

/// The longest password accepted (Argon2 hashes any length; this bounds the work).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Hashes and checks passwords, at most one per core at a time.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

/// The rule every new password obeys.
pub fn check_new_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(EngineError::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters (this one has {n})"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(EngineError::Invalid(format!("a password has at most {MAX_PASSWORD_LEN} bytes")));
    }
    Ok(())
}

fn hash_now(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
}

fn verify_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password of a real user matches, checked for unknown user names so that
/// they take as long to refuse as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now(&crate::secrets::new_token()).unwrap_or_default())
}

impl Passwords {
    pub fn new(parallel: usize) -> Passwords {
        Passwords { permits: Arc::new(Semaphore::new(parallel.max(1))) }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(|_| EngineError::Internal("password pool closed".into()))?;
        tokio::task::spawn_blocking(work).await.map_err(|e| EngineError::Internal(format!("password hashing: {e}")))
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_string();
        self.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `hash`; with no hash (an unknown user), the same work
    /// against a dummy, and false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        let (password, hash) = (password.to_string(), hash.map(str::to_string));
        self.run(move || match hash {
            Some(h) => verify_now(&password, &h),
            None => {
                verify_now(&password, dummy_hash());
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let p = Passwords::new(1);
        let h = p.hash("correct horse").await.unwrap();
        assert!(p.verify("correct horse", Some(&h)).await.unwrap());
        assert!(!p.verify("wrong", Some(&h)).await.unwrap());
        assert!(!p.verify("correct horse", None).await.unwrap());
    }

    #[test]
    fn new_passwords_have_a_minimum_length() {
        assert!(check_new_password("short").unwrap_err().to_string().contains("at least 8"));
        assert!(check_new_password("long enough").is_ok());
        assert!(check_new_password(&"x".repeat(2000)).is_err());
    }
}
