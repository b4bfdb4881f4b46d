//! Targets drover cannot use as they are — no `sh`, a read-only or full folder, a folder
//! mounted `noexec`, no `sudo` — each a stop with its own code and a message that says
//! what is wrong and what the admin does about it.

use super::{Stop, stop};
use crate::deploy::remote::ScriptFailure;
use drover_domain::FailureCode;
use drover_domain::asset::Asset;
use drover_domain::deployment::TargetState;

/// The stop for a failure a script named (`drover-fail=` on its stderr).
pub(super) fn script_failure(asset: &Asset, f: &ScriptFailure) -> Stop {
    let (name, path, detail) = (&asset.name, &f.path, &f.detail);
    let message = match f.code {
        FailureCode::ReadOnly => format!(
            "{path} on asset '{name}' is on a read-only file system ({detail}); drover keeps its deployer and work files there: remount that file system read-write, or mount a writable one at {path}, then deploy again; nothing was left on the machine"
        ),
        FailureCode::DiskFull => format!(
            "no space left in {path} on asset '{name}' ({detail}); the deployer (a few MB) and the task's files go there: free space on that file system (`df -h {path}`), then deploy again; the partial upload was removed"
        ),
        FailureCode::NoExec => format!(
            "{path} on asset '{name}' is on a file system mounted noexec, so the deployer cannot run from it ({detail}): remount it with exec (drop noexec from its /etc/fstab entry), or mount an exec-able file system at {path}, then deploy again; no deployer was left there"
        ),
        other => format!("a command drover runs on asset '{name}' failed ({other}): {detail}"),
    };
    stop(TargetState::Failed, f.code, message)
}

/// `target.no_shell`: the login shell of `user` could not run `sh`.
pub(super) fn no_shell(asset: &Asset, user: &str, status: Option<u32>, stderr: &str) -> Stop {
    let said = if stderr.is_empty() { "it printed nothing" } else { stderr };
    let status = status.map_or("none".into(), |s| s.to_string());
    stop(
        TargetState::Failed,
        FailureCode::NoShell,
        format!(
            "asset '{}' answers SSH, but the login shell of user '{user}' cannot run `sh` (exit status {status}: {said}); drover runs its commands there with a POSIX shell: install one as /bin/sh (dash, bash or busybox) or give the account a login shell whose PATH finds it, then deploy again; nothing was put on the machine",
            asset.name
        ),
    )
}

/// `target.sudo_failed` before sudo is tried: the credential needs it and there is none.
pub(super) fn no_sudo(asset: &Asset, user: &str, credential: &str) -> Stop {
    stop(
        TargetState::Failed,
        FailureCode::SudoFailed,
        format!(
            "sudo is not installed on asset '{}' (not on the PATH of user '{user}'), and credential '{credential}' becomes root with sudo: install sudo there (apt-get install sudo) and give '{user}' its rights, or map a root credential, or deploy with run mode scanning-credential; nothing was put on the machine",
            asset.name
        ),
    )
}
