//! One step of a package: what it does, which exit codes count as success, what follows.

use crate::Action;
use serde::{Deserialize, Serialize};

/// A step as the deployer executes it and as package files spell it (`type = "command"`).
///
/// Unknown keys are not rejected here (serde cannot with a flattened kind); the package
/// file parser in `drover-domain` checks them with precise messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    #[serde(flatten)]
    pub kind: StepKind,
    /// Exit codes that count as success.
    #[serde(default = "default_success_codes")]
    pub success_codes: Vec<i32>,
    #[serde(default = "next")]
    pub on_success: Action,
    #[serde(default = "stop_failure")]
    pub on_failure: Action,
    /// The step fails when it runs longer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

fn default_success_codes() -> Vec<i32> {
    vec![0]
}
fn next() -> Action {
    Action::Next
}
fn stop_failure() -> Action {
    Action::StopFailure
}

/// What a step does. Paths may start with `{PackageShare}/` to name a package file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum StepKind {
    /// Run an installer from the share: `.deb` (dpkg -i), `.rpm` (rpm -U), `.sh` (sh), else executed.
    Installer {
        path: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        parameters: String,
    },
    /// A shell command (`/bin/sh -c`).
    Command {
        command: String,
    },
    /// A script file from the share, run with its interpreter (default: by extension, `.sh` → sh).
    Script {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interpreter: Option<String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        parameters: String,
    },
    /// End processes by exact name. (`process`, not `name`: the step's own `name` shares
    /// the same level once the kind is flattened into the step.)
    KillProcess {
        process: String,
        /// SIGKILL instead of SIGTERM.
        #[serde(default)]
        force: bool,
        /// Also end the processes' children.
        #[serde(default)]
        children: bool,
    },
    /// Succeeds (exit code 0) when every criterion holds, else exit code 1.
    Condition {
        criteria: Vec<Criterion>,
    },
    /// Remove installed software packages (dpkg/rpm names).
    Uninstall {
        packages: Vec<String>,
    },
    /// Copy a file from the share to a path on the target.
    FileCopy {
        source: String,
        destination: String,
        /// Octal, e.g. "0644".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        /// `user` or `user:group`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
    },
    Sleep {
        seconds: u64,
    },
    /// A message to the logged-on users' terminals (wall).
    Message {
        text: String,
    },
    /// Reboot the target; the package resumes with the next step after the boot.
    Reboot {
        #[serde(default)]
        delay_secs: u64,
    },
}

impl StepKind {
    /// The `type` name as written in package files.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::Installer { .. } => "installer",
            StepKind::Command { .. } => "command",
            StepKind::Script { .. } => "script",
            StepKind::KillProcess { .. } => "kill-process",
            StepKind::Condition { .. } => "condition",
            StepKind::Uninstall { .. } => "uninstall",
            StepKind::FileCopy { .. } => "file-copy",
            StepKind::Sleep { .. } => "sleep",
            StepKind::Message { .. } => "message",
            StepKind::Reboot { .. } => "reboot",
        }
    }

    /// The share paths this step reads (`{PackageShare}/...` values).
    pub fn share_paths(&self) -> Vec<&str> {
        let candidates: Vec<&str> = match self {
            StepKind::Installer { path, .. } | StepKind::Script { path, .. } => vec![path],
            StepKind::FileCopy { source, .. } => vec![source],
            _ => vec![],
        };
        candidates.into_iter().filter(|p| p.starts_with(crate::PACKAGE_SHARE)).collect()
    }
}

/// Comparison used by version criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

/// One test of a condition step; all criteria of a step must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Criterion {
    FileExists {
        path: String,
    },
    FileAbsent {
        path: String,
    },
    /// The file's SHA-256 equals `sha256` (hex).
    FileHash {
        path: String,
        sha256: String,
    },
    /// An installed package (dpkg or rpm) is present.
    SoftwareInstalled {
        name: String,
    },
    SoftwareAbsent {
        name: String,
    },
    /// The installed package's version compared to `version` (Debian ordering).
    SoftwareVersion {
        name: String,
        op: VersionOp,
        version: String,
    },
    /// `/etc/os-release` ID equals `id` and, if given, VERSION_ID compares to `version`.
    Os {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        op: Option<VersionOp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
    },
    /// The machine architecture (`uname -m`), e.g. `x86_64`, `aarch64`.
    Arch {
        arch: String,
    },
    /// A shell command exits with one of `codes` (default 0).
    CommandExit {
        command: String,
        #[serde(default = "default_success_codes")]
        codes: Vec<i32>,
    },
    /// Somebody (or the named user) has a session on the machine.
    UserLoggedOn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
}
