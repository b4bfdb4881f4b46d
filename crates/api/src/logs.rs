//! Deployment logs (`GET /logs`): per target, its state and log fields, every step and
//! every state change.

use drover_domain::deployment::{Executor, StepRecord, Target, TargetEvent};
use serde::{Deserialize, Serialize};

/// Which targets the log shows: every given filter applies; newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<i64>,
    /// Asset id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<i64>,
    /// Package id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<i64>,
    #[serde(default = "crate::deployments::default_limit")]
    pub limit: i64,
}

impl Default for LogQuery {
    fn default() -> Self {
        LogQuery { deployment: None, asset: None, package: None, limit: crate::deployments::default_limit() }
    }
}

/// One target's log entry: the target's fields (asset, state, last step, return code,
/// run mode, credential, deployer version, server, message, error code, times), the
/// package and who started it, then its steps and state changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    #[serde(flatten)]
    pub target: Target,
    pub package_name: String,
    pub package_version: String,
    pub executor: Executor,
    pub steps: Vec<StepRecord>,
    pub events: Vec<TargetEvent>,
}
