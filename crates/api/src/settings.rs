//! A node's settings (`GET /settings`).

use drover_domain::deployment::DeployOptions;
use serde::{Deserialize, Serialize};

/// What a node runs with, and the defaults a deployment gets for what it does not set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub node: String,
    pub threads: usize,
    pub deployment_defaults: DeployOptions,
    pub wol_interface: Option<String>,
    pub probe_timeout_secs: u64,
    pub liveness_secs: u64,
    pub log_retention_days: u64,
    /// Key credentials pin an unknown host's key at first login (`--tofu-for-keys`).
    #[serde(default)]
    pub tofu_for_keys: bool,
}
