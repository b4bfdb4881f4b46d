//! What each step kind runs. Most become a process (so timeouts apply alike); copies,
//! conditions and process kills are done here directly.

use crate::criteria;
use crate::process::{self, Killed};
use crate::share::Share;
use drover_proto::StepKind;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// How a step went.
pub struct StepRun {
    pub exit_code: Option<i32>,
    pub killed: Option<Killed>,
    /// Why it failed when the exit code does not tell.
    pub message: String,
    /// Output written here rather than by a process.
    pub output: String,
    /// The step asks for a reboot (after `delay_secs`).
    pub reboot: Option<u64>,
}

impl StepRun {
    fn done(code: i32, output: String) -> StepRun {
        StepRun { exit_code: Some(code), killed: None, message: String::new(), output, reboot: None }
    }
    fn failed(message: String) -> StepRun {
        StepRun { exit_code: None, killed: None, message, output: String::new(), reboot: None }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn shell(line: String) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(line);
    c
}

/// Runs one step; `log` receives its output.
pub fn execute(
    kind: &StepKind,
    share: &Share<'_>,
    log: &Path,
    step_limit: Option<Instant>,
    deadline: Instant,
) -> StepRun {
    let command = match kind {
        StepKind::Command { command } => shell(command.clone()),
        StepKind::Installer { path, parameters } => {
            let local = match share.resolve(path) {
                Ok(p) => p,
                Err(m) => return StepRun::failed(m),
            };
            let q = quote(&local);
            let line = if local.ends_with(".deb") {
                format!("DEBIAN_FRONTEND=noninteractive dpkg -i {q} {parameters}")
            } else if local.ends_with(".rpm") {
                format!("rpm -U --replacepkgs {q} {parameters}")
            } else if local.ends_with(".sh") {
                format!("sh {q} {parameters}")
            } else {
                format!("chmod +x {q} && {q} {parameters}")
            };
            shell(line)
        }
        StepKind::Script { path, interpreter, parameters } => {
            let local = match share.resolve(path) {
                Ok(p) => p,
                Err(m) => return StepRun::failed(m),
            };
            let interp = interpreter.clone().unwrap_or_else(|| {
                match Path::new(&local).extension().and_then(|e| e.to_str()) {
                    Some("py") => "python3",
                    Some("pl") => "perl",
                    Some("bash") => "bash",
                    _ => "sh",
                }
                .into()
            });
            shell(format!("{interp} {} {parameters}", quote(&local)))
        }
        StepKind::Uninstall { packages } => {
            let names: Vec<String> = packages.iter().map(|p| quote(p)).collect();
            let names = names.join(" ");
            shell(format!(
                "if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get remove -y {names}; \
                 elif command -v dpkg >/dev/null; then dpkg -r {names}; \
                 elif command -v dnf >/dev/null; then dnf remove -y {names}; \
                 else rpm -e {names}; fi"
            ))
        }
        StepKind::Sleep { seconds } => {
            let mut c = Command::new("sleep");
            c.arg(seconds.to_string());
            c
        }
        StepKind::Message { text } => shell(format!(
            "if command -v wall >/dev/null; then printf '%s\\n' {t} | wall; else for tty in $(who | awk '{{print $2}}'); do printf '%s\\n' {t} > /dev/$tty; done; fi",
            t = quote(text)
        )),
        StepKind::Condition { criteria } => {
            let mut all = true;
            let mut lines = Vec::new();
            for c in criteria {
                let (ok, why) = criteria::check(c);
                all &= ok;
                lines.push(format!("{} {why}", if ok { "holds:" } else { "FAILS:" }));
            }
            return StepRun::done(if all { 0 } else { 1 }, lines.join("\n") + "\n");
        }
        StepKind::KillProcess { name, force, children } => return kill_process(name, *force, *children),
        StepKind::FileCopy { source, destination, mode, owner } => {
            return match copy(share, source, destination, mode.as_deref(), owner.as_deref()) {
                Ok(()) => StepRun::done(0, format!("copied {source} to {destination}\n")),
                Err(m) => StepRun { exit_code: Some(1), ..StepRun::failed(m) },
            };
        }
        StepKind::Reboot { delay_secs } => {
            return StepRun { reboot: Some(*delay_secs), ..StepRun::done(0, "rebooting\n".into()) };
        }
    };
    let mut command = command;
    match process::run(&mut command, log, step_limit, deadline) {
        Ok(o) => StepRun {
            exit_code: o.exit_code,
            killed: o.killed,
            message: String::new(),
            output: String::new(),
            reboot: None,
        },
        Err(e) => StepRun::failed(format!("cannot start the step: {e}")),
    }
}

fn copy(share: &Share<'_>, source: &str, dest: &str, mode: Option<&str>, owner: Option<&str>) -> Result<(), String> {
    let local = share.resolve(source)?;
    let dest_path = Path::new(dest);
    if let Some(dir) = dest_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = dest_path.with_file_name(format!(
        ".{}.drover-tmp",
        dest_path.file_name().map_or("file".into(), |n| n.to_string_lossy())
    ));
    std::fs::copy(&local, &tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    if let Some(m) = mode {
        use std::os::unix::fs::PermissionsExt;
        let bits = u32::from_str_radix(m, 8).map_err(|_| format!("mode '{m}' is not octal"))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(bits)).map_err(|e| format!("chmod {m}: {e}"))?;
    }
    if let Some(o) = owner {
        let ok = Command::new("chown").arg(o).arg(&tmp).status().map(|s| s.success()).unwrap_or(false);
        if !ok {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("chown {o} {dest} failed"));
        }
    }
    std::fs::rename(&tmp, dest_path).map_err(|e| format!("cannot move into {dest}: {e}"))
}

fn kill_process(name: &str, force: bool, children: bool) -> StepRun {
    let me = std::process::id();
    let pids: Vec<u32> =
        process::processes().into_iter().filter(|p| p.pid != me && p.name == name).map(|p| p.pid).collect();
    if pids.is_empty() {
        return StepRun::done(0, format!("no process named {name} runs\n"));
    }
    let mut all = pids.clone();
    if children {
        for p in &pids {
            all.extend(process::descendants(*p));
        }
        all.sort_unstable();
        all.dedup();
    }
    process::signal(&all, if force { "KILL" } else { "TERM" });
    StepRun::done(0, format!("signalled {} process(es): {:?}\n", all.len(), all))
}
