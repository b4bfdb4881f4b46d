//! Running one step's process: output to a log file, step timeout and job deadline
//! enforced by killing the process and everything it started.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How much of the output the report carries.
pub const TAIL_BYTES: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Killed {
    StepTimeout,
    Deadline,
}

#[derive(Debug)]
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub killed: Option<Killed>,
}

/// Runs `cmd` with stdin from /dev/null and stdout+stderr appended to `log`.
pub fn run(cmd: &mut Command, log: &Path, step_limit: Option<Instant>, deadline: Instant) -> std::io::Result<Outcome> {
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn()?;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Outcome { exit_code: status.code(), killed: None });
        }
        let now = Instant::now();
        let killed = if now >= deadline {
            Some(Killed::Deadline)
        } else if step_limit.is_some_and(|l| now >= l) {
            Some(Killed::StepTimeout)
        } else {
            None
        };
        if let Some(k) = killed {
            kill_tree(child.id());
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Outcome { exit_code: None, killed: Some(k) });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// One running process, from /proc.
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub name: String,
}

/// Every process, from /proc/<pid>/stat ("pid (comm) state ppid ...", where comm may
/// hold spaces and parentheses).
pub fn processes() -> Vec<Proc> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some((head, rest)), Some(open)) = (stat.rsplit_once(')'), stat.find('(')) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            out.push(Proc { pid, ppid, name: head[open + 1..].to_string() });
        }
    }
    out
}

/// `root` and every process below it.
pub fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(all.iter().filter(|q| q.ppid == p).map(|q| q.pid));
        i += 1;
    }
    found
}

/// Sends a signal with the `kill` command (no libc here).
pub fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops the tree first (so nothing forks meanwhile), then kills it.
pub fn kill_tree(root: u32) {
    let pids = descendants(root);
    signal(&pids, "STOP");
    let pids = descendants(root);
    signal(&pids, "KILL");
}

/// The last bytes of a file, as text.
pub fn tail(path: &Path) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_kills_the_whole_tree() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let marker = format!("drover-test-{}", std::process::id());
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!("echo start; sh -c 'exec -a {marker} sleep 100' & sleep 100"));
        let limit = Instant::now() + Duration::from_millis(500);
        let out = run(&mut cmd, &log, Some(limit), Instant::now() + Duration::from_secs(60)).unwrap();
        assert_eq!(out.killed, Some(Killed::StepTimeout));
        assert!(tail(&log).contains("start"));
        std::thread::sleep(Duration::from_millis(200));
        let left = Command::new("pgrep").arg("-f").arg(&marker).output().unwrap();
        assert!(left.stdout.is_empty(), "left behind: {}", String::from_utf8_lossy(&left.stdout));
    }

    #[test]
    fn exit_codes_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("exit 7");
        let out = run(&mut cmd, &dir.path().join("l"), None, Instant::now() + Duration::from_secs(10)).unwrap();
        assert_eq!(out.exit_code, Some(7));
        assert_eq!(out.killed, None);
    }
}
