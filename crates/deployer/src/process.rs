//! Running one step process: stdin from /dev/null, output to the step's log, the step
//! timeout and the job deadline enforced by polling and killing its whole tree.

use crate::proctab;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How much of a step's output its report carries.
pub const TAIL_BYTES: u64 = 4096;

/// Why a step was ended from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Killed {
    StepTimeout,
    Deadline,
}

/// When the running step must end: its own timeout and the job's deadline.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub step: Option<Instant>,
    pub deadline: Instant,
}

impl Limits {
    /// Which limit has passed, the deadline first.
    pub fn passed(&self, now: Instant) -> Option<Killed> {
        if now >= self.deadline {
            Some(Killed::Deadline)
        } else if self.step.is_some_and(|s| now >= s) {
            Some(Killed::StepTimeout)
        } else {
            None
        }
    }

    /// Time left before the nearer limit.
    pub fn remaining(&self) -> Duration {
        let end = self.step.map_or(self.deadline, |s| s.min(self.deadline));
        end.saturating_duration_since(Instant::now())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// None when killed (by us or by a signal).
    pub exit_code: Option<i32>,
    pub killed: Option<Killed>,
}

/// Runs `cmd` with stdin from /dev/null and stdout and stderr into `log`, in the
/// deployer's own process group. Polls the child (5 ms at first, then every 50 ms).
pub fn run(cmd: &mut Command, log: &File, limits: &Limits) -> std::io::Result<Outcome> {
    if let Some(k) = limits.passed(Instant::now()) {
        return Ok(Outcome { exit_code: None, killed: Some(k) });
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log.try_clone()?).spawn()?;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Outcome { exit_code: status.code(), killed: None });
        }
        if let Some(k) = limits.passed(Instant::now()) {
            // still unreaped, so its pid cannot be reused while the tree is walked
            proctab::kill_tree(child.id());
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Outcome { exit_code: None, killed: Some(k) });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The last [`TAIL_BYTES`] of a log as text; a character cut at the start is dropped.
pub fn tail(path: &Path) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    tail_text(&buf, start > 0)
}

/// Lossy UTF-8 of `bytes`; when they start mid-file, continuation bytes of a cut
/// character (at most 3) are skipped first.
pub fn tail_text(bytes: &[u8], cut: bool) -> String {
    let skip = if cut { bytes.iter().take(3).take_while(|b| (**b & 0xC0) == 0x80).count() } else { 0 };
    String::from_utf8_lossy(&bytes[skip..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(step_ms: Option<u64>, deadline_ms: u64) -> Limits {
        let now = Instant::now();
        Limits {
            step: step_ms.map(|ms| now + Duration::from_millis(ms)),
            deadline: now + Duration::from_millis(deadline_ms),
        }
    }

    #[test]
    fn exit_codes_and_output_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = File::create(&path).unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg("echo out; echo err >&2; exit 7");
        let out = run(&mut cmd, &log, &limits(None, 10_000)).unwrap();
        assert_eq!(out, Outcome { exit_code: Some(7), killed: None });
        assert_eq!(tail(&path), "out\nerr\n");
    }

    #[test]
    fn step_timeout_kills_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = File::create(&path).unwrap();
        let marker = format!("77{}.5", std::process::id());
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(format!("echo start; sleep {marker} & sleep {marker}"));
        let started = Instant::now();
        let out = run(&mut cmd, &log, &limits(Some(300), 60_000)).unwrap();
        assert_eq!(out.killed, Some(Killed::StepTimeout));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(tail(&path).contains("start"));
        let left = || -> Vec<u32> {
            proctab::processes()
                .into_iter()
                .filter(|p| !p.zombie)
                .filter(|p| {
                    std::fs::read(format!("/proc/{}/cmdline", p.pid))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
                })
                .map(|p| p.pid)
                .collect()
        };
        // SIGKILL is delivered at once but acted on when the process next runs: on a
        // loaded machine a killed process may still show for a moment
        let gone_by = Instant::now() + Duration::from_secs(3);
        while !left().is_empty() && Instant::now() < gone_by {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(left().is_empty(), "left behind: {:?}", left());
    }

    #[test]
    fn deadline_wins_over_the_step_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let log = File::create(dir.path().join("log")).unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let out = run(&mut cmd, &log, &limits(Some(5_000), 200)).unwrap();
        assert_eq!(out.killed, Some(Killed::Deadline));
        let passed = limits(None, 0);
        assert_eq!(run(&mut cmd, &log, &passed).unwrap().killed, Some(Killed::Deadline));
    }

    #[test]
    fn tail_keeps_the_last_bytes_and_whole_characters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        // 5000 bytes: "é" is two bytes, so the 4096-byte window starts mid-character
        let text = format!("{}{}", "x".repeat(3), "é".repeat(2_500 - 2));
        let text = format!("{text}a");
        std::fs::write(&path, &text).unwrap();
        let t = tail(&path);
        assert!(t.len() <= TAIL_BYTES as usize);
        assert!(!t.contains('\u{FFFD}'), "{t}");
        assert!(t.ends_with("éa"));
        assert_eq!(tail_text(b"abc", false), "abc");
        assert_eq!(tail_text(&[0x80, b'o', b'k'], true), "ok");
        assert_eq!(tail(&dir.path().join("missing")), "");
    }
}
