//! The shell scripts drover runs on targets over SSH (`scripts/*.sh`, embedded), the one
//! function that quotes a script and its positional arguments into a command line, and
//! the parsing of what the scripts print. No value is ever formatted into a script's text.

use crate::deploy::sessions::{self, LoginSession};
use drover_domain::FailureCode;
use drover_domain::asset::{HostFacts, normalize_mac};
use drover_domain::ids::TargetId;
use drover_domain::package::{FinalAction, FinalActionKind};
use drover_proto::{Report, workdir};

/// A shell script run on targets; `name` is its `$0` (it names it in error messages).
#[derive(Debug)]
pub(crate) struct Script {
    pub name: &'static str,
    pub text: &'static str,
    /// Scripts whose texts are its first arguments, before the call's own (the start
    /// script runs the facts and the launch in its shell).
    pub leading: &'static [&'static Script],
}

impl Script {
    pub(crate) const fn new(name: &'static str, text: &'static str) -> Script {
        Script { name, text, leading: &[] }
    }
}

pub(crate) const FACTS: Script = Script::new("drover-facts", include_str!("scripts/facts.sh"));
pub(crate) const UPLOAD: Script = Script::new("drover-upload", include_str!("scripts/upload.sh"));
pub(crate) const LAUNCH: Script = Script::new("drover-launch", include_str!("scripts/launch.sh"));
pub(crate) const TASK: Script = Script::new("drover-task", include_str!("scripts/task.sh"));
pub(crate) const FINAL_ACTION: Script = Script::new("drover-final-action", include_str!("scripts/final_action.sh"));
pub(crate) const START: Script =
    Script { name: "drover-start", text: include_str!("scripts/start.sh"), leading: &[&FACTS, &LAUNCH] };
pub(crate) const SUDO_CHECK: Script = Script::new("drover-sudo-check", include_str!("scripts/sudo_check.sh"));

/// A script with its positional arguments.
#[derive(Debug)]
pub(crate) struct Call {
    pub script: &'static Script,
    pub args: Vec<String>,
}

/// Quotes a string for POSIX sh (as `command` does each argument).
#[cfg(test)]
pub(crate) fn sh_quote(s: &str) -> String {
    let mut q = String::with_capacity(quoted_len(s));
    push_quoted(&mut q, s);
    q
}

fn quoted_len(s: &str) -> usize {
    s.len() + 2 + 3 * s.bytes().filter(|b| *b == b'\'').count()
}

fn push_quoted(line: &mut String, s: &str) {
    line.push('\'');
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            line.push_str(r"'\''");
        }
        line.push_str(part);
    }
    line.push('\'');
}

/// The command line that runs a call (as root when `privilege` is given) and what to put
/// on its standard input before the script's own input (the sudo password):
/// `[sudo …] sh -c '<script>' <name> '<arg1>' '<arg2>' …`. (Built at its exact length:
/// a target holds it until it is sent, and a start's is about 11 KB.)
pub(crate) fn command(call: &Call, privilege: Option<&Privilege>) -> (String, Vec<u8>) {
    let (sudo, input) = match privilege {
        None | Some(Privilege::Root) => ("", Vec::new()),
        Some(Privilege::SudoNoPassword) => ("sudo -n -- ", Vec::new()),
        Some(Privilege::SudoPassword(pw)) => ("sudo -S -p '' -- ", format!("{pw}\n").into_bytes()),
    };
    let script = call.script;
    let args = || script.leading.iter().map(|s| s.text).chain(call.args.iter().map(String::as_str));
    let len = sudo.len() + "sh -c ".len() + quoted_len(script.text) + 1 + script.name.len();
    let mut line = String::with_capacity(len + args().map(|a| 1 + quoted_len(a)).sum::<usize>());
    line.push_str(sudo);
    line.push_str("sh -c ");
    push_quoted(&mut line, script.text);
    line.push(' ');
    line.push_str(script.name);
    for a in args() {
        line.push(' ');
        push_quoted(&mut line, a);
    }
    (line, input)
}

/// What the first script learns about the target, as the login user.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Facts {
    pub uid: Option<u32>,
    pub user: String,
    /// The login user's home directory (`$HOME`).
    pub home: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub macs: Vec<String>,
    /// Sessions (utmp / logind), in the order listed, with where they are.
    pub sessions: Vec<LoginSession>,
    pub systemd: bool,
    /// `sudo` is on the login user's PATH.
    pub sudo: bool,
    /// `gzip` is on the login user's PATH: the deployer is uploaded compressed.
    pub gzip: bool,
    /// The server's address as the target sees it (from `$SSH_CONNECTION`).
    pub client_ip: Option<String>,
    /// The deployer files (`bin/drover-deployer-<hash>`) already under /var/lib/drover,
    /// and under ~/.drover.
    pub deployers_in_root_dir: Vec<String>,
    pub deployers_in_home_dir: Vec<String>,
    /// What identifies the machine's current boot (see `facts.sh`).
    pub boot: Option<String>,
}

impl Facts {
    /// What the inventory keeps of them.
    pub fn host_facts(&self) -> HostFacts {
        HostFacts {
            hostname: self.hostname.clone(),
            os: self.os.clone(),
            arch: self.arch.clone(),
            macs: self.macs.clone(),
        }
    }
}

/// Learns the host, and which of the deployers with these hashes are there.
pub(crate) fn facts<'a>(deployer_sha256s: impl IntoIterator<Item = &'a str>) -> Call {
    facts_under(workdir::ROOT_BASE, deployer_sha256s)
}

/// [`facts`] with another root base (tests).
pub(crate) fn facts_under<'a>(root_base: &str, deployer_sha256s: impl IntoIterator<Item = &'a str>) -> Call {
    let mut args = vec![root_base.to_string(), workdir::HOME_BASE.to_string()];
    args.extend(deployer_sha256s.into_iter().map(workdir::deployer_file));
    Call { script: &FACTS, args }
}

pub(crate) fn parse_facts(out: &str) -> Facts {
    let mut f = Facts::default();
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let some = || (!v.is_empty()).then(|| v.to_string());
        match k {
            "uid" => f.uid = v.parse().ok(),
            "user" => f.user = v.to_string(),
            "home" => f.home = some(),
            "hostname" => f.hostname = some(),
            "arch" => f.arch = some(),
            "os" => f.os = some(),
            "mac" => {
                if let Some(m) = normalize_mac(v).filter(|m| m != "00:00:00:00:00:00")
                    && !f.macs.contains(&m)
                {
                    f.macs.push(m);
                }
            }
            "who" => f.sessions.extend(sessions::parse_who(v)),
            "logind" => f.sessions.extend(sessions::parse_logind(v)),
            "systemd" => f.systemd = true,
            "sudo" => f.sudo = true,
            "gzip" => f.gzip = true,
            "client" => f.client_ip = some(),
            "boot" => f.boot = some(),
            "deployer" => match v.split_once(':') {
                Some(("root", file)) => f.deployers_in_root_dir.push(file.to_string()),
                Some(("home", file)) => f.deployers_in_home_dir.push(file.to_string()),
                _ => {}
            },
            _ => {}
        }
    }
    f
}

/// The failure a script named on its stderr (`drover-fail=CODE PATH`, see upload.sh and
/// launch.sh): the code, the folder it concerns, and the rest of the error output.
#[derive(Debug, PartialEq)]
pub(crate) struct ScriptFailure {
    pub code: FailureCode,
    pub path: String,
    pub detail: String,
}

/// Reads the `drover-fail=` line of a script's error output, if it has one it knows.
pub(crate) fn parse_failure(stderr: &str) -> Option<ScriptFailure> {
    let (code, path) = stderr.lines().find_map(|l| l.strip_prefix("drover-fail="))?.split_once(' ')?;
    let code = match code {
        "read_only" => FailureCode::ReadOnly,
        "disk_full" => FailureCode::DiskFull,
        "noexec" => FailureCode::NoExec,
        _ => return None,
    };
    let detail = stderr.lines().filter(|l| !l.starts_with("drover-fail=")).collect::<Vec<_>>().join("\n");
    Some(ScriptFailure { code, path: path.trim().to_string(), detail: detail.trim().to_string() })
}

/// Whether the facts script's outcome shows that the login shell could not run `sh`:
/// "command not found" (127) or "cannot execute" (126), or a success that printed none
/// of the facts (an `sh` that is not a shell, e.g. an empty file, runs nothing).
pub(crate) fn shell_missing(exit_status: Option<u32>, stdout: &str) -> bool {
    match exit_status {
        Some(126 | 127) => true,
        Some(0) => !stdout.lines().any(|l| l.starts_with("uid=")),
        _ => false,
    }
}

/// How a script gets root, when it needs to.
#[derive(Clone, PartialEq)]
pub(crate) enum Privilege {
    /// The login user is root already.
    Root,
    SudoNoPassword,
    SudoPassword(String),
}

impl Privilege {
    pub fn is_sudo(&self) -> bool {
        !matches!(self, Privilege::Root)
    }
}

impl std::fmt::Debug for Privilege {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Privilege::Root => "Root",
            Privilege::SudoNoPassword => "SudoNoPassword",
            Privilege::SudoPassword(_) => "SudoPassword(<redacted>)",
        })
    }
}

/// Proves that sudo accepts the credential, with nothing else on its input.
pub(crate) fn sudo_check() -> Call {
    Call { script: &SUDO_CHECK, args: Vec::new() }
}

/// How the detached task is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Launcher {
    /// A unit of its own (root on a systemd machine: outside the SSH session's cgroup).
    SystemdRun,
    /// The deployer forks its task into the background (`drover-deployer start`), and
    /// writes the job unless the task runs as another user.
    Deployer,
}

impl Launcher {
    pub fn pick(facts: &Facts, as_root: bool) -> Launcher {
        if as_root && facts.systemd { Launcher::SystemdRun } else { Launcher::Deployer }
    }
    /// Its name, as the launch script takes it.
    pub fn name(self) -> &'static str {
        match self {
            Launcher::SystemdRun => "systemd-run",
            Launcher::Deployer => "deployer",
        }
    }
}

/// Where drover keeps its files on a target: [`workdir::ROOT_BASE`] for root, else
/// under the login user's home (an absolute path, as the target's `$HOME` says).
pub(crate) fn base_dir(as_root: bool, home: &str) -> String {
    if as_root {
        workdir::ROOT_BASE.to_string()
    } else {
        format!("{}/{}", home.trim_end_matches('/'), workdir::HOME_BASE)
    }
}

/// Whether a work directory is under the root base (the task was created as root).
pub(crate) fn is_root_dir(dir: &str) -> bool {
    dir.starts_with(&format!("{}/", workdir::ROOT_BASE))
}

pub(crate) fn deployer_path(base: &str, sha256: &str) -> String {
    format!("{base}/{}", workdir::deployer_file(sha256))
}

/// A target's work directory under a base.
pub(crate) fn target_dir(base: &str, id: TargetId) -> String {
    format!("{base}/{}/{}", workdir::TARGETS, id.0)
}

/// Reads the deployer from stdin, checks its hash, installs it at `deployer`.
pub(crate) fn upload(base: &str, deployer: &str, sha256: &str, gzipped: bool) -> Call {
    let packed = if gzipped { "gzip" } else { "plain" };
    Call { script: &UPLOAD, args: vec![base.into(), deployer.into(), sha256.into(), packed.into()] }
}

/// The work directory and its file names: the first arguments of launch and task.
fn in_workdir(script: &'static Script, dir: &str, rest: &[&str]) -> Call {
    let names = [workdir::JOB, workdir::PID, workdir::TASK_PID, workdir::RECORD, workdir::DEPLOYER_LOG, workdir::FILES];
    let args = std::iter::once(dir).chain(names).chain(rest.iter().copied()).map(String::from).collect();
    Call { script, args }
}

/// Everything the launch needs to know.
pub(crate) struct LaunchPlan<'a> {
    pub dir: &'a str,
    pub deployer: &'a str,
    /// Switch to this user (the launch runs as root then).
    pub run_as: Option<&'a str>,
    pub launcher: Launcher,
    pub unit: &'a str,
    /// The task resumes after a reboot step: its record is kept.
    pub resume: bool,
}

/// Writes the job from stdin and creates the detached task; prints `pid=N`.
pub(crate) fn launch(p: &LaunchPlan<'_>) -> Call {
    let resume = if p.resume { "1" } else { "0" };
    let rest = [p.deployer, p.launcher.name(), p.unit, p.run_as.unwrap_or(""), resume, workdir::STARTED];
    in_workdir(&LAUNCH, p.dir, &rest)
}

/// Who the task runs as, as far as the server knows before it learns the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// The login user (run mode scanning-credential).
    User,
    /// Root: the login user if it is root, else through `sudo -n` when `sudo` (the
    /// credential has password-less sudo).
    Root { sudo: bool },
    /// The server decides from the facts (a logged-on user to find, a sudo password to
    /// check first).
    Server,
}

/// Everything the start script needs to know.
pub(crate) struct StartPlan<'a> {
    pub root_base: &'a str,
    pub target: TargetId,
    pub need: Need,
    pub unit: &'a str,
    pub resume: bool,
    /// The server's deployer builds: architecture (as `uname -m` says it) and SHA-256.
    pub builds: Vec<(&'a str, &'a str)>,
}

/// Learns the host and, in the common case, writes the job from stdin and creates the
/// task in the same run (see `start.sh`).
pub(crate) fn start(p: &StartPlan<'_>) -> Call {
    let (need, sudo) = match p.need {
        Need::User => ("user", false),
        Need::Root { sudo } => ("root", sudo),
        Need::Server => ("server", false),
    };
    let mut args: Vec<String> = vec![
        p.root_base.into(),
        workdir::HOME_BASE.into(),
        need.into(),
        if sudo { "1" } else { "0" }.into(),
        format!("{}/{}", workdir::TARGETS, p.target.0),
        p.unit.into(),
        if p.resume { "1" } else { "0" }.into(),
    ];
    let names = [
        workdir::JOB,
        workdir::PID,
        workdir::TASK_PID,
        workdir::RECORD,
        workdir::DEPLOYER_LOG,
        workdir::FILES,
        workdir::STARTED,
    ];
    args.extend(names.iter().map(|n| n.to_string()));
    args.extend(p.builds.iter().map(|(arch, sha)| format!("{arch}={}", workdir::deployer_file(sha))));
    Call { script: &START, args }
}

/// What the start script did: created the task in `dir` with `launcher` (the launch's
/// own output follows), or left the rest to the server, saying why.
#[derive(Debug, PartialEq)]
pub(crate) enum Start {
    Launched { launcher: String, dir: String },
    Server(String),
}

/// Reads the `start=` line of the start script's output (None: it stopped before).
pub(crate) fn parse_start(out: &str) -> Option<Start> {
    let rest = out.lines().find_map(|l| l.strip_prefix("start="))?;
    match rest.split_once(' ') {
        Some(("launched", rest)) => {
            let (launcher, dir) = rest.split_once(' ')?;
            Some(Start::Launched { launcher: launcher.to_string(), dir: dir.to_string() })
        }
        Some(("server", why)) => Some(Start::Server(why.to_string())),
        _ => None,
    }
}

/// The pid the launch printed (`pid=N`).
pub(crate) fn launched_pid(out: &str) -> Option<i64> {
    out.lines().find_map(|l| l.strip_prefix("pid=")).and_then(|p| p.trim().parse::<i64>().ok())
}

pub(crate) const ALIVE: &str = "__DROVER_TASK_ALIVE__";

/// Prints the record and whether the deployer still runs.
pub(crate) fn check(dir: &str) -> Call {
    in_workdir(&TASK, dir, &["check", ALIVE])
}

/// Ends the task's process group and prints the record.
pub(crate) fn kill(dir: &str, unit: &str) -> Call {
    in_workdir(&TASK, dir, &["kill", unit])
}

/// Starts the package's final action after its delay, detached; None when there is none.
pub(crate) fn final_action(f: FinalAction, package: &str) -> Option<Call> {
    let (what, cmd) = match f.action {
        FinalActionKind::None => return None,
        FinalActionKind::Reboot => ("restarts", "reboot"),
        FinalActionKind::Shutdown => ("shuts down", "poweroff"),
        FinalActionKind::Logoff => ("logs off its users", "logoff"),
    };
    let delay = f.delay_secs;
    let warn = if delay > 0 {
        format!("drover: this machine {what} in {delay} s (after package {package})")
    } else {
        String::new()
    };
    Some(Call { script: &FINAL_ACTION, args: vec![cmd.into(), delay.to_string(), warn] })
}

/// The reports in a collected record, and whether the task was alive. A torn last line
/// (the deployer was writing it) is skipped.
pub(crate) fn parse_record(out: &str) -> (Vec<Report>, bool) {
    let mut alive = false;
    let mut reports = Vec::new();
    for line in out.lines() {
        if line.trim() == ALIVE {
            alive = true;
        } else if let Ok(r) = serde_json::from_str::<Report>(line) {
            reports.push(r);
        }
    }
    (reports, alive)
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "scripts_tests.rs"]
mod scripts_tests;
