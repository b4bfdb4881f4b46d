//! Deployments, their targets and the target state machine.

use crate::ids::{AssetId, DeploymentId, PackageId, TargetId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The account a deployment task runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunMode {
    /// root (the default, most secure).
    System,
    /// The SSH user of the scanning credential.
    ScanningCredential,
    /// The user with an active session; fails clearly when nobody is logged on.
    LoggedOnUser,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::System => "system",
            RunMode::ScanningCredential => "scanning-credential",
            RunMode::LoggedOnUser => "logged-on-user",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "system" => Some(Self::System),
            "scanning-credential" => Some(Self::ScanningCredential),
            "logged-on-user" => Some(Self::LoggedOnUser),
            _ => None,
        }
    }
}

impl fmt::Display for RunMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a deployment target stands. Final states never change again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    Queued,
    Waking,
    Connecting,
    Running,
    WaitingRetry,
    Success,
    Failed,
    TimedOut,
    Offline,
    Cancelled,
}

impl TargetState {
    pub const ALL: [TargetState; 10] = [
        Self::Queued,
        Self::Waking,
        Self::Connecting,
        Self::Running,
        Self::WaitingRetry,
        Self::Success,
        Self::Failed,
        Self::TimedOut,
        Self::Offline,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Waking => "waking",
            Self::Connecting => "connecting",
            Self::Running => "running",
            Self::WaitingRetry => "waiting_retry",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Offline => "offline",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::TimedOut | Self::Offline | Self::Cancelled)
    }

    /// Whether the state machine allows going from `self` to `next`.
    pub fn can_become(self, next: TargetState) -> bool {
        use TargetState::*;
        if self.is_final() {
            return false;
        }
        match next {
            Queued => matches!(self, WaitingRetry),
            Waking => matches!(self, Queued | WaitingRetry),
            Connecting => matches!(self, Queued | Waking | WaitingRetry | Running),
            Running => matches!(self, Connecting),
            WaitingRetry => matches!(self, Queued | Waking | Connecting),
            Success | Failed | TimedOut | Offline | Cancelled => true,
        }
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who started a deployment: `user:<name>`, `schedule:<name>` or `scan`.
pub type Executor = String;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub package_id: PackageId,
    pub package_name: String,
    pub package_version: String,
    pub executor: Executor,
    pub run_mode: RunMode,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
}

/// One asset of a deployment: its state and the Lansweeper log fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub id: TargetId,
    pub deployment_id: DeploymentId,
    pub asset_id: AssetId,
    pub asset_name: String,
    pub state: TargetState,
    pub run_mode: RunMode,
    /// Name of the credential that logged in.
    pub credential: Option<String>,
    /// Name of the last step run.
    pub last_step: Option<String>,
    /// Return code of the last step run.
    pub return_code: Option<i32>,
    pub message: String,
    /// A stable code for failures an operator must act on (e.g. `ssh.host_key_mismatch`).
    pub error_code: Option<String>,
    pub deployer_version: Option<String>,
    /// The server node that ran the target.
    pub server: Option<String>,
    /// The task's work directory on the target, once created (for crash recovery).
    #[serde(default)]
    pub work_dir: Option<String>,
    /// The task's process id on the target, once started (for crash recovery).
    #[serde(default)]
    pub pid: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
}

/// A state change of a target, as stored in its log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetEvent {
    pub target_id: TargetId,
    pub at_ms: i64,
    pub state: TargetState,
    pub message: String,
}

/// One executed step of a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub target_id: TargetId,
    /// The report sequence number that carried it (unique per target).
    pub seq: i64,
    /// 0-based step index in the package.
    pub index: i64,
    pub name: String,
    pub exit_code: Option<i32>,
    pub success: bool,
    pub duration_ms: i64,
    pub output_tail: String,
    pub message: String,
    pub at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_finals_stay() {
        for s in TargetState::ALL {
            assert_eq!(TargetState::parse(s.as_str()), Some(s));
            if s.is_final() {
                assert!(TargetState::ALL.iter().all(|n| !s.can_become(*n)));
            }
        }
        assert!(TargetState::Queued.can_become(TargetState::Connecting));
        assert!(!TargetState::Queued.can_become(TargetState::Running));
    }
}
