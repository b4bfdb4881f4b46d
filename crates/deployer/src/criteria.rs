//! Condition criteria: each holds or fails, with a line saying why.

use crate::known;
use crate::process::{self, Killed, Limits};
use crate::share::sha256_file;
use drover_proto::version::compare;
use drover_proto::{Criterion, VersionOp};
use std::cmp::Ordering;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

/// The answer for one criterion.
#[derive(Debug)]
pub struct Verdict {
    pub holds: bool,
    pub why: String,
    /// A criterion's command was ended by the step timeout or the deadline.
    pub killed: Option<Killed>,
}

fn verdict(holds: bool, why: String) -> Verdict {
    Verdict { holds, why, killed: None }
}

/// Exit code and standard output of a quick system query; None when it cannot run.
fn output(cmd: &str, args: &[&str]) -> Option<(i32, String)> {
    let out = Command::new(cmd).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    Some((out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned()))
}

pub fn op_holds(op: VersionOp, ord: Ordering) -> bool {
    match op {
        VersionOp::Eq => ord == Ordering::Equal,
        VersionOp::Ne => ord != Ordering::Equal,
        VersionOp::Lt => ord == Ordering::Less,
        VersionOp::Le => ord != Ordering::Greater,
        VersionOp::Gt => ord == Ordering::Greater,
        VersionOp::Ge => ord != Ordering::Less,
    }
}

fn op_text(op: VersionOp) -> &'static str {
    match op {
        VersionOp::Eq => "=",
        VersionOp::Ne => "!=",
        VersionOp::Lt => "<",
        VersionOp::Le => "<=",
        VersionOp::Gt => ">",
        VersionOp::Ge => ">=",
    }
}

/// The version of an installed package from `dpkg-query -W -f='${Status} ${Version}\n'`
/// output ("install ok installed 1.2-3" per architecture): the highest installed one.
pub fn parse_dpkg_status(out: &str) -> Option<String> {
    let installed = out.lines().filter_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w.len() >= 4 && w[2] == "installed").then(|| w[3].to_string())
    });
    installed.max_by(|a, b| compare(a, b))
}

/// The installed version of a package: dpkg where `dpkg-query` exists, else rpm.
/// Err when neither is there.
fn installed_version(name: &str) -> Result<Option<String>, String> {
    if let Some((code, out)) = output("dpkg-query", &["-W", "-f=${Status} ${Version}\\n", name]) {
        return Ok(if code == 0 { parse_dpkg_status(&out) } else { None });
    }
    match output("rpm", &["-q", "--qf", "%{VERSION}-%{RELEASE}\\n", name]) {
        Some((0, out)) => {
            Ok(out.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).max_by(|a, b| compare(a, b)))
        }
        Some(_) => Ok(None),
        None => Err("neither dpkg-query nor rpm is installed to ask".into()),
    }
}

/// `ID` and `VERSION_ID` of an os-release file's text.
pub fn parse_os_release(text: &str) -> (String, String) {
    let get = |key: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .next_back()
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .unwrap_or_default()
    };
    (get("ID"), get("VERSION_ID"))
}

fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    parse_os_release(&text)
}

/// One spelling per architecture (`amd64` and `x86_64` are the same machine).
pub fn canonical_arch(arch: &str) -> String {
    let a = arch.trim().to_ascii_lowercase();
    match a.as_str() {
        "amd64" | "x64" | "x86-64" => "x86_64".into(),
        "arm64" | "armv8" | "aarch64_be" => "aarch64".into(),
        "i386" | "i486" | "i586" | "x86" | "386" => "i686".into(),
        "armhf" | "armv7" | "arm" => "armv7l".into(),
        "ppc64el" => "ppc64le".into(),
        _ => a,
    }
}

fn machine_arch() -> String {
    match output("uname", &["-m"]) {
        Some((0, o)) if !o.trim().is_empty() => o.trim().to_string(),
        _ => std::env::consts::ARCH.to_string(),
    }
}

/// Users with a session: the first column of `who`, else `loginctl list-users`.
pub fn logged_on_users() -> Vec<String> {
    let mut users: Vec<String> = output("who", &[])
        .map(|(_, o)| o.lines().filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect())
        .unwrap_or_default();
    if users.is_empty()
        && let Some((0, o)) = output("loginctl", &["list-users", "--no-legend"])
    {
        users = o.lines().filter_map(|l| l.split_whitespace().nth(1).map(str::to_string)).collect();
    }
    users.sort();
    users.dedup();
    users
}

fn compared(what: &str, have: &str, op: VersionOp, want: &str) -> Verdict {
    let holds = op_holds(op, compare(have, want));
    verdict(holds, format!("{what} {have} {} {} {want}", if holds { "is" } else { "is not" }, op_text(op)))
}

/// Checks one criterion. A command criterion's output goes to `log`, and the command
/// is ended by the step's `limits`.
pub fn check(c: &Criterion, log: &File, limits: &Limits) -> Verdict {
    match c {
        Criterion::FileExists { path } => {
            let ok = Path::new(path).exists();
            verdict(ok, format!("file {path} {}", if ok { "exists" } else { "does not exist" }))
        }
        Criterion::FileAbsent { path } => {
            let ok = !Path::new(path).exists();
            verdict(ok, format!("file {path} {}", if ok { "is absent" } else { "exists" }))
        }
        Criterion::FileHash { path, sha256 } if let Some(h) = known::sha256(Path::new(path)) => {
            let holds = h.eq_ignore_ascii_case(sha256.trim());
            let not = if holds { String::new() } else { format!(", not {sha256}") };
            verdict(holds, format!("file {path} has SHA-256 {h}{not} (unchanged since this task's copy wrote it)"))
        }
        Criterion::FileHash { path, sha256 } => match sha256_file(Path::new(path)) {
            Ok(h) if h.eq_ignore_ascii_case(sha256.trim()) => verdict(true, format!("file {path} has SHA-256 {h}")),
            Ok(h) => verdict(false, format!("file {path} has SHA-256 {h}, not {sha256}")),
            Err(e) => verdict(false, format!("file {path} cannot be read: {e}")),
        },
        Criterion::SoftwareInstalled { name } => match installed_version(name) {
            Ok(Some(v)) => verdict(true, format!("{name} {v} is installed")),
            Ok(None) => verdict(false, format!("{name} is not installed")),
            Err(e) => verdict(false, format!("cannot tell whether {name} is installed: {e}")),
        },
        Criterion::SoftwareAbsent { name } => match installed_version(name) {
            Ok(Some(v)) => verdict(false, format!("{name} {v} is installed")),
            Ok(None) => verdict(true, format!("{name} is not installed")),
            Err(e) => verdict(false, format!("cannot tell whether {name} is installed: {e}")),
        },
        Criterion::SoftwareVersion { name, op, version } => match installed_version(name) {
            Ok(Some(v)) => compared(name, &v, *op, version),
            Ok(None) => verdict(false, format!("{name} is not installed")),
            Err(e) => verdict(false, format!("cannot tell which {name} is installed: {e}")),
        },
        Criterion::Os { id, op, version } => {
            let (have_id, have_version) = os_release();
            if !have_id.eq_ignore_ascii_case(id.trim()) {
                let shown = if have_id.is_empty() { "unknown (no ID in /etc/os-release)" } else { &have_id };
                return verdict(false, format!("OS is {shown}, not {id}"));
            }
            match version {
                Some(v) => compared(&format!("OS {have_id}"), &have_version, op.unwrap_or(VersionOp::Eq), v),
                None => verdict(true, format!("OS is {have_id} {have_version}")),
            }
        }
        Criterion::Arch { arch } => {
            let have = machine_arch();
            let ok = canonical_arch(&have) == canonical_arch(arch);
            verdict(ok, format!("architecture is {have}{}", if ok { String::new() } else { format!(", not {arch}") }))
        }
        Criterion::CommandExit { command, codes } => {
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c").arg(command);
            match process::run(&mut cmd, log, limits) {
                Ok(o) if o.killed.is_some() => Verdict {
                    holds: false,
                    why: format!("`{command}` was killed: the step's timeout or the max duration passed"),
                    killed: o.killed,
                },
                Ok(o) => {
                    let ok = o.exit_code.is_some_and(|c| codes.contains(&c));
                    let code = o.exit_code.map_or("ended by a signal".into(), |c| format!("exited {c}"));
                    verdict(ok, format!("`{command}` {code} (expected {codes:?})"))
                }
                Err(e) => verdict(false, format!("`{command}` cannot start: {e}")),
            }
        }
        Criterion::UserLoggedOn { user } => {
            let users = logged_on_users();
            let ok = match user {
                Some(u) => users.iter().any(|x| x == u),
                None => !users.is_empty(),
            };
            let who = if users.is_empty() { "nobody".to_string() } else { users.join(", ") };
            let wanted = user.as_ref().map_or(String::new(), |u| format!(" (looking for {u})"));
            verdict(ok, format!("logged on: {who}{wanted}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn limits() -> Limits {
        Limits { step: None, deadline: Instant::now() + Duration::from_secs(30) }
    }

    #[test]
    fn files_commands_and_arch() {
        let dir = tempfile::tempdir().unwrap();
        let log = File::create(dir.path().join("log")).unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"abc").unwrap();
        let path = f.to_string_lossy().into_owned();
        let l = limits();
        assert!(check(&Criterion::FileExists { path: path.clone() }, &log, &l).holds);
        assert!(!check(&Criterion::FileAbsent { path: path.clone() }, &log, &l).holds);
        let sha = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD".to_string();
        assert!(check(&Criterion::FileHash { path, sha256: sha }, &log, &l).holds);
        assert!(check(&Criterion::CommandExit { command: "exit 3".into(), codes: vec![3] }, &log, &l).holds);
        let v = check(&Criterion::CommandExit { command: "exit 4".into(), codes: vec![0] }, &log, &l);
        assert!(!v.holds && v.why.contains("exited 4"), "{}", v.why);
        assert!(check(&Criterion::Arch { arch: std::env::consts::ARCH.into() }, &log, &l).holds);
        let gone = Limits { step: Some(Instant::now()), deadline: Instant::now() + Duration::from_secs(30) };
        let v = check(&Criterion::CommandExit { command: "sleep 5".into(), codes: vec![0] }, &log, &gone);
        assert_eq!(v.killed, Some(Killed::StepTimeout));
    }

    #[test]
    fn parses_system_answers() {
        let (id, v) = parse_os_release("NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\nID_LIKE=x\n");
        assert_eq!((id.as_str(), v.as_str()), ("debian", "12"));
        assert_eq!(parse_dpkg_status("install ok installed 1.2-3\n"), Some("1.2-3".into()));
        assert_eq!(parse_dpkg_status("deinstall ok config-files 1.2-3\n"), None);
        assert_eq!(parse_dpkg_status("install ok installed 1.9\ninstall ok installed 1.10\n"), Some("1.10".into()));
        assert_eq!(canonical_arch("amd64"), canonical_arch("x86_64"));
        assert_eq!(canonical_arch("arm64"), "aarch64");
        assert_ne!(canonical_arch("aarch64"), canonical_arch("x86_64"));
        assert!(op_holds(VersionOp::Ge, Ordering::Equal) && !op_holds(VersionOp::Lt, Ordering::Equal));
    }

    #[test]
    fn software_queries_answer_on_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let log = File::create(dir.path().join("log")).unwrap();
        let l = limits();
        // every Debian has dpkg itself; nothing is called like this
        let have = check(&Criterion::SoftwareInstalled { name: "dpkg".into() }, &log, &l);
        if Path::new("/usr/bin/dpkg-query").exists() {
            assert!(have.holds, "{}", have.why);
            let newer = Criterion::SoftwareVersion { name: "dpkg".into(), op: VersionOp::Ge, version: "1.0".into() };
            assert!(check(&newer, &log, &l).holds);
        }
        assert!(check(&Criterion::SoftwareAbsent { name: "no-such-package-xyz".into() }, &log, &l).holds);
    }
}
