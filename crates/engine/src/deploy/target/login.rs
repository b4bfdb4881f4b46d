//! Logging in: the credentials mapped to the asset in order, only where the host's key is
//! trusted enough for them; the `Access` kept to reconnect, which account the task runs as
//! (`run_account`) and how scripts get root through sudo.

use super::{ScriptError, Stop, run_script, ssh_stop, stop};
use crate::Engine;
use crate::deploy::remote::{self, Facts, Privilege};
use crate::deploy::sessions;
use drover_domain::FailureCode;
use drover_domain::asset::Asset;
use drover_domain::credential::{Credential, CredentialKind, CredentialSecret, SudoMode, credential_order};
use drover_domain::deployment::{RunMode, TargetState};
use drover_domain::host_key::{HostKey, PinSource};
use drover_domain::scope::Target;
use drover_ssh::{Auth, ConnectOptions, HostKeyPolicy, Session, SshError, Verified};

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
    /// Tries the credentials mapped to the asset, in the order `credential_order` gives.
    /// A credential that sends a password goes only to a host whose key an admin pinned
    /// (or a trusted CA vouches for); otherwise it is skipped, unsent. A key credential may
    /// pin an unknown host's key on first use when `tofu_for_keys` allows. A changed host
    /// key stops at once, before any credential is sent.
    pub(super) async fn log_in(&self, asset: Asset) -> Result<(Session, Access), Stop> {
        let last = self.store().last_credential(asset.id).await?;
        self.log_in_with(asset, last).await
    }

    /// How inventory scans log in: by the same rules as [`Engine::log_in`]. `asset` may be
    /// one no row has yet (a new address of a range: no asset-scoped mapping covers it,
    /// no credential worked there before). A failure is its stable code and message.
    pub(crate) async fn log_in_to_scan(
        &self,
        asset: Asset,
        known: bool,
    ) -> Result<(Session, String), (FailureCode, String)> {
        let last =
            if known { self.store().last_credential(asset.id).await.map_err(|e| stop_of(e.into()))? } else { None };
        match self.log_in_with(asset, last).await {
            Ok((session, access)) => Ok((session, access.credential.name)),
            Err(s) => Err((s.code, s.message)),
        }
    }

    async fn log_in_with(
        &self,
        asset: Asset,
        last: Option<drover_domain::ids::CredentialId>,
    ) -> Result<(Session, Access), Stop> {
        let mappings = self.store().all_mappings().await?;
        let order = credential_order(Target { id: asset.id, address: &asset.address }, &mappings, last);
        if order.is_empty() {
            return Err(stop(
                TargetState::Failed,
                FailureCode::NoCredential,
                format!(
                    "no scanning credential is mapped to asset '{}' ({}): an admin maps one to the asset, its IP range, its domain, or globally (drover credential map)",
                    asset.name, asset.address
                ),
            ));
        }
        let mut refused = Vec::new();
        let mut unsent = Vec::new();
        let mut presented: Option<String> = None;
        for id in order {
            let credential = self.store().credential(id).await?;
            let trust = self.host_trust(&asset.address, asset.ssh_port).await?;
            if credential.sends_password() && !trust.allows_passwords() {
                unsent.push(format!("'{}'", credential.name));
                continue;
            }
            let secret = self.vault().open(id, &self.store().sealed_secret(id).await?)?;
            let access = Access { asset: asset.clone(), credential, secret };
            let policy = trust.policy(access.credential.sends_password(), self.config().tofu_for_keys);
            match self.connect_with(&access, policy).await {
                Ok(session) => {
                    if *session.verified() == Verified::FirstUse {
                        let pin = HostKey {
                            address: asset.address.clone(),
                            port: asset.ssh_port,
                            key: session.host_key().to_string(),
                            fingerprint: session.host_key_fingerprint().to_string(),
                            source: PinSource::FirstUse,
                            pinned_by: None,
                            pinned_ms: crate::now_ms(),
                        };
                        self.store().pin_host_key_first_use(&pin).await?;
                    }
                    if last != Some(id) {
                        self.store().set_last_credential(asset.id, id).await?;
                    }
                    return Ok((session, access));
                }
                Err(e @ (SshError::AuthFailed { .. } | SshError::BadKey(_))) => {
                    refused.push(format!("'{}' (user {}): {e}", access.credential.name, access.credential.username));
                }
                Err(SshError::HostKeyUnknown { fingerprint, .. }) => {
                    unsent.push(format!("'{}'", access.credential.name));
                    presented = Some(fingerprint);
                }
                Err(e) => return Err(ssh_stop(&asset, e)),
            }
        }
        if refused.is_empty() {
            return Err(host_key_unknown(&asset, &unsent, presented.as_deref()));
        }
        let mut message = format!(
            "authentication failed on asset '{}' ({}) with every mapped credential: {}. Check the user name, password or key, and that the account may log in over SSH",
            asset.name,
            asset.address,
            refused.join("; ")
        );
        if !unsent.is_empty() {
            message.push_str(&format!(
                ". Not sent, because no admin pinned the host's key: {} (drover asset trust-key {})",
                unsent.join(", "),
                asset.name
            ));
        }
        Err(stop(TargetState::Failed, FailureCode::SshAuthFailed, message))
    }

    /// Connects again with a credential that logged in before: only to a key pinned for
    /// the address (by an admin when the credential sends a password) or a certificate of
    /// a trusted CA; never pins.
    pub(super) async fn connect(&self, a: &Access) -> Result<Session, SshError> {
        let trust = self
            .host_trust(&a.asset.address, a.asset.ssh_port)
            .await
            .map_err(|e| SshError::Protocol(format!("cannot read the pinned host keys: {e}")))?;
        self.connect_with(a, trust.policy(a.credential.sends_password(), false)).await
    }

    async fn connect_with(&self, a: &Access, host_key: HostKeyPolicy) -> Result<Session, SshError> {
        let auth = match a.credential.kind {
            CredentialKind::Password => Auth::Password(a.secret.password.clone().unwrap_or_default()),
            CredentialKind::Key => Auth::Key {
                private_key_pem: a.secret.private_key.clone().unwrap_or_default(),
                passphrase: a.secret.passphrase.clone(),
            },
        };
        let opts = ConnectOptions {
            host: a.asset.address.clone(),
            port: a.asset.ssh_port,
            user: a.credential.username.clone(),
            auth,
            host_key,
            connect_timeout: self.config().connect_timeout,
        };
        self.config().transport.connect(&opts).await
    }
}

fn stop_of(s: Stop) -> (FailureCode, String) {
    (s.code, s.message)
}

/// `ssh.host_key_unknown`: nothing could be sent; the message says what the admin runs.
fn host_key_unknown(asset: &Asset, unsent: &[String], presented: Option<&str>) -> Stop {
    let seen = presented.map(|f| format!(" It presented {f}.")).unwrap_or_default();
    stop(
        TargetState::Failed,
        FailureCode::SshHostKeyUnknown,
        format!(
            "the SSH host key of asset '{name}' ({addr}:{port}) is not pinned by an admin, so no password was sent to it (credentials not used: {creds}).{seen} An admin checks the fingerprint on the machine (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pins it with `drover asset trust-key {name} --fingerprint SHA256:…` (without --fingerprint it shows what the host presents), or imports a known_hosts file with `drover host-key import FILE`, or trusts the host's certificate authority with `drover host-key add-ca`",
            name = asset.name,
            addr = asset.address,
            port = asset.ssh_port,
            creds = unsent.join(", "),
        ),
    )
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
