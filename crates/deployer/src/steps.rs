//! What each step kind runs. Installer, command, script, uninstall, sleep and message
//! become one child process (`/bin/sh -c ...` or `sleep`), so timeouts apply alike;
//! file copy, kill process, condition and reboot are done by the deployer itself.

use crate::copy;
use crate::inproc;
use crate::process::{self, Killed, Limits};
use crate::share::Share;
use drover_proto::StepKind;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// How a step went.
#[derive(Debug, Default)]
pub struct StepRun {
    pub exit_code: Option<i32>,
    pub killed: Option<Killed>,
    /// Why it failed when the exit code does not tell.
    pub message: String,
    /// The step asks for a reboot after this many seconds.
    pub reboot: Option<u64>,
}

impl StepRun {
    pub fn code(code: i32) -> StepRun {
        StepRun { exit_code: Some(code), ..StepRun::default() }
    }
    pub fn failed(message: String) -> StepRun {
        StepRun { message, ..StepRun::default() }
    }
}

/// `s` as one single-quoted shell word.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The extension of a path, lowercased.
fn extension(path: &str) -> String {
    Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

/// The shell line of an installer (already local) with its parameters, which the shell
/// splits: `.deb` → `dpkg -i`, `.rpm` → `rpm -U --replacepkgs`, `.sh` → `sh`, else run
/// directly (made executable first).
pub fn installer_line(local: &str, parameters: &str) -> String {
    let (q, p) = (quote(local), parameters.trim());
    let line = match extension(local).as_str() {
        "deb" => format!("DEBIAN_FRONTEND=noninteractive exec dpkg {p} -i {q}"),
        "rpm" => format!("exec rpm -U --replacepkgs {p} {q}"),
        "sh" => format!("exec sh {q} {p}"),
        _ => format!("exec {q} {p}"),
    };
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The shell line of a script: its interpreter (given, else by extension: `.sh` → sh,
/// `.bash` → bash, `.py` → python3, `.pl` → perl; else run directly).
pub fn script_line(local: &str, interpreter: Option<&str>, parameters: &str) -> String {
    let (q, p) = (quote(local), parameters.trim());
    let by_extension = match extension(local).as_str() {
        "sh" => Some("sh"),
        "bash" => Some("bash"),
        "py" => Some("python3"),
        "pl" => Some("perl"),
        _ => None,
    };
    let line = match interpreter.map(str::trim).filter(|i| !i.is_empty()).or(by_extension) {
        Some(i) => format!("exec {i} {q} {p}"),
        None => format!("exec {q} {p}"),
    };
    line.trim_end().to_string()
}

/// Removes dpkg packages (apt-get where it exists, else dpkg -r) or rpm packages.
pub fn uninstall_line(packages: &[String]) -> String {
    let names: Vec<String> = packages.iter().map(|p| quote(p)).collect();
    let names = names.join(" ");
    format!(
        "if command -v dpkg >/dev/null 2>&1; then \
           if command -v apt-get >/dev/null 2>&1; then DEBIAN_FRONTEND=noninteractive exec apt-get remove -y {names}; \
           else exec dpkg -r {names}; fi; \
         elif command -v rpm >/dev/null 2>&1; then exec rpm -e {names}; \
         else echo 'neither dpkg nor rpm is installed' >&2; exit 127; fi"
    )
}

/// Sends the text (`$1`) to logged-on users: `wall`, else each terminal `who` lists.
pub const MESSAGE_SCRIPT: &str = r#"if command -v wall >/dev/null 2>&1; then printf '%s\n' "$1" | wall && echo "sent with wall"; else
n=0; for t in $(who | while read -r u t rest; do echo "$t"; done); do
  if printf '%s\n' "$1" >"/dev/$t" 2>/dev/null; then echo "sent to /dev/$t"; n=$((n+1)); fi
done; echo "wall is not installed; written to $n terminal(s)"; fi"#;

fn shell(line: String) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(line);
    c
}

/// Makes a downloaded file executable by its owner (it is run directly).
fn make_executable(path: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    let mut perm = meta.permissions();
    perm.set_mode(perm.mode() | 0o100);
    std::fs::set_permissions(path, perm).map_err(|e| format!("cannot make {path} executable: {e}"))
}

/// Runs one step; its output goes to `log`.
pub fn execute(kind: &StepKind, share: &Share<'_>, log: &File, limits: &Limits) -> StepRun {
    let local = |path: &str| share.resolve(path, limits);
    let command = match kind {
        StepKind::Command { command } => Ok(shell(command.clone())),
        StepKind::Installer { path, parameters } => local(path).and_then(|l| {
            if !matches!(extension(&l).as_str(), "deb" | "rpm" | "sh") {
                make_executable(&l)?;
            }
            Ok(shell(installer_line(&l, parameters)))
        }),
        StepKind::Script { path, interpreter, parameters } => local(path).and_then(|l| {
            let line = script_line(&l, interpreter.as_deref(), parameters);
            if line.starts_with(&format!("exec {}", quote(&l))) {
                make_executable(&l)?;
            }
            Ok(shell(line))
        }),
        StepKind::Uninstall { packages } if packages.is_empty() => {
            let _ = writeln!(&*log, "no packages to remove");
            return StepRun::code(0);
        }
        StepKind::Uninstall { packages } => Ok(shell(uninstall_line(packages))),
        StepKind::Sleep { seconds } => {
            let mut c = Command::new("sleep");
            c.arg(seconds.to_string());
            Ok(c)
        }
        StepKind::Message { text } => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(MESSAGE_SCRIPT).arg("message").arg(text);
            Ok(c)
        }
        StepKind::Condition { criteria } => return inproc::condition(criteria, log, limits),
        StepKind::KillProcess { process: name, force, children } => {
            return inproc::kill_process(name, *force, *children, log, limits);
        }
        StepKind::FileCopy { source, destination, mode, owner } => {
            return match share.copy_source(source, limits) {
                Ok(from) => copy::file_copy(&from, destination, mode.as_deref(), owner.as_deref(), log),
                Err(m) => StepRun::failed(m),
            };
        }
        StepKind::Reboot { delay_secs } => {
            let _ = writeln!(&*log, "the machine reboots in {delay_secs} s; the package resumes after the boot");
            return StepRun { reboot: Some(*delay_secs), ..StepRun::code(0) };
        }
    };
    let mut command = match command {
        Ok(c) => c,
        Err(m) => return StepRun::failed(m),
    };
    match process::run(&mut command, log, limits) {
        Ok(o) => StepRun { exit_code: o.exit_code, killed: o.killed, ..StepRun::default() },
        Err(e) => StepRun::failed(format!("cannot start the step: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installers_by_kind() {
        assert_eq!(installer_line("/w/a.deb", ""), "DEBIAN_FRONTEND=noninteractive exec dpkg -i '/w/a.deb'");
        assert_eq!(
            installer_line("/w/a.deb", "--force-confold"),
            "DEBIAN_FRONTEND=noninteractive exec dpkg --force-confold -i '/w/a.deb'"
        );
        assert_eq!(installer_line("/w/a.RPM", "--nodeps"), "exec rpm -U --replacepkgs --nodeps '/w/a.RPM'");
        assert_eq!(installer_line("/w/i.sh", "--yes 'a b'"), "exec sh '/w/i.sh' --yes 'a b'");
        assert_eq!(installer_line("/w/it's", "-q"), r"exec '/w/it'\''s' -q");
    }

    #[test]
    fn scripts_by_interpreter_or_extension() {
        assert_eq!(script_line("/w/s.py", None, "x"), "exec python3 '/w/s.py' x");
        assert_eq!(script_line("/w/s.pl", None, ""), "exec perl '/w/s.pl'");
        assert_eq!(script_line("/w/s.sh", None, ""), "exec sh '/w/s.sh'");
        assert_eq!(script_line("/w/s.sh", Some("bash -e"), "1"), "exec bash -e '/w/s.sh' 1");
        assert_eq!(script_line("/w/tool", None, "-v"), "exec '/w/tool' -v");
    }

    #[test]
    fn shell_lines_run() {
        let out = |line: &str, arg: &str| {
            let o = Command::new("/bin/sh").arg("-c").arg(line).arg("x").arg(arg).output().unwrap();
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        assert_eq!(out(&format!("printf %s {}", quote("it's $HOME")), ""), "it's $HOME");
        // without wall and terminals the message script still ends cleanly
        let o = Command::new("/bin/sh").arg("-n").arg("-c").arg(MESSAGE_SCRIPT).status().unwrap();
        assert!(o.success());
        let o = Command::new("/bin/sh").arg("-n").arg("-c").arg(uninstall_line(&["a".into()])).status().unwrap();
        assert!(o.success());
    }
}
