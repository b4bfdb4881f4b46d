//! The job the server writes on a target for the deployer.

use crate::Step;
use serde::{Deserialize, Serialize};

/// Bumped when the job or report format changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;

/// Everything the deployer needs to run one deployment target.
///
/// The file holds the target's share and report tokens: the deployer deletes it when the
/// target ends, and the server revokes both tokens at the same moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub protocol: u32,
    pub target_id: i64,
    pub deployment_id: i64,
    pub package_name: String,
    pub package_version: String,
    pub steps: Vec<Step>,
    /// Files of the package on the share, by their path under `{PackageShare}/`.
    pub files: Vec<JobFile>,
    /// Base URL of the server for reports, e.g. `https://10.0.0.1:8080`.
    pub server_url: String,
    pub report_token: String,
    /// Base URL of the package share.
    pub share_url: String,
    pub share_token: String,
    /// The task is ended at this instant (Unix milliseconds): the package's max duration.
    pub deadline_unix_ms: i64,
    /// Step number (0-based) to start at; after a reboot step it is the one after it.
    #[serde(default)]
    pub start_at: usize,
    /// Until when (Unix milliseconds) the deployer keeps trying reports it could not
    /// deliver; absent: the deadline plus the deployer's own grace (10 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_until_unix_ms: Option<i64>,
    /// SHA-256 (lowercase hex) of the server's TLS certificate (the leaf, DER): the
    /// deployer talks over HTTPS only to a server presenting exactly this certificate,
    /// and sends no token to any other. Absent: a plain-HTTP server (or, for an
    /// `https://` URL, one trusted through the public certificate authorities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cert_sha256: Option<String>,
    /// The same for `share_url` when it is not the server's (a share location's own
    /// certificate); the share gets `share_token` only over `https://` (or when the
    /// server itself is plain HTTP: no pin at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_cert_sha256: Option<String>,
    /// The other nodes of the server's database, when several serve it: where reports
    /// (and files, when `share_url` is the server's own share) go when `server_url` does
    /// not answer, e.g. after its node died and another took the target over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_servers: Vec<OtherServer>,
}

/// Another node of the server: its base URL and the SHA-256 of its TLS certificate
/// (pinned as `server_cert_sha256` is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherServer {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_sha256: Option<String>,
}

/// One package file: where steps name it and what its content hashes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFile {
    /// Relative path under `{PackageShare}/`, e.g. `bin/tool.sh`.
    pub path: String,
    pub sha256: String,
    pub size: u64,
}
