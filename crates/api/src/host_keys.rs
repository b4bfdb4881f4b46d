//! Host keys and host certificate authorities (admin only): `/host-keys`,
//! `/host-keys/import`, `/host-keys/authorities`, and an asset's `trust-host-key` and
//! `accept-host-key`.

use drover_domain::host_key::{HostAuthority, HostKey};
use serde::{Deserialize, Serialize};

/// `POST /assets/{asset}/trust-host-key` and `/accept-host-key`: pin the key the host
/// presents now. With `fingerprint`, only if the presented key has it; trust-host-key
/// without it only shows the fingerprint, pinning nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What the host presents, and whether it is now pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnswer {
    pub asset: String,
    pub address: String,
    pub port: u16,
    /// The key the host presented (OpenSSH line) and its `SHA256:…` fingerprint.
    pub key: String,
    pub fingerprint: String,
    pub pinned: bool,
    /// The fingerprint pinned before, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    pub message: String,
}

/// `POST /host-keys/import`: the text of an OpenSSH `known_hosts` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportKnownHosts {
    pub known_hosts: String,
}

/// What an import pinned, which `@cert-authority` lines it trusted, and the lines it
/// skipped with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportAnswer {
    pub pinned: Vec<HostKey>,
    pub authorities: Vec<HostAuthority>,
    pub skipped: Vec<String>,
}

/// `POST /host-keys/authorities`: trust a CA's host certificates for some hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddAuthority {
    /// The CA's OpenSSH public key line.
    pub key: String,
    /// Comma-separated host patterns: `*.corp.example,10.0.0.0/8`.
    pub hosts: String,
}

/// `GET /host-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKeys {
    pub keys: Vec<HostKey>,
    pub authorities: Vec<HostAuthority>,
}
