//! The steps the deployer does itself: condition, kill process and file copy. Each
//! writes what it did to the step's log and ends with an exit code like a process.

use crate::criteria;
use crate::process::Limits;
use crate::proctab;
use crate::steps::StepRun;
use drover_proto::Criterion;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn say(mut log: &File, line: &str) {
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

/// Where a copy lands: into a directory (an existing one or a path ending in `/`) under
/// the source's file name, else at `dest` itself.
fn target_path(source: &str, dest: &str) -> PathBuf {
    let d = Path::new(dest);
    if dest.ends_with('/') || d.is_dir() {
        return d.join(Path::new(source).file_name().unwrap_or_default());
    }
    d.to_path_buf()
}

/// Copies `source` (a local path, downloaded already) to `dest` atomically: a temporary
/// file beside it, synced, mode and owner set, then renamed over it. Without `mode` a
/// replaced file keeps its mode (and owner), a new one gets 0644.
pub fn file_copy(source: &str, dest: &str, mode: Option<&str>, owner: Option<&str>, log: &File) -> StepRun {
    match copy(source, dest, mode, owner) {
        Ok(to) => {
            say(log, &format!("copied to {}", to.display()));
            StepRun::code(0)
        }
        Err(m) => {
            say(log, &m);
            StepRun { message: m, ..StepRun::code(1) }
        }
    }
}

fn copy(source: &str, dest: &str, mode: Option<&str>, owner: Option<&str>) -> Result<PathBuf, String> {
    let bits = match mode.map(str::trim) {
        Some(m) => Some(
            u32::from_str_radix(m, 8)
                .ok()
                .filter(|b| *b <= 0o7777)
                .ok_or_else(|| format!("mode '{m}' is not an octal file mode such as 0644"))?,
        ),
        None => None,
    };
    let to = target_path(source, dest);
    let dir = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.drover-{}", std::process::id()));
    let result = write_temp(source, &tmp, &to, bits, owner).and_then(|()| {
        std::fs::rename(&tmp, &to).map_err(|e| format!("cannot move the copy into {}: {e}", to.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| to)
}

fn write_temp(source: &str, tmp: &Path, to: &Path, bits: Option<u32>, owner: Option<&str>) -> Result<(), String> {
    let old = std::fs::metadata(to).ok();
    let mut from = File::open(source).map_err(|e| format!("cannot read {source}: {e}"))?;
    let mut out = File::create(tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::io::copy(&mut from, &mut out).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    out.sync_all().map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    let bits = bits.unwrap_or_else(|| old.as_ref().map_or(0o644, |m| m.mode() & 0o7777));
    match owner.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) => {
            let out = Command::new("chown")
                .arg(o)
                .arg(tmp)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run chown: {e}"))?;
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return Err(format!("chown {o} {} failed: {why}", to.display()));
            }
        }
        // keep a replaced file's owner (only root may, and only root needs to)
        None => {
            if let Some(m) = &old {
                let _ = std::os::unix::fs::chown(tmp, Some(m.uid()), Some(m.gid()));
            }
        }
    }
    // after chown, which clears setuid bits
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(bits))
        .map_err(|e| format!("cannot set mode {bits:o} on {}: {e}", to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_atomically_with_mode() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.conf");
        std::fs::write(&src, "hello").unwrap();
        let log = File::create(dir.path().join("log")).unwrap();
        let dest = dir.path().join("etc/app/app.conf");
        let run = file_copy(src.to_str().unwrap(), dest.to_str().unwrap(), Some("0640"), None, &log);
        assert_eq!(run.exit_code, Some(0), "{}", run.message);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello");
        assert_eq!(std::fs::metadata(&dest).unwrap().mode() & 0o7777, 0o640);
        // replacing keeps the mode; a directory destination takes the source's name
        std::fs::write(&src, "again").unwrap();
        let run = file_copy(src.to_str().unwrap(), dest.to_str().unwrap(), None, None, &log);
        assert_eq!(run.exit_code, Some(0));
        assert_eq!(std::fs::metadata(&dest).unwrap().mode() & 0o7777, 0o640);
        let into = format!("{}/", dir.path().join("etc/app").display());
        assert_eq!(file_copy(src.to_str().unwrap(), &into, None, None, &log).exit_code, Some(0));
        assert_eq!(std::fs::read_to_string(dir.path().join("etc/app/src.conf")).unwrap(), "again");
        let entries = std::fs::read_dir(dir.path().join("etc/app")).unwrap().count();
        assert_eq!(entries, 2, "no temporary file is left");
        let bad = file_copy(src.to_str().unwrap(), dest.to_str().unwrap(), Some("rw-r"), None, &log);
        assert!(bad.exit_code == Some(1) && bad.message.contains("octal"), "{}", bad.message);
        let nobody = file_copy(src.to_str().unwrap(), dest.to_str().unwrap(), None, Some("no-such-user-x"), &log);
        assert!(nobody.exit_code == Some(1) && nobody.message.contains("chown"), "{}", nobody.message);
        assert_eq!(std::fs::read_dir(dir.path().join("etc/app")).unwrap().count(), 2);
    }

    #[test]
    fn copies_with_an_owner_when_root() {
        let dir = tempfile::tempdir().unwrap();
        if std::fs::metadata(dir.path()).unwrap().uid() != 0 {
            return;
        }
        let src = dir.path().join("src");
        std::fs::write(&src, "x").unwrap();
        let log = File::create(dir.path().join("log")).unwrap();
        let dest = dir.path().join("owned");
        let run = file_copy(src.to_str().unwrap(), dest.to_str().unwrap(), Some("4750"), Some("nobody:nogroup"), &log);
        assert_eq!(run.exit_code, Some(0), "{}", run.message);
        let meta = std::fs::metadata(&dest).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (65534, 0o4750), "setuid survives the chown");
    }

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
