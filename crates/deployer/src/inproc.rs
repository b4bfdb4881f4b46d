//! The steps the deployer does itself: condition and kill process (file copy is in
//! `copy`). Each writes what it did to the step's log and ends with an exit code like a
//! process.

use crate::criteria;
use crate::process::Limits;
use crate::proctab;
use crate::steps::StepRun;
use drover_proto::Criterion;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

pub(crate) fn say(mut log: &File, line: &str) {
    let _ = writeln!(log, "{line}");
}

/// Exit code 0 when every criterion holds, else 1; the log has one line per criterion.
pub fn condition(criteria: &[Criterion], log: &File, limits: &Limits) -> StepRun {
    let mut failed = 0;
    for c in criteria {
        let verdict = criteria::check(c, log, limits);
        if let Some(k) = verdict.killed {
            say(log, &format!("stopped: {}", verdict.why));
            return StepRun { killed: Some(k), ..StepRun::default() };
        }
        say(log, &format!("{} {}", if verdict.holds { "holds:" } else { "FAILS:" }, verdict.why));
        failed += usize::from(!verdict.holds);
    }
    if failed == 0 {
        say(log, &format!("all {} criteria hold", criteria.len()));
        StepRun::code(0)
    } else {
        let message = format!("{failed} of {} criteria do not hold", criteria.len());
        say(log, &message);
        StepRun { message, ..StepRun::code(1) }
    }
}

/// Whether a process is the one named `name`. The kernel cuts names to 15 bytes, so a
/// longer name is matched by its cut form plus the program name on its command line.
fn is_named(p: &proctab::Proc, name: &str) -> bool {
    if p.name == name {
        return true;
    }
    if name.len() <= 15 || !name.is_char_boundary(15) || p.name != name[..15] {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.pid)).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    Path::new(&*String::from_utf8_lossy(argv0)).file_name().is_some_and(|f| f.to_string_lossy() == name)
}

/// Signals every process with this exact name (never the deployer or its parents):
/// SIGKILL when `force`, else SIGTERM; with `children` their descendants too. Exit code 0
/// when there were some and the signal went out, or when none runs; 1 when signalling
/// failed (for example not permitted). Waits up to 5 s for them to end and logs it.
pub fn kill_process(name: &str, force: bool, children: bool, log: &File, limits: &Limits) -> StepRun {
    let table = proctab::processes();
    let spared = proctab::self_and_ancestors(&table);
    let named: Vec<u32> =
        table.iter().filter(|p| !p.zombie && !spared.contains(&p.pid) && is_named(p, name)).map(|p| p.pid).collect();
    if named.is_empty() {
        say(log, &format!("no process named '{name}' is running"));
        return StepRun::code(0);
    }
    let mut pids = if children { proctab::descendants(&table, &named) } else { named.clone() };
    pids.retain(|p| !spared.contains(p));
    let sig = if force { "KILL" } else { "TERM" };
    say(log, &format!("sending SIG{sig} to {} process(es) named '{name}': {named:?}", named.len()));
    if pids.len() > named.len() {
        say(log, &format!("and to their {} descendant(s): {:?}", pids.len() - named.len(), &pids[named.len()..]));
    }
    if let Err(e) = proctab::signal(&pids, sig) {
        let message = format!("could not signal every process: {e}");
        say(log, &message);
        return StepRun { message, ..StepRun::code(1) };
    }
    let until = Instant::now() + Duration::from_secs(5).min(limits.remaining());
    let alive = || {
        let now = proctab::processes();
        pids.iter().copied().filter(|pid| now.iter().any(|p| p.pid == *pid && !p.zombie)).collect::<Vec<u32>>()
    };
    let mut left = alive();
    while !left.is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
        left = alive();
    }
    if left.is_empty() {
        say(log, "all of them ended");
    } else {
        say(log, &format!("still running after the signal: {left:?}"));
    }
    StepRun::code(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn kill_process_ends_processes_by_exact_name() {
        use std::os::unix::process::ExitStatusExt;
        let dir = tempfile::tempdir().unwrap();
        let name = format!("dru{}", std::process::id() % 1_000_000);
        let exe = dir.path().join(&name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let mut victim = Command::new(&exe).arg("60").spawn().unwrap();
        let path = dir.path().join("log");
        let log = File::create(&path).unwrap();
        let limits = Limits { step: None, deadline: Instant::now() + Duration::from_secs(10) };
        // a prefix of the name is not the name
        assert_eq!(kill_process(&name[..name.len() - 1], false, false, &log, &limits).exit_code, Some(0));
        assert!(victim.try_wait().unwrap().is_none());
        let run = kill_process(&name, false, true, &log, &limits);
        assert_eq!(run.exit_code, Some(0), "{}", run.message);
        let status = victim.wait().unwrap();
        assert_eq!(status.signal(), Some(15));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("sending SIGTERM to 1 process(es)"), "{text}");
    }

    #[test]
    fn kill_process_without_any_running_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = File::create(&path).unwrap();
        let limits = Limits { step: None, deadline: Instant::now() + Duration::from_secs(10) };
        let run = kill_process("no-such-proc-xyz", false, true, &log, &limits);
        assert_eq!(run.exit_code, Some(0));
        assert!(std::fs::read_to_string(&path).unwrap().contains("no process named"));
    }
}
