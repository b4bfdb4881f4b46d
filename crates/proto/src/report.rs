//! What the deployer reports back, step by step.

use serde::{Deserialize, Serialize};

/// One report. `seq` starts at 1 and grows by one per report of a target, so the server
/// can apply reports exactly once whether they arrive by callback, by collection over
/// SSH, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub target_id: i64,
    pub seq: u64,
    pub at_unix_ms: i64,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The deployer started: its process id (its process group holds every step process).
    Started {
        pid: u32,
        deployer_version: String,
        hostname: String,
        user: String,
    },
    StepStarted {
        index: usize,
        name: String,
    },
    StepFinished(StepResult),
    /// A reboot step is about to reboot the machine; the package resumes at `resume_at`.
    Rebooting {
        resume_at: usize,
    },
    Finished {
        status: FinalStatus,
        message: String,
        /// 0-based index of the last step run, if any.
        last_step: Option<usize>,
        return_code: Option<i32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalStatus {
    Success,
    Failed,
    TimedOut,
    /// The server did not present the certificate the job pins: nothing was run or sent.
    ServerCertMismatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub index: usize,
    pub name: String,
    /// None when the step could not start or was killed by a signal or a timeout.
    pub exit_code: Option<i32>,
    pub success: bool,
    pub duration_ms: u64,
    /// The last few KiB of the step's combined stdout and stderr.
    pub output_tail: String,
    /// Why the step failed when no exit code tells it (timeout, download failed, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
