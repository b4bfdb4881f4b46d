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
    /// A reboot step rebooted the machine: the server waits for it to come back, then
    /// runs the rest of the package.
    Rebooting,
    WaitingRetry,
    Success,
    Failed,
    TimedOut,
    Offline,
    Cancelled,
}

impl TargetState {
    pub const ALL: [TargetState; 11] = [
        Self::Queued,
        Self::Waking,
        Self::Connecting,
        Self::Running,
        Self::Rebooting,
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
            Self::Rebooting => "rebooting",
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
    ///
    /// One exception to "final states never change" is kept apart in [`Self::can_learn`]:
    /// a target that ended while its machine could not be reached (code
    /// `target.unreachable_outcome_unknown`) did not really end.
    pub fn can_become(self, next: TargetState) -> bool {
        use TargetState::*;
        if self.is_final() {
            return false;
        }
        match next {
            Queued => matches!(self, WaitingRetry),
            // connecting again: a new attempt after a restart or after waking the machine
            Connecting => matches!(self, Queued | Waking | WaitingRetry | Connecting | Running),
            // running again: the rest of the package after a reboot step
            Running => matches!(self, Connecting | Rebooting),
            Rebooting => matches!(self, Running),
            Waking => matches!(self, Queued | WaitingRetry | Connecting),
            WaitingRetry => matches!(self, Queued | Waking | Connecting),
            Success | Failed | TimedOut | Offline | Cancelled => true,
        }
    }

    /// Whether a target in `self` whose outcome is unknown (it ended `timed_out` with
    /// code `target.unreachable_outcome_unknown`, its machine unreachable) may become
    /// `next` once its task's true outcome is learned: from the deployer's late report or
    /// its record read over SSH. Only `timed_out` is such a state, and it becomes what
    /// the task did: `success`, `failed`, or `timed_out` (the deployer stopped it at its
    /// deadline). The learned state carries a known code (or none), so it never changes
    /// again.
    pub fn can_learn(self, next: TargetState) -> bool {
        self == TargetState::TimedOut
            && matches!(next, TargetState::Success | TargetState::Failed | TargetState::TimedOut)
    }

    /// Whether a target in `self` with `error_code` may become `next`: the state machine
    /// ([`Self::can_become`]) or, for an unknown outcome, what can be learned
    /// ([`Self::can_learn`]).
    pub fn can_become_with(self, error_code: Option<&str>, next: TargetState) -> bool {
        self.can_become(next)
            || (error_code == Some(crate::FailureCode::UnreachableOutcomeUnknown.as_str()) && self.can_learn(next))
    }

    /// Whether a target with this state and code ended without its outcome being known.
    pub fn outcome_unknown(self, error_code: Option<&str>) -> bool {
        self == TargetState::TimedOut && error_code == Some(crate::FailureCode::UnreachableOutcomeUnknown.as_str())
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a deployment treats machines that do not answer: Wake-on-LAN first, then the
/// retry queue. Stored with the deployment, so a relaunch and a restart keep them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeployOptions {
    /// Send magic packets to an asset that does not answer, wait `boot_secs`, probe again.
    pub wake_on_lan: bool,
    /// Estimated boot time after a magic packet.
    pub boot_secs: u64,
    /// Put an offline target in the retry queue instead of ending it offline.
    pub retry_offline: bool,
    /// Time between two attempts of a target in the retry queue.
    pub retry_interval_secs: u64,
    /// Retries end this long after the deployment was created; the target is then offline.
    pub retry_expiry_secs: u64,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            wake_on_lan: false,
            boot_secs: 120,
            retry_offline: false,
            retry_interval_secs: 600,
            retry_expiry_secs: 24 * 3600,
        }
    }
}

impl DeployOptions {
    /// Checks the numbers; the message names the option and its range.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.boot_secs > 3600 {
            problems.push(format!("boot_secs is {}, but the boot time may be at most 3600 s", self.boot_secs));
        }
        if !(1..=7 * 24 * 3600).contains(&self.retry_interval_secs) {
            problems.push(format!(
                "retry_interval_secs is {}, but it must be 1 s to 7 days (604800 s)",
                self.retry_interval_secs
            ));
        }
        if self.retry_expiry_secs > 90 * 24 * 3600 {
            problems.push(format!(
                "retry_expiry_secs is {}, but retries may last at most 90 days (7776000 s)",
                self.retry_expiry_secs
            ));
        }
        if self.retry_offline && self.retry_expiry_secs < self.retry_interval_secs {
            problems.push(format!(
                "retry_expiry_secs ({}) is shorter than retry_interval_secs ({}): no retry would ever happen",
                self.retry_expiry_secs, self.retry_interval_secs
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

pub use crate::executor::Executor;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub package_id: PackageId,
    pub package_name: String,
    pub package_version: String,
    pub executor: Executor,
    pub run_mode: RunMode,
    pub options: DeployOptions,
    /// How its assets were chosen (`None` for deployments made before selections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<crate::selection::Selection>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
}

impl Deployment {
    /// When retries of its offline targets end (epoch ms).
    pub fn retry_until_ms(&self) -> i64 {
        self.created_ms.saturating_add((self.options.retry_expiry_secs as i64).saturating_mul(1000))
    }
}

/// One asset of a deployment: its state and its log fields (credential, last step, return
/// code, deployer version, server, message, error code, times).
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
    /// What identified the machine's boot when the task was created (boot id and the
    /// start of its SSH server): after a reboot step, its change says the machine restarted.
    #[serde(default)]
    pub boot_marker: Option<String>,
    /// The sequence number of the last reboot report taken (a reboot step's), so that
    /// reading the task's record again does not take it twice.
    #[serde(default)]
    pub reboot_seq: Option<i64>,
    /// Connection attempts so far (more than one when it was woken or retried).
    #[serde(default)]
    pub attempts: i64,
    /// When a target in the retry queue tries again (epoch ms).
    #[serde(default)]
    pub next_attempt_ms: Option<i64>,
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
        // waking happens after a failed probe; a retry starts a new attempt
        assert!(TargetState::Connecting.can_become(TargetState::Waking));
        assert!(TargetState::WaitingRetry.can_become(TargetState::Connecting));
        assert!(!TargetState::Running.can_become(TargetState::Waking));
        // a reboot step: running, rebooting, running again (only from running, once each)
        assert!(TargetState::Running.can_become(TargetState::Rebooting));
        assert!(TargetState::Rebooting.can_become(TargetState::Running));
        assert!(!TargetState::Rebooting.can_become(TargetState::Rebooting));
        assert!(!TargetState::Connecting.can_become(TargetState::Rebooting));
        assert!(!TargetState::Rebooting.is_final());
    }

    #[test]
    fn an_unknown_outcome_may_be_learned_once() {
        use TargetState::*;
        let unknown = Some(crate::FailureCode::UnreachableOutcomeUnknown.as_str());
        let known = Some(crate::FailureCode::MaxDuration.as_str());
        for next in [Success, Failed, TimedOut] {
            assert!(TimedOut.can_become_with(unknown, next), "{next}");
            // a timed-out target whose outcome is known stays as it is
            assert!(!TimedOut.can_become_with(known, next), "{next}");
            assert!(!TimedOut.can_become_with(None, next), "{next}");
        }
        for next in [Queued, Waking, Connecting, Running, WaitingRetry, Offline, Cancelled] {
            assert!(!TimedOut.can_become_with(unknown, next), "{next}");
        }
        // only timed_out carries an unknown outcome; other finals never change
        for s in [Success, Failed, Offline, Cancelled] {
            assert!(TargetState::ALL.iter().all(|n| !s.can_become_with(unknown, *n)), "{s}");
        }
        assert!(TimedOut.outcome_unknown(unknown));
        assert!(!TimedOut.outcome_unknown(known));
        assert!(!Failed.outcome_unknown(unknown));
        // the ordinary machine is unchanged by the code
        assert!(Queued.can_become_with(unknown, Connecting));
    }

    #[test]
    fn deploy_options_name_what_is_wrong() {
        assert!(DeployOptions::default().validate().is_ok());
        let bad = DeployOptions {
            retry_offline: true,
            retry_interval_secs: 600,
            retry_expiry_secs: 60,
            ..Default::default()
        };
        let e = bad.validate().unwrap_err();
        assert!(e.contains("retry_expiry_secs (60) is shorter than retry_interval_secs (600)"), "{e}");
        let e = DeployOptions { boot_secs: 7200, retry_interval_secs: 0, ..Default::default() }.validate().unwrap_err();
        assert!(e.contains("boot_secs is 7200") && e.contains("retry_interval_secs is 0"), "{e}");
    }
}
