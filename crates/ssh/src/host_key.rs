//! Deciding whether the server's host key (or host certificate) is trusted, during the
//! key exchange and before any authentication request.

use crate::SshError;
use russh::keys::ssh_key::certificate::CertType;
use russh::keys::{Certificate, HashAlg, PublicKey, PublicKeyOrCertificate};

/// Which host keys to accept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostKeyPolicy {
    /// Pinned keys (OpenSSH lines, `ssh-ed25519 AAAA…`). When some are given, any other
    /// plain key is a [`SshError::HostKeyMismatch`]; the key exchange asks only for their
    /// algorithms.
    pub pinned: Vec<String>,
    /// Certificate authorities (OpenSSH public key lines) whose host certificates are
    /// accepted for this host: signed by one of them, of type host, valid now, naming the
    /// host being connected to among its principals, without critical options.
    pub authorities: Vec<String>,
    /// With nothing pinned and no trusted certificate: accept the key (the caller pins
    /// it) instead of refusing with [`SshError::HostKeyUnknown`].
    pub trust_first_use: bool,
    /// Now, in seconds since the Unix epoch: certificates are checked against it.
    pub now_unix_secs: u64,
}

/// How the host key of a [`crate::Session`] was trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// It is one of the pinned keys.
    Pinned,
    /// A host certificate signed by the authority with this fingerprint.
    Certificate { authority_fingerprint: String },
    /// Nothing was pinned and the policy trusts on first use: pin it.
    FirstUse,
}

/// The outcome of [`decide`].
pub(crate) enum Decision {
    Accept(Verified),
    Refuse(SshError),
}

/// Whether to go on with the connection, given what the server presented.
pub(crate) fn decide(
    policy: &HostKeyPolicy,
    host: &str,
    host_port: &str,
    presented: &PublicKeyOrCertificate,
) -> Decision {
    let (key, cert) = match presented {
        PublicKeyOrCertificate::PublicKey { key, .. } => (key.clone(), None),
        PublicKeyOrCertificate::Certificate(c) => (PublicKey::from(c.public_key().clone()), Some(c)),
    };
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let mut cert_note = String::new();
    if let Some(c) = cert
        && !policy.authorities.is_empty()
    {
        match check_host_certificate(c, &policy.authorities, host, policy.now_unix_secs) {
            Ok(authority_fingerprint) => return Decision::Accept(Verified::Certificate { authority_fingerprint }),
            Err(why) => cert_note = format!(" (its certificate is not trusted: {why})"),
        }
    }
    if policy.pinned.iter().any(|p| PublicKey::from_openssh(p).is_ok_and(|p| p.key_data() == key.key_data())) {
        return Decision::Accept(Verified::Pinned);
    }
    if let Some(first) = policy.pinned.first() {
        return Decision::Refuse(SshError::HostKeyMismatch {
            host: host_port.to_string(),
            expected_fingerprint: crate::fingerprint_of(first).unwrap_or_else(|_| "(unreadable pinned key)".into()),
            presented_fingerprint: format!("{fingerprint}{cert_note}"),
        });
    }
    if policy.trust_first_use {
        return Decision::Accept(Verified::FirstUse);
    }
    Decision::Refuse(SshError::HostKeyUnknown {
        host: host_port.to_string(),
        fingerprint: format!("{fingerprint}{cert_note}"),
    })
}

/// Checks a host certificate against trusted authorities; returns the fingerprint of the
/// authority that signed it, or why it is not trusted.
pub fn check_host_certificate(
    cert: &Certificate,
    authorities: &[String],
    host: &str,
    now_unix_secs: u64,
) -> Result<String, String> {
    if cert.cert_type() != CertType::Host {
        return Err("it is a user certificate, not a host certificate".into());
    }
    let fingerprints: Vec<_> = authorities
        .iter()
        .filter_map(|a| PublicKey::from_openssh(a.trim()).ok())
        .map(|k| k.fingerprint(HashAlg::Sha256))
        .collect();
    cert.validate_at(now_unix_secs, &fingerprints).map_err(|_| {
        format!(
            "not signed by a trusted authority, or not valid now (signed by {})",
            cert.signature_key().fingerprint(HashAlg::Sha256)
        )
    })?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !cert.valid_principals().iter().any(|p| p.eq_ignore_ascii_case(host)) {
        return Err(format!("'{host}' is not among its principals {:?}", cert.valid_principals()));
    }
    if !cert.critical_options().is_empty() {
        return Err("it has critical options, which host certificates do not have".into());
    }
    Ok(cert.signature_key().fingerprint(HashAlg::Sha256).to_string())
}

/// The algorithms the key exchange offers for the host key: only those of the pinned
/// keys when some are pinned (so a host with several keys presents the pinned one), all
/// of them otherwise.
pub(crate) fn key_algorithms(policy: &HostKeyPolicy, all: &[russh::keys::Algorithm]) -> Vec<russh::keys::Algorithm> {
    let pinned: Vec<russh::keys::Algorithm> =
        policy.pinned.iter().filter_map(|p| PublicKey::from_openssh(p).ok()).map(|k| k.algorithm()).collect();
    if pinned.is_empty() {
        return all.to_vec();
    }
    let wanted: Vec<russh::keys::Algorithm> = all
        .iter()
        .filter(|a| pinned.iter().any(|p| p == *a || (p.clone().is_rsa() && (*a).clone().is_rsa())))
        .cloned()
        .collect();
    // a pinned algorithm russh does not offer by default: offer it anyway, the server decides
    if wanted.is_empty() { pinned } else { wanted }
}

#[cfg(test)]
#[path = "host_key_tests.rs"]
mod tests;
