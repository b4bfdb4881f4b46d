//! Runs a job: its steps from `start_at` (or the `resume` file a reboot step left),
//! following each step's actions under the job's deadline; then removes what holds
//! secrets or package files and reports the end. Its own files (pid, step logs,
//! resume) are created through a handle on the work directory, never through a symlink.

use crate::flow::{self, Flow};
use crate::job::{self, BadJob, JOB};
use crate::process::{self, Killed, Limits};
use crate::report::{RECORD, REPORT_GRACE, Reporter, now_ms};
use crate::safefs::Dir;
use crate::share::Share;
use crate::steps::{self, StepRun};
use crate::tls::{self, ServerAgent};
use drover_proto::{Event, FinalStatus, Job, Step, StepResult};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Exit codes of `drover-deployer run`.
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_TIMED_OUT: u8 = 2;
pub const EXIT_BAD_JOB: u8 = 3;
/// The server did not present the certificate the job pins: nothing was run or sent.
pub const EXIT_SERVER_NOT_TRUSTED: u8 = 4;

/// How long a reboot step waits for queued reports to reach the server.
const DRAIN: Duration = Duration::from_secs(10);

/// `start <dir> <log> <job>`: the job, read from standard input, written to
/// `<dir>/<job>` (the work directory made, 0700, where it is missing), so that the
/// launch needs no `mkdir` or `cat` for it. A failed write is said with the
/// `drover-fail=CODE FOLDER` line the server turns into its failure code (a read-only or
/// full file system), and leaves no work directory it made and no partial job.
pub fn write_job(dir: &Path, name: &str) -> Result<(), String> {
    use std::io::{ErrorKind, Read, Write};
    let said = |what: &str, e: std::io::Error| {
        let parent = dir.parent().unwrap_or(dir).display();
        let line = failure_code(&e).map(|c| format!("drover-fail={c} {parent}\n")).unwrap_or_default();
        format!("{line}cannot {what} {}: {e}", dir.display())
    };
    let mut job = Vec::new();
    std::io::stdin().lock().read_to_end(&mut job).map_err(|e| said("read the job for", e))?;
    let made = match std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700).create(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => false,
        Err(e) => return Err(said("create", e)),
    };
    // (not synced: the job is this task's, and a reboot step syncs before the machine goes down)
    let written = Dir::open(dir).and_then(|d| d.replace(name, |f| f.write_all(&job)));
    written.map_err(|e| {
        if made {
            let _ = std::fs::remove_dir_all(dir);
        }
        said("write the job to", e)
    })
}

/// The failure code the server gives a write that failed so (as the launch script's
/// `fail` names them).
fn failure_code(e: &std::io::Error) -> Option<&'static str> {
    match e.kind() {
        std::io::ErrorKind::ReadOnlyFilesystem => Some("read_only"),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => Some("disk_full"),
        _ => None,
    }
}

/// What `start` leaves this process to do.
pub enum Started {
    /// The launcher: exit with this code (the task's pid is printed).
    Launcher(u8),
    /// The task: run the job (`run`), in the work directory, with no input and the log
    /// as its output.
    Task,
}

/// `start`: creates the task, a fork of this process that goes on as `run <dir>` in the
/// background, with no input and its output appended to `<dir>/<log>`; the launcher
/// prints `pid=N` and returns at once. The launch script learns the task's pid this way
/// without a launcher program, a FIFO or a wait, and the task costs no second start of
/// this program; it leaves the launch's session as it starts (see [`run`]). Its command
/// line stays `... start <dir> <log>` (`task.sh` knows the task by it).
#[allow(unsafe_code)]
pub fn start(dir: &Path, log: &str) -> Started {
    let output = Dir::open(dir).and_then(|w| w.append(OsStr::new(log), 0o600));
    let files = output.and_then(|o| Ok((std::fs::File::open("/dev/null")?, o.try_clone()?, o)));
    let (null, out, err) = match files {
        Ok(files) => files,
        Err(e) => {
            eprintln!("drover-deployer: cannot open {} for the task's output: {e}", dir.join(log).display());
            return Started::Launcher(EXIT_BAD_JOB);
        }
    };
    // SAFETY: this process has one thread here (nothing has started another), so the
    // child may go on running Rust code; both go on with their own copy of the memory
    match unsafe { libc::fork() } {
        -1 => {
            let e = std::io::Error::last_os_error();
            eprintln!("drover-deployer: cannot start the task in {}: {e}", dir.display());
            Started::Launcher(EXIT_BAD_JOB)
        }
        0 => {
            let moved = rustix::stdio::dup2_stdin(&null)
                .and_then(|()| rustix::stdio::dup2_stdout(&out))
                .and_then(|()| rustix::stdio::dup2_stderr(&err))
                .and_then(|()| rustix::process::chdir(dir));
            if let Err(e) = moved {
                eprintln!("drover-deployer: cannot give the task its input, output and folder: {e}");
                std::process::exit(EXIT_BAD_JOB.into());
            }
            Started::Task
        }
        pid => {
            println!("pid={pid}");
            Started::Launcher(0)
        }
    }
}

pub fn run(dir: &Path) -> u8 {
    // its own session and process group (the task's steps are in it, and ended with it);
    // already so under systemd-run or setsid, where this fails and changes nothing
    let _ = rustix::process::setsid();
    let work = match Dir::open(dir) {
        Ok(w) => w,
        Err(e) => {
            eprintln!(
                "drover-deployer: cannot open the work directory {} (it must be a directory, not a link): {e}",
                dir.display()
            );
            return EXIT_BAD_JOB;
        }
    };
    let pid = drover_proto::workdir::PID;
    if let Err(e) = work.write_atomic(pid, std::process::id().to_string().as_bytes(), 0o644) {
        eprintln!("drover-deployer: cannot write {}: {e}", dir.join(pid).display());
        return EXIT_BAD_JOB;
    }
    // the launch script waits for this line: the task's pid, known as it starts; the
    // FIFO is done with then
    let started = drover_proto::workdir::STARTED;
    if work.tell_fifo(started, format!("{}\n", std::process::id()).as_bytes()) {
        let _ = work.remove(OsStr::new(started));
    }
    // the record is appended to by path (`report`): it must be a file of its own
    if let Ok(Some(e)) = work.entry(OsStr::new(RECORD))
        && e.kind != rustix::fs::FileType::RegularFile
    {
        eprintln!(
            "drover-deployer: {} is not a regular file (a link?): refusing to write through it",
            dir.join(RECORD).display()
        );
        let _ = work.remove(OsStr::new(pid));
        return EXIT_BAD_JOB;
    }
    let code = match job::load(dir) {
        Ok(job) => run_job(dir, &work, &job),
        Err(bad) => bad_job(dir, bad),
    };
    let _ = work.remove(OsStr::new(pid));
    prune_old_work_dirs(dir, SystemTime::now());
    code
}

/// How long a work directory stays after its last change: the server collected its
/// record long before.
pub const KEEP_WORK_DIRS: Duration = Duration::from_secs(14 * 24 * 3600);

/// Removes the directories beside `dir` (other tasks' work directories) unchanged for
/// [`KEEP_WORK_DIRS`] at `now`. Links are not followed; what this user may not remove
/// (another user's, under the root base) stays for a task run as root.
pub fn prune_old_work_dirs(dir: &Path, now: SystemTime) {
    let Some(Ok(entries)) = dir.parent().map(std::fs::read_dir) else { return };
    for e in entries.flatten() {
        // (the entry's own metadata: a link is not a directory here)
        let Ok(meta) = e.metadata() else { continue };
        let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok());
        if meta.is_dir() && age.is_some_and(|a| a > KEEP_WORK_DIRS) && e.path() != dir {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Says why on stderr and, when the job names its server, reports the end there.
fn bad_job(dir: &Path, bad: BadJob) -> u8 {
    eprintln!("drover-deployer: {}", bad.message);
    if let Some(to) = bad.report_to
        && let server = ServerAgent::for_reports(to.server_cert_sha256.as_deref())
        && tls::check_server(&server, &to.server_url).is_ok()
        && let Ok(mut reporter) = Reporter::open(
            dir,
            to.target_id,
            &to.server_url,
            &to.report_token,
            server,
            Vec::new(),
            now_ms() + i64::try_from(REPORT_GRACE.as_millis()).unwrap_or(i64::MAX),
        )
    {
        let _ = std::fs::remove_file(dir.join(JOB));
        let message = bad.message;
        reporter.send(Event::Finished { status: FinalStatus::Failed, message, last_step: None, return_code: None });
        reporter.finish();
    }
    EXIT_BAD_JOB
}

/// How the job ends.
struct Finish {
    status: FinalStatus,
    message: String,
    last_step: Option<usize>,
    return_code: Option<i32>,
}

enum End {
    Finished(Finish),
    /// A reboot step succeeded: reboot, then resume at `resume_at`.
    Reboot {
        resume_at: usize,
        delay_secs: u64,
    },
}

fn run_job(dir: &Path, work: &Dir, job: &Job) -> u8 {
    // undelivered reports are tried until the deadline plus a grace: the server takes
    // them late from a machine it could not reach
    let give_up = job.report_until_unix_ms.unwrap_or_else(|| {
        job.deadline_unix_ms.saturating_add(i64::try_from(REPORT_GRACE.as_millis()).unwrap_or(i64::MAX))
    });
    // one agent for the check and the reports: the check's connection carries them
    let server = ServerAgent::for_reports(job.server_cert_sha256.as_deref());
    if let Err(why) = tls::check_server(&server, &job.server_url) {
        return server_not_trusted(dir, work, job, why);
    }
    let others = tls::other_servers(job).map(|o| (o.url.clone(), ServerAgent::for_reports(o.cert_sha256.as_deref())));
    let others = others.collect();
    let mut reporter =
        match Reporter::open(dir, job.target_id, &job.server_url, &job.report_token, server, others, give_up) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("drover-deployer: cannot open the record in {}: {e}", dir.display());
                return EXIT_BAD_JOB;
            }
        };
    reporter.send(Event::Started {
        pid: std::process::id(),
        deployer_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: hostname(),
        user: current_user(),
    });
    let left = u64::try_from(job.deadline_unix_ms.saturating_sub(now_ms())).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_millis(left);
    let start = resume_index(work, job.steps.len()).unwrap_or(job.start_at);
    let Finish { status, message, last_step, return_code } =
        match execute(job, dir, work, &mut reporter, start, deadline) {
            End::Finished(finish) => finish,
            End::Reboot { resume_at, delay_secs } => match reboot(work, &mut reporter, resume_at, delay_secs) {
                Ok(()) => return 0,
                Err(message) => {
                    let last_step = resume_at.checked_sub(1);
                    Finish { status: FinalStatus::Failed, message, last_step, return_code: Some(0) }
                }
            },
        };
    // The job (its tokens) and the package files go before the end is reported, so a
    // target the server sees as ended has none left.
    let _ = work.remove(OsStr::new(JOB));
    let _ = std::fs::remove_dir_all(dir.join(drover_proto::workdir::FILES));
    let _ = work.remove(OsStr::new(RESUME));
    reporter.send(Event::Finished { status, message, last_step, return_code });
    reporter.finish();
    match status {
        FinalStatus::Success => 0,
        FinalStatus::Failed => EXIT_FAILED,
        FinalStatus::TimedOut => EXIT_TIMED_OUT,
        FinalStatus::ServerCertMismatch => EXIT_SERVER_NOT_TRUSTED,
    }
}

/// The server is not the one the job pins: no step runs and nothing is sent; the job
/// (its tokens) goes and the end is recorded, for drover to read over SSH.
fn server_not_trusted(dir: &Path, work: &Dir, job: &Job, why: String) -> u8 {
    eprintln!("drover-deployer: {why}");
    let _ = work.remove(OsStr::new(JOB));
    match Reporter::record_only(dir, job.target_id) {
        Ok(mut record) => {
            let status = FinalStatus::ServerCertMismatch;
            record.send(Event::Finished { status, message: why, last_step: None, return_code: None });
            record.finish();
        }
        Err(e) => eprintln!("drover-deployer: cannot write the record in {}: {e}", dir.display()),
    }
    EXIT_SERVER_NOT_TRUSTED
}

/// Where a reboot step records the step to resume at.
const RESUME: &str = "resume";

/// The step a reboot step asked to resume at, when its `resume` file is there.
fn resume_index(work: &Dir, steps: usize) -> Option<usize> {
    let text = String::from_utf8(work.read(RESUME).ok()?).ok()?;
    text.trim().parse().ok().filter(|i| *i <= steps)
}

/// Records where to resume, reports it, waits the delay and reboots. Returns only when
/// the reboot command failed (with why); then the job ends failed.
fn reboot(work: &Dir, reporter: &mut Reporter, resume_at: usize, delay_secs: u64) -> Result<(), String> {
    if let Err(e) = work.write_atomic(RESUME, format!("{resume_at}\n").as_bytes(), 0o644) {
        let path = work.path().join(RESUME);
        return Err(format!("cannot write {}, so the package could not resume: {e}", path.display()));
    }
    reporter.send(Event::Rebooting { resume_at });
    reporter.flush(DRAIN);
    reporter.sync();
    std::thread::sleep(Duration::from_secs(delay_secs));
    let mut why = Vec::new();
    for (cmd, args) in [("shutdown", &["-r", "now"][..]), ("reboot", &[][..])] {
        match Command::new(cmd).args(args).stdin(Stdio::null()).output() {
            Ok(o) if o.status.success() => return Ok(()),
            Ok(o) => why.push(format!("`{cmd}` failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => why.push(format!("cannot run `{cmd}`: {e}")),
        }
    }
    let _ = work.remove(OsStr::new(RESUME));
    Err(format!("the reboot step could not reboot the machine: {}", why.join("; ")))
}

fn execute(job: &Job, dir: &Path, work: &Dir, reporter: &mut Reporter, start: usize, deadline: Instant) -> End {
    let share = Share::new(job, dir);
    let logs = work.child_or_create(OsStr::new("steps"));
    let count = job.steps.len();
    let mut last: (Option<usize>, Option<i32>) = (None, None);
    let end =
        |status, message, (last_step, return_code)| End::Finished(Finish { status, message, last_step, return_code });
    let Some(mut i) = (start < count).then_some(start) else {
        return end(FinalStatus::Success, format!("no steps left to run (the package has {count})"), last);
    };
    loop {
        let step = &job.steps[i];
        let named = format!("step {} '{}'", i + 1, step.name);
        if Instant::now() >= deadline {
            return end(FinalStatus::TimedOut, format!("the package's max duration ended before {named}"), last);
        }
        let seq = reporter.send(Event::StepStarted { index: i, name: step.name.clone() });
        let log_name = format!("{seq}.log");
        let log_path = dir.join("steps").join(&log_name);
        let started = Instant::now();
        let limits = Limits { step: step.timeout_secs.map(|s| started + Duration::from_secs(s)), deadline };
        let log = logs
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|l| l.create_fresh(OsStr::new(&log_name), 0o644).map_err(|e| e.to_string()));
        let run = match log {
            Ok(log) => steps::execute(&step.kind, &share, &log, &limits),
            Err(e) => StepRun::failed(format!("cannot create the step's log {}: {e}", log_path.display())),
        };
        let success = flow::succeeded(step, run.exit_code, run.killed);
        let message = step_message(step, &run, success);
        reporter.send(Event::StepFinished(StepResult {
            index: i,
            name: step.name.clone(),
            exit_code: run.exit_code,
            success,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            output_tail: process::tail(&log_path),
            message: message.clone(),
        }));
        last = (Some(i), run.exit_code);
        if run.killed == Some(Killed::Deadline) || (!success && Instant::now() >= deadline) {
            return end(FinalStatus::TimedOut, format!("the package's max duration ended during {named}"), last);
        }
        if let (true, Some(delay_secs)) = (success, run.reboot) {
            return End::Reboot { resume_at: i + 1, delay_secs };
        }
        let action = if success { step.on_success } else { step.on_failure };
        let failed = |m: &str| if success { String::new() } else { format!(" (it failed: {m})") };
        match flow::after(action, i, count) {
            Flow::Run(next) => i = next,
            Flow::Done => return end(FinalStatus::Success, format!("all steps done; the last was {named}"), last),
            Flow::StopSuccess => {
                return end(
                    FinalStatus::Success,
                    format!("stopped with success after {named}{}", failed(&message)),
                    last,
                );
            }
            Flow::StopFailure if success => {
                return end(FinalStatus::Failed, format!("{named} succeeded and says stop with failure"), last);
            }
            Flow::StopFailure => return end(FinalStatus::Failed, format!("{named} failed: {message}"), last),
            Flow::NoSuchStep(n) => {
                let msg = format!("{named} goes to step {n}, but the package has steps 1 to {count}");
                return end(FinalStatus::Failed, msg, last);
            }
        }
    }
}

/// Why a step failed, for its report (empty when it succeeded).
fn step_message(step: &Step, run: &StepRun, success: bool) -> String {
    match run.killed {
        Some(Killed::StepTimeout) => {
            let secs = step.timeout_secs.unwrap_or(0);
            return format!("the step ran longer than its timeout of {secs} s; it and its processes were killed");
        }
        Some(Killed::Deadline) => {
            return "the package's max duration ended during this step; it and its processes were killed".into();
        }
        None => {}
    }
    if success {
        return String::new();
    }
    if !run.message.is_empty() {
        return run.message.clone();
    }
    match run.exit_code {
        Some(c) => format!("exit code {c} is not one of the success codes {:?}", step.success_codes),
        None => "the step's process was ended by a signal".into(),
    }
}

fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
    if !name.is_empty() {
        return name;
    }
    Command::new("uname")
        .arg("-n")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The user this task runs as: from `/etc/passwd`, else (a directory's user, LDAP)
/// `id -un`, a process more on the target.
fn current_user() -> String {
    let uid = rustix::process::geteuid().as_raw();
    passwd_name(&std::fs::read_to_string("/etc/passwd").unwrap_or_default(), uid)
        .or_else(|| {
            let out = Command::new("id").arg("-un").stdin(Stdio::null()).output().ok()?;
            let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (out.status.success() && !name.is_empty()).then_some(name)
        })
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default()
}

/// The name of `uid` in a passwd file's text.
fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next().filter(|n| !n.is_empty())?;
        (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_or_full_file_system_is_named() {
        let code = |raw| failure_code(&std::io::Error::from_raw_os_error(raw));
        assert_eq!(code(30), Some("read_only")); // EROFS
        assert_eq!(code(28), Some("disk_full")); // ENOSPC
        assert_eq!(code(122), Some("disk_full")); // EDQUOT
        assert_eq!(code(13), None); // EACCES
    }

    #[test]
    fn the_user_is_found_by_uid_in_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\nbroken\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(passwd_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(passwd_name(passwd, 1001), None);
    }

    #[test]
    fn old_work_dirs_beside_this_one_are_removed_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let targets = tmp.path().join("targets");
        let outside = tmp.path().join("outside");
        for d in [targets.join("1"), targets.join("2/steps"), outside.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(targets.join("3"), b"a file").unwrap();
        std::os::unix::fs::symlink(&outside, targets.join("4")).unwrap();
        let mine = targets.join("1");
        let names = || {
            let mut n: Vec<String> =
                std::fs::read_dir(&targets).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
            n.sort();
            n
        };
        prune_old_work_dirs(&mine, SystemTime::now());
        assert_eq!(names(), ["1", "2", "3", "4"], "nothing is old yet");
        prune_old_work_dirs(&mine, SystemTime::now() + KEEP_WORK_DIRS + Duration::from_secs(60));
        assert_eq!(names(), ["1", "3", "4"], "only the other old directory goes");
        assert!(outside.is_dir(), "a link's target is not touched");
    }
}
