//! Users, passwords (Argon2id, on a bounded pool: `passwords`), logins (throttled:
//! `throttle`), API tokens, and what an admin does with accounts.

use crate::Engine;
use crate::error::{EngineError, Result};
use crate::passwords::check_new_password;
use crate::secrets::{new_token, token_hash};
use crate::throttle::Subject;
use drover_api::session::{TokenInfo, UserEntry};
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::user::{Role, User};
use std::net::IpAddr;

/// How long an API token from `login` stays valid unless configured otherwise.
pub const TOKEN_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

/// The longest user name.
const MAX_USER_NAME: usize = 100;

/// A login attempt: who, with what, from where, when.
#[derive(Debug, Clone, Copy)]
pub struct LoginAttempt<'a> {
    pub name: &'a str,
    pub password: &'a str,
    /// The client's address as the HTTP server saw it (None: not over the network).
    pub client: Option<IpAddr>,
    pub now_ms: i64,
}

impl Engine {
    /// Creates the first admin when there is no user yet. Returns the password it set
    /// (the given one, which obeys the same rule as every password, or a new random
    /// one) so the caller can show it once.
    pub async fn ensure_first_admin(&self, password: Option<String>, now_ms: i64) -> Result<Option<String>> {
        if self.store().count_users().await? > 0 {
            return Ok(None);
        }
        if let Some(p) = &password {
            check_new_password(p)
                .map_err(|e| EngineError::Invalid(format!("DROVER_ADMIN_PASSWORD is refused: {e}")))?;
        }
        let password = password.unwrap_or_else(|| new_token()[..20].to_string());
        let hash = self.passwords().hash(&password).await?;
        self.store().create_user("admin", &hash, Role::Admin, now_ms).await?;
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
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_USER_NAME || name.chars().any(char::is_control) {
            return Err(EngineError::Invalid(format!(
                "a user name has 1 to {MAX_USER_NAME} characters, none of them control characters"
            )));
        }
        check_new_password(password)?;
        let hash = self.passwords().hash(password).await?;
        let user = self.store().create_user(name, &hash, role, now_ms).await?;
        self.audit_done(by, AuditAction::UserAdd, &format!("user '{}' with role {}", user.name, user.role.as_str()))
            .await;
        Ok(user)
    }

    /// Checks a login attempt made through `via` (`api`, `console`): refused while the
    /// user name or the client address is locked out after repeated failures (one
    /// throttle for every way in); an unknown name costs as much time as a wrong
    /// password. Every failure, and every lockout when it begins, goes to the audit log.
    pub(crate) async fn check_login(&self, a: LoginAttempt<'_>, via: &str) -> Result<User> {
        let actor = Executor::user(a.name);
        let from = match a.client {
            Some(ip) => format!("{via}, from {ip}"),
            None => via.to_string(),
        };
        let mut subjects = vec![Subject::User(a.name.to_string())];
        if let Some(ip) = a.client {
            subjects.push(Subject::addr(ip));
        }
        if let Err((subject, until)) = self.throttle(|t| t.check(&subjects, a.now_ms)) {
            let minutes = (until - a.now_ms + 59_999) / 60_000;
            tracing::info!(%subject, via, "login refused during a lockout");
            return Err(EngineError::Throttled(format!(
                "too many failed logins for {subject}: try again after {} (in {minutes} min)",
                drover_domain::time::utc(until)
            )));
        }
        let record = self.store().user_for_login(a.name).await?;
        let ok = self.passwords().verify(a.password, record.as_ref().map(|r| r.password_hash.as_str())).await?;
        let record = match record {
            Some(r) if ok => r,
            _ => {
                self.audit(&actor, AuditAction::LoginFailed, &from, a.now_ms).await?;
                let locked = self.throttle(|t| t.fail(&subjects, a.now_ms));
                if let Some((_, until)) = locked.first() {
                    let until = drover_domain::time::utc(*until);
                    let who = locked.iter().map(|(s, _)| s.to_string()).collect::<Vec<_>>().join(" and ");
                    tracing::warn!(subjects = %who, %until, "login locked out after repeated failures");
                    let detail = format!("{from}: {who} locked out until {until} after repeated failures");
                    self.audit(&actor, AuditAction::LoginLocked, &detail, a.now_ms).await?;
                }
                return Err(EngineError::Unauthorized("wrong user name or password".into()));
            }
        };
        if record.disabled {
            self.audit(&actor, AuditAction::LoginFailed, &format!("{from}: the user is disabled"), a.now_ms).await?;
            return Err(EngineError::Forbidden(format!(
                "user '{}' is disabled: ask an admin to enable it (drover user enable)",
                record.user.name
            )));
        }
        self.throttle(|t| t.succeed(&subjects[0]));
        self.audit(&actor, AuditAction::Login, &from, a.now_ms).await?;
        Ok(record.user)
    }

    /// Checks a name and password (see [`Engine::check_login`]) and returns a new API
    /// token.
    pub async fn login(&self, a: LoginAttempt<'_>) -> Result<(User, String)> {
        let user = self.check_login(a, "api").await?;
        let token = new_token();
        let ttl = self.config().token_ttl.as_millis() as i64;
        self.store().create_token(user.id, &token_hash(&token), a.now_ms, a.now_ms + ttl).await?;
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
        let record = self
            .store()
            .user_for_login(&user.name)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no user '{}'", user.name)))?;
        if !self.passwords().verify(current, Some(&record.password_hash)).await? {
            return Err(EngineError::Forbidden("the current password is wrong".into()));
        }
        check_new_password(new)?;
        let hash = self.passwords().hash(new).await?;
        self.store().set_password_hash(user.id, &hash).await?;
        self.audit_done(&Executor::user(&user.name), AuditAction::PasswordChanged, "own password").await;
        Ok(())
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        Ok(self.store().delete_token(&token_hash(token)).await?)
    }

    /// Every user, for admins.
    pub async fn list_users(&self) -> Result<Vec<UserEntry>> {
        Ok(self
            .store()
            .list_users()
            .await?
            .into_iter()
            .map(|r| UserEntry { user: r.user, disabled: r.disabled, created_ms: r.created_ms })
            .collect())
    }

    async fn user_named(&self, name: &str) -> Result<UserEntry> {
        self.list_users()
            .await?
            .into_iter()
            .find(|u| u.user.name == name)
            .ok_or_else(|| EngineError::NotFound(format!("no user named '{name}'")))
    }

    /// Refuses to take away the last enabled admin (nobody could manage users any more).
    async fn keep_an_admin(&self, target: &UserEntry, by: &User) -> Result<()> {
        if target.user.id == by.id {
            return Err(EngineError::Invalid("you cannot disable or remove your own account".into()));
        }
        if target.user.role == Role::Admin && !target.disabled {
            let admins = self.list_users().await?.iter().filter(|u| u.user.role == Role::Admin && !u.disabled).count();
            if admins <= 1 {
                return Err(EngineError::Invalid(format!("'{}' is the last enabled admin", target.user.name)));
            }
        }
        Ok(())
    }

    /// Disables a user (their tokens end; they cannot log in) or enables them again.
    pub async fn set_user_disabled(&self, name: &str, disabled: bool, by: &User) -> Result<User> {
        let target = self.user_named(name).await?;
        if disabled {
            self.keep_an_admin(&target, by).await?;
        }
        self.store().set_user_disabled(target.user.id, disabled).await?;
        tracing::warn!(by = %by.name, user = %target.user.name, disabled, "user account changed");
        let action = if disabled { AuditAction::UserDisable } else { AuditAction::UserEnable };
        self.audit_done(&Executor::user(&by.name), action, &format!("user '{}'", target.user.name)).await;
        Ok(target.user)
    }

    /// Deletes a user and their tokens.
    pub async fn delete_user(&self, name: &str, by: &User) -> Result<User> {
        let target = self.user_named(name).await?;
        self.keep_an_admin(&target, by).await?;
        self.store().delete_user(target.user.id).await?;
        tracing::warn!(by = %by.name, user = %target.user.name, "user deleted");
        let detail = format!("user '{}' with role {}", target.user.name, target.user.role.as_str());
        self.audit_done(&Executor::user(&by.name), AuditAction::UserDelete, &detail).await;
        Ok(target.user)
    }

    /// Ends every API token and console session of a user; returns how many tokens.
    pub async fn revoke_user_tokens(&self, name: &str, by: &User) -> Result<u64> {
        let target = self.user_named(name).await?;
        let n = self.store().delete_tokens_of(target.user.id).await?;
        self.store().delete_sessions_of(target.user.id).await?;
        tracing::warn!(by = %by.name, user = %target.user.name, tokens = n, "tokens revoked");
        let detail = format!("{n} API tokens and every console session of user '{}'", target.user.name);
        self.audit_done(&Executor::user(&by.name), AuditAction::TokensRevoke, &detail).await;
        Ok(n)
    }

    /// The caller's own unexpired tokens; `current` marks the one they call with.
    pub async fn my_tokens(&self, user: &User, current: &str, now_ms: i64) -> Result<Vec<TokenInfo>> {
        let mine = token_hash(current);
        Ok(self
            .store()
            .tokens_of(user.id, now_ms)
            .await?
            .into_iter()
            .map(|t| TokenInfo {
                current: mine.starts_with(&t.id),
                id: t.id,
                created_ms: t.created_ms,
                expires_ms: t.expires_ms,
            })
            .collect())
    }

    /// Ends one of the caller's own tokens by its id (from [`Engine::my_tokens`]).
    pub async fn revoke_my_token(&self, user: &User, id: &str) -> Result<()> {
        if self.store().delete_token_of(user.id, id).await? {
            self.audit_done(&Executor::user(&user.name), AuditAction::TokensRevoke, &format!("own token {id}")).await;
            Ok(())
        } else {
            Err(EngineError::NotFound(format!("you have no token '{id}' (see drover token list)")))
        }
    }
}
