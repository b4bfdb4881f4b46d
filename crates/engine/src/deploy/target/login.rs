//! Logging in: the asset's credentials in order, the `Access` kept to reconnect, which
//! account the task runs as (`run_account`) and how scripts get root through sudo.

use super::{ScriptError, Stop, run_script, ssh_stop, stop};
use crate::Engine;
use crate::deploy::remote::{self, Facts, Privilege};
use crate::deploy::sessions;
use drover_domain::FailureCode;
use drover_domain::asset::Asset;
use drover_domain::credential::{Credential, CredentialKind, CredentialSecret, SudoMode, credential_order};
use drover_domain::deployment::{RunMode, TargetState};
use drover_ssh::{Auth, ConnectOptions, HostKeyPolicy, Session, SshError};

/// A logged-in way to the target, kept to reconnect for checks.
pub(super) struct Access {
    pub asset: Asset,
    pub credential: Credential,
    pub secret: CredentialSecret,
}

impl Access {
    /// How scripts get root with this credential (None: they cannot).
    pub fn privilege(&self, logs_in_as_root: bool) -> Option<Privilege> {
        if logs_in_as_root {
            return Some(Privilege::Root);
        }
        match self.credential.sudo {
            SudoMode::None => None,
            SudoMode::NoPassword => Some(Privilege::SudoNoPassword),
            SudoMode::Password => Some(Privilege::SudoPassword(
                self.secret.sudo_password.clone().or_else(|| self.secret.password.clone()).unwrap_or_default(),
            )),
        }
    }
}

impl Engine {
    /// Tries the asset's credentials in order. A changed host key stops at once, before
    /// any credential is sent.
    pub(super) async fn log_in(&self, asset: Asset) -> Result<(Session, Access), Stop> {
        let mappings = self.store().mappings_for(asset.id).await?;
        let order = credential_order(asset.id, &mappings);
        if order.is_empty() {
            return Err(stop(
                TargetState::Failed,
                FailureCode::NoCredential,
                format!("no scanning credential is mapped to asset '{}': map one globally or to the asset", asset.name),
            ));
        }
        let mut refused = Vec::new();
        for id in order {
            let credential = self.store().credential(id).await?;
            let secret = self.vault().open(id, &self.store().sealed_secret(id).await?)?;
            let access = Access { asset: asset.clone(), credential, secret };
            match self.connect(&access).await {
                Ok(session) => {
                    if access.asset.host_key.is_none() {
                        self.store().pin_host_key(asset.id, session.host_key(), session.host_key_fingerprint()).await?;
                    }
                    return Ok((session, access));
                }
                Err(e @ (SshError::AuthFailed { .. } | SshError::BadKey(_))) => {
                    refused.push(format!("'{}' (user {}): {e}", access.credential.name, access.credential.username));
                }
                Err(e) => return Err(ssh_stop(&asset, e)),
            }
        }
        Err(stop(
            TargetState::Failed,
            FailureCode::SshAuthFailed,
            format!(
                "authentication failed on asset '{}' ({}) with every mapped credential: {}. Check the user name, password or key, and that the account may log in over SSH",
                asset.name,
                asset.address,
                refused.join("; ")
            ),
        ))
    }

    pub(super) async fn connect(&self, a: &Access) -> Result<Session, SshError> {
        let auth = match a.credential.kind {
            CredentialKind::Password => Auth::Password(a.secret.password.clone().unwrap_or_default()),
            CredentialKind::Key => Auth::Key {
                private_key_pem: a.secret.private_key.clone().unwrap_or_default(),
                passphrase: a.secret.passphrase.clone(),
            },
        };
        let host_key = match &a.asset.host_key {
            Some(k) => HostKeyPolicy::Pinned(k.clone()),
            None => HostKeyPolicy::TrustOnFirstUse,
        };
        let opts = ConnectOptions {
            host: a.asset.address.clone(),
            port: a.asset.ssh_port,
            user: a.credential.username.clone(),
            auth,
            host_key,
            connect_timeout: self.config().connect_timeout,
        };
        Session::connect(&opts).await
    }
}

/// Proves that sudo accepts the credential before anything else goes through it, with
/// nothing else on stdin: a wrong password must not make sudo read the job or the
/// deployer as further attempts. Its failure is `target.sudo_failed`.
pub(super) async fn check_sudo(session: &Session, asset: &Asset, p: &Privilege) -> Result<(), Stop> {
    match run_script(session, &remote::sudo_check(), Some(p), &[]).await {
        Ok(_) => Ok(()),
        Err(e @ ScriptError::Failed { .. }) => Err(e.into_stop(asset, FailureCode::SudoFailed, "sudo refused")),
        Err(ScriptError::Ssh(e)) => Err(ssh_stop(asset, e)),
    }
}

/// Which user the task runs as (None: root or the login user) and how scripts get root.
pub(super) fn run_account(
    mode: RunMode,
    facts: &Facts,
    a: &Access,
) -> Result<(Option<String>, Option<Privilege>), Stop> {
    let privilege = a.privilege(facts.uid == Some(0));
    let need_root = |why: &str| {
        privilege.clone().ok_or_else(|| {
            stop(TargetState::Failed, FailureCode::NeedsRoot, format!(
                "credential '{}' logs in to asset '{}' as '{}', who is not root and has no sudo set; {why}: set sudo on the credential, or deploy with run mode scanning-credential",
                a.credential.name, a.asset.name, facts.user
            ))
        })
    };
    match mode {
        RunMode::System => Ok((None, Some(need_root("run mode system runs the task as root")?))),
        RunMode::ScanningCredential => Ok((None, None)),
        RunMode::LoggedOnUser => {
            // the console or desktop user, by the rule in `sessions` (SSH sessions never count)
            let user = sessions::console_user(&facts.sessions).ok_or_else(|| {
                let remote = sessions::remote_only(&facts.sessions);
                let seen = if remote.is_empty() {
                    String::new()
                } else {
                    format!(" (seen only over SSH or a remote terminal: {})", remote.join(", "))
                };
                stop(TargetState::Failed, FailureCode::NobodyLoggedOn, format!(
                    "nobody is logged on at the console or desktop of asset '{}'{seen}, and the run mode is logged-on user; an SSH session does not count: deploy when a user is logged on locally, or choose run mode system",
                    a.asset.name
                ))
            })?;
            if user == facts.user {
                return Ok((None, None));
            }
            let p = need_root("run mode logged-on user must switch to that user")?;
            Ok(((user != "root").then(|| user.to_string()), Some(p)))
        }
    }
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
