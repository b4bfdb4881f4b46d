//! Condition criteria, each answering holds/fails with the reason.

use crate::share::sha256_file;
use crate::version::compare;
use drover_proto::{Criterion, VersionOp};
use std::cmp::Ordering;
use std::path::Path;
use std::process::{Command, Stdio};

/// Output of a command, or None when it cannot run.
fn output(cmd: &str, args: &[&str]) -> Option<(i32, String)> {
    let out = Command::new(cmd).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    Some((out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn op_holds(op: VersionOp, ord: Ordering) -> bool {
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

/// The installed version of a dpkg or rpm package.
fn installed_version(name: &str) -> Option<String> {
    if let Some((0, out)) = output("dpkg-query", &["-W", "-f=${db:Status-Status} ${Version}", name]) {
        return out.strip_prefix("installed ").map(|v| v.trim().to_string());
    }
    match output("rpm", &["-q", "--qf", "%{VERSION}-%{RELEASE}", name]) {
        Some((0, out)) => Some(out.trim().to_string()),
        _ => None,
    }
}

fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (get("ID"), get("VERSION_ID"))
}

pub fn logged_on_users() -> Vec<String> {
    let mut users: Vec<String> = output("who", &[])
        .map(|(_, o)| o.lines().filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect())
        .unwrap_or_default();
    if users.is_empty()
        && let Some((0, o)) = output("loginctl", &["list-users", "--no-legend"])
    {
        users = o.lines().filter_map(|l| l.split_whitespace().nth(1).map(str::to_string)).collect();
    }
    users
}

/// Whether the criterion holds, and a line saying why.
pub fn check(c: &Criterion) -> (bool, String) {
    match c {
        Criterion::FileExists { path } => {
            let ok = Path::new(path).exists();
            (ok, format!("file {path} {}", if ok { "exists" } else { "does not exist" }))
        }
        Criterion::FileAbsent { path } => {
            let ok = !Path::new(path).exists();
            (ok, format!("file {path} {}", if ok { "is absent" } else { "exists" }))
        }
        Criterion::FileHash { path, sha256 } => match sha256_file(Path::new(path)) {
            Ok(h) if h.eq_ignore_ascii_case(sha256) => (true, format!("file {path} has SHA-256 {h}")),
            Ok(h) => (false, format!("file {path} has SHA-256 {h}, expected {sha256}")),
            Err(e) => (false, format!("file {path} cannot be read: {e}")),
        },
        Criterion::SoftwareInstalled { name } => match installed_version(name) {
            Some(v) => (true, format!("{name} {v} is installed")),
            None => (false, format!("{name} is not installed")),
        },
        Criterion::SoftwareAbsent { name } => match installed_version(name) {
            Some(v) => (false, format!("{name} {v} is installed")),
            None => (true, format!("{name} is not installed")),
        },
        Criterion::SoftwareVersion { name, op, version } => match installed_version(name) {
            Some(v) => {
                let ok = op_holds(*op, compare(&v, version));
                (ok, format!("{name} {v} {} {} {version}", if ok { "is" } else { "is not" }, op_text(*op)))
            }
            None => (false, format!("{name} is not installed")),
        },
        Criterion::Os { id, op, version } => {
            let (have_id, have_version) = os_release();
            if !have_id.eq_ignore_ascii_case(id) {
                return (false, format!("OS is '{have_id}', not '{id}'"));
            }
            match (op, version) {
                (Some(op), Some(v)) => {
                    let ok = op_holds(*op, compare(&have_version, v));
                    (
                        ok,
                        format!(
                            "OS {have_id} {have_version} {} {} {v}",
                            if ok { "is" } else { "is not" },
                            op_text(*op)
                        ),
                    )
                }
                _ => (true, format!("OS is {have_id} {have_version}")),
            }
        }
        Criterion::Arch { arch } => {
            let have = output("uname", &["-m"]).map(|(_, o)| o.trim().to_string()).unwrap_or_default();
            (have == *arch, format!("architecture is {have}"))
        }
        Criterion::CommandExit { command, codes } => {
            let code = Command::new("/bin/sh")
                .arg("-c")
                .arg(command)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()
                .and_then(|s| s.code());
            let ok = code.is_some_and(|c| codes.contains(&c));
            (ok, format!("`{command}` exited {}", code.map_or("by a signal".into(), |c| c.to_string())))
        }
        Criterion::UserLoggedOn { user } => {
            let users = logged_on_users();
            let ok = match user {
                Some(u) => users.contains(u),
                None => !users.is_empty(),
            };
            let who = if users.is_empty() { "nobody".to_string() } else { users.join(", ") };
            (ok, format!("logged on: {who}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_commands() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"abc").unwrap();
        let path = f.to_string_lossy().into_owned();
        assert!(check(&Criterion::FileExists { path: path.clone() }).0);
        assert!(!check(&Criterion::FileAbsent { path: path.clone() }).0);
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string();
        assert!(check(&Criterion::FileHash { path, sha256: sha }).0);
        assert!(check(&Criterion::CommandExit { command: "exit 3".into(), codes: vec![3] }).0);
        let (ok, why) = check(&Criterion::CommandExit { command: "exit 4".into(), codes: vec![0] });
        assert!(!ok && why.contains("exited 4"), "{why}");
        assert!(check(&Criterion::Arch { arch: std::env::consts::ARCH.into() }).0);
    }
}
