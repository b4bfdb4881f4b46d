//! Host keys as admins pin them (trust-key, accept-key, known_hosts import) and the host
//! certificate authorities they trust; and the host-key policy a connection gets.

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_api::assets::AssetRef;
use drover_api::host_keys::{ImportAnswer, TrustAnswer};
use drover_domain::asset::Asset;
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::host_key::{HostAuthority, HostKey, PinSource, parse_known_hosts, validate_host_patterns};
use drover_domain::ids::AuthorityId;
use drover_ssh::{HostKeyPolicy, fingerprint_of, host_key_of};

/// An OpenSSH key line without its comment, and its fingerprint; refuses what is not a key.
fn key_and_fingerprint(line: &str) -> Result<(String, String)> {
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return Err(EngineError::Invalid(format!(
            "'{line}' is not an OpenSSH public key line (type base64 [comment])"
        )));
    };
    let key = format!("{kind} {blob}");
    let fingerprint = fingerprint_of(&key).map_err(|e| EngineError::Invalid(e.to_string()))?;
    Ok((key, fingerprint))
}

/// What is known of a host's key: its pins, and the authorities that may vouch for it.
pub(crate) struct HostTrust {
    pub pins: Vec<HostKey>,
    pub authorities: Vec<String>,
}

impl HostTrust {
    /// Whether a password may be sent: an admin pinned a key, or a CA may vouch (the
    /// connection then accepts only a certificate from it or an admin-pinned key).
    pub fn allows_passwords(&self) -> bool {
        self.pins.iter().any(|p| p.source.by_admin()) || !self.authorities.is_empty()
    }

    /// The policy of a connection: for a credential that sends a password, admin pins
    /// and certificates only; for a key credential, any pin, and first use when allowed
    /// and nothing is pinned.
    pub fn policy(&self, sends_password: bool, trust_first_use: bool) -> HostKeyPolicy {
        let pinned: Vec<String> =
            self.pins.iter().filter(|p| !sends_password || p.source.by_admin()).map(|p| p.key.clone()).collect();
        HostKeyPolicy {
            trust_first_use: trust_first_use && !sends_password && self.pins.is_empty(),
            pinned,
            authorities: self.authorities.clone(),
            now_unix_secs: (now_ms() / 1000).max(0) as u64,
        }
    }
}

/// The name a pin records as who made it.
fn pinner(by: &Executor) -> String {
    match by {
        Executor::User(name) => name.clone(),
        other => other.to_string(),
    }
}

impl Engine {
    pub(crate) async fn host_trust(&self, address: &str, port: u16) -> Result<HostTrust> {
        let pins = self.store().host_keys(address, port).await?;
        let authorities = self
            .store()
            .list_host_authorities()
            .await?
            .into_iter()
            .filter(|a| a.covers(address))
            .map(|a| a.key)
            .collect();
        Ok(HostTrust { pins, authorities })
    }

    /// Reads the key the asset's host presents now and, when `pin`, pins it for the
    /// asset's address and port in place of any other (an admin action). With
    /// `fingerprint`, the presented key must have it.
    pub async fn trust_host_key(
        &self,
        r: &AssetRef,
        fingerprint: Option<&str>,
        pin: bool,
        by: &Executor,
    ) -> Result<TrustAnswer> {
        let admin = pinner(by);
        let asset = self.resolve_asset(r).await?;
        let (key, presented) = host_key_of(&asset.address, asset.ssh_port, self.config().connect_timeout)
            .await
            .map_err(|e| EngineError::Invalid(format!("cannot read the host key of asset '{}': {e}", asset.name)))?;
        let (key, _) = key_and_fingerprint(&key)?;
        let previous = asset.host_key_fingerprint.clone();
        let answer = |pinned: bool, message: String| TrustAnswer {
            asset: asset.name.clone(),
            address: asset.address.clone(),
            port: asset.ssh_port,
            key: key.clone(),
            fingerprint: presented.clone(),
            pinned,
            previous: previous.clone(),
            message,
        };
        if let Some(want) = fingerprint
            && want.trim() != presented
        {
            return Err(EngineError::Invalid(format!(
                "asset '{}' ({}:{}) presents the host key {presented}, not {}: nothing was pinned. Check the key on the machine itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)",
                asset.name,
                asset.address,
                asset.ssh_port,
                want.trim()
            )));
        }
        if !pin {
            return Ok(answer(
                false,
                format!(
                    "asset '{}' ({}:{}) presents the host key {presented}; nothing is pinned yet. If the machine itself shows this fingerprint (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), pin it with `drover asset trust-key {} --fingerprint {presented}`",
                    asset.name, asset.address, asset.ssh_port, asset.name
                ),
            ));
        }
        self.pin_admin(&asset, &key, &presented, &admin).await?;
        tracing::warn!(by = %admin, asset = %asset.name, old = ?previous, new = %presented, "host key pinned by an admin");
        let old = previous.as_deref().unwrap_or("none");
        let detail = format!("asset '{}' ({}:{}): {presented}, was {old}", asset.name, asset.address, asset.ssh_port);
        self.audit_done(by, AuditAction::HostKeyTrust, &detail).await;
        Ok(answer(
            true,
            format!("host key {presented} pinned for '{}' ({}:{})", asset.name, asset.address, asset.ssh_port),
        ))
    }

    async fn pin_admin(&self, asset: &Asset, key: &str, fingerprint: &str, admin: &str) -> Result<()> {
        let pin = HostKey {
            address: asset.address.clone(),
            port: asset.ssh_port,
            key: key.to_string(),
            fingerprint: fingerprint.to_string(),
            source: PinSource::Admin,
            pinned_by: Some(admin.to_string()),
            pinned_ms: now_ms(),
        };
        Ok(self.store().pin_host_key(&pin, true).await?)
    }

    /// Pins every plain key line of an OpenSSH `known_hosts` text and trusts its
    /// `@cert-authority` lines (an admin action); says which lines it skipped and why.
    pub async fn import_known_hosts(&self, by: &Executor, text: &str) -> Result<ImportAnswer> {
        let admin = pinner(by);
        let parsed = parse_known_hosts(text);
        let mut answer = ImportAnswer { pinned: Vec::new(), authorities: Vec::new(), skipped: parsed.skipped };
        for (address, port, line) in parsed.keys {
            let (key, fingerprint) = match key_and_fingerprint(&line) {
                Ok(k) => k,
                Err(e) => {
                    answer.skipped.push(format!("{address}: {e}"));
                    continue;
                }
            };
            let pin = HostKey {
                address,
                port,
                key,
                fingerprint,
                source: PinSource::KnownHosts,
                pinned_by: Some(admin.clone()),
                pinned_ms: now_ms(),
            };
            self.store().pin_host_key(&pin, false).await?;
            answer.pinned.push(pin);
        }
        for (hosts, key) in parsed.authorities {
            match self.add_host_authority(by, &key, &hosts).await {
                Ok(a) => answer.authorities.push(a),
                Err(e) => answer.skipped.push(format!("@cert-authority {hosts}: {e}")),
            }
        }
        tracing::warn!(by = %admin, pinned = answer.pinned.len(), authorities = answer.authorities.len(), "known_hosts imported");
        let detail = format!(
            "{} host keys pinned, {} authorities added, {} lines skipped",
            answer.pinned.len(),
            answer.authorities.len(),
            answer.skipped.len()
        );
        self.audit_done(by, AuditAction::KnownHostsImport, &detail).await;
        Ok(answer)
    }

    /// Trusts a CA's host certificates for the hosts the patterns match.
    pub async fn add_host_authority(&self, by: &Executor, key: &str, hosts: &str) -> Result<HostAuthority> {
        validate_host_patterns(hosts).map_err(EngineError::Invalid)?;
        let (key, fingerprint) = key_and_fingerprint(key)?;
        let ca = self.store().add_host_authority(&key, &fingerprint, hosts.trim(), now_ms()).await?;
        let detail = format!("host CA {} for {}", ca.fingerprint, ca.hosts);
        self.audit_done(by, AuditAction::HostCaAdd, &detail).await;
        Ok(ca)
    }

    pub async fn remove_host_authority(&self, by: &Executor, id: AuthorityId) -> Result<()> {
        self.store().delete_host_authority(id).await?;
        self.audit_done(by, AuditAction::HostCaRemove, &format!("host CA {id}")).await;
        Ok(())
    }

    pub async fn list_host_keys(&self) -> Result<(Vec<HostKey>, Vec<HostAuthority>)> {
        Ok((self.store().list_host_keys().await?, self.store().list_host_authorities().await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(key: &str, source: PinSource) -> HostKey {
        HostKey {
            address: "10.0.0.1".into(),
            port: 22,
            key: key.into(),
            fingerprint: String::new(),
            source,
            pinned_by: None,
            pinned_ms: 0,
        }
    }

    #[test]
    fn passwords_need_an_admin_pin_or_a_certificate_authority() {
        let none = HostTrust { pins: vec![], authorities: vec![] };
        assert!(!none.allows_passwords());
        let key = none.policy(false, true);
        assert!(key.trust_first_use && key.pinned.is_empty(), "a key credential may pin an unknown host");
        assert!(!none.policy(false, false).trust_first_use, "unless tofu_for_keys is off");
        assert!(!none.policy(true, true).trust_first_use, "a password never pins");

        let first = HostTrust { pins: vec![pin("ssh-ed25519 A", PinSource::FirstUse)], authorities: vec![] };
        assert!(!first.allows_passwords(), "a first-use pin is not an admin's");
        assert_eq!(first.policy(false, true).pinned, vec!["ssh-ed25519 A".to_string()]);
        assert!(!first.policy(false, true).trust_first_use, "a pin is never replaced on first use");
        assert!(first.policy(true, true).pinned.is_empty(), "passwords do not accept the first-use pin");

        let admin = HostTrust {
            pins: vec![pin("ssh-ed25519 A", PinSource::FirstUse), pin("ssh-rsa B", PinSource::KnownHosts)],
            authorities: vec![],
        };
        assert!(admin.allows_passwords());
        assert_eq!(admin.policy(true, true).pinned, vec!["ssh-rsa B".to_string()]);
        assert_eq!(admin.policy(false, true).pinned.len(), 2);

        let ca = HostTrust { pins: vec![], authorities: vec!["ssh-ed25519 CA".into()] };
        assert!(ca.allows_passwords());
        let p = ca.policy(true, true);
        assert!(!p.trust_first_use && p.pinned.is_empty() && p.authorities.len() == 1, "only a certificate will do");
    }
}
