//! Timeouts, the deadline, killing processes, and the reboot step's resume.

use crate::server::TestServer;
use crate::support::*;
use drover_proto::{Event, FinalStatus};
use serde_json::json;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

#[test]
fn step_timeout_kills_the_step_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("61{}.25", std::process::id());
    // one child stays below the shell; one double-forks away from the tree
    let command = format!("echo begun; sleep {marker} & (sleep {marker} &); sleep {marker}");
    let steps = json!([
        {"name": "hangs", "type": "command", "command": command, "timeout_secs": 1, "on_failure": "next"},
        {"name": "after", "type": "command", "command": "echo after"},
    ]);
    write_job(dir.path(), &job(&dead_url(), &dead_url(), steps, vec![]));
    // as the server starts it: the deployer leads its own process group
    let ran = run_in(dir.path(), true, None);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.took < Duration::from_secs(15), "{:?}", ran.took);
    let res = results(&record(dir.path()));
    assert_eq!((res[0].exit_code, res[0].success), (None, false));
    assert!(res[0].message.contains("timeout of 1 s"), "{}", res[0].message);
    assert_eq!(res[0].output_tail, "begun\n");
    assert!((1000..5000).contains(&res[0].duration_ms), "{}", res[0].duration_ms);
    assert_eq!(res[1].output_tail, "after\n");
    let left = processes_with(&marker);
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn the_deadline_ends_the_job_timed_out() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("62{}.5", std::process::id());
    let steps = json!([
        {"name": "quick", "type": "command", "command": "true"},
        {"name": "long", "type": "command", "command": format!("sleep {marker} & sleep {marker}")},
        {"name": "never", "type": "command", "command": "true"},
    ]);
    let mut job = job(&srv.url, &srv.share_url(), steps, vec![]);
    job.deadline_unix_ms = now_ms() + 1500;
    let ran = run(dir.path(), &job);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.took < Duration::from_secs(10), "{:?}", ran.took);
    let record = record(dir.path());
    assert_eq!(started(&record), [0, 1]);
    let res = results(&record);
    assert_eq!(res[1].exit_code, None);
    assert!(res[1].message.contains("max duration"), "{}", res[1].message);
    let (status, message, last, _) = finished(&record);
    assert_eq!((status, last), (FinalStatus::TimedOut, Some(1)));
    assert!(message.contains("step 2 'long'"), "{message}");
    assert!(processes_with(&marker).is_empty());
    assert!(!dir.path().join("job.json").exists());
    assert_eq!(srv.wait_reports(record.len()), record);
}

#[test]
fn a_goto_loop_ends_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let steps = json!([{"name": "again", "type": "sleep", "seconds": 0, "on_success": "goto 1"}]);
    let mut job = job(&dead_url(), &dead_url(), steps, vec![]);
    job.deadline_unix_ms = now_ms() + 1000;
    let ran = run(dir.path(), &job);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    let record = record(dir.path());
    assert!(started(&record).len() > 3);
    assert_eq!(finished(&record).0, FinalStatus::TimedOut);
}

#[test]
fn kill_process_ends_processes_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("drk{}", std::process::id() % 1_000_000);
    let exe = dir.path().join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut victim = std::process::Command::new(&exe).arg("60").spawn().unwrap();
    let steps = json!([
        {"name": "kill", "type": "kill-process", "process": name, "children": true},
        {"name": "none left", "type": "kill-process", "process": name, "force": true},
    ]);
    let ran = run(dir.path(), &job(&dead_url(), &dead_url(), steps, vec![]));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let until = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = victim.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < until, "the process still runs");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(15));
    let res = results(&record(dir.path()));
    assert!(res[0].output_tail.contains("sending SIGTERM to 1 process(es)"), "{}", res[0].output_tail);
    assert!(res[1].output_tail.contains("no process named"), "{}", res[1].output_tail);
}

#[test]
fn a_reboot_step_reboots_and_the_package_resumes_after_it() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    // stand-ins for shutdown: record the call instead of rebooting
    let bin = tempfile::tempdir().unwrap();
    let called = bin.path().join("called");
    let fake = format!("#!/bin/sh\necho \"$0 $*\" >> '{}'\n", called.display());
    for cmd in ["shutdown", "reboot"] {
        std::fs::write(bin.path().join(cmd), &fake).unwrap();
        std::process::Command::new("chmod").arg("+x").arg(bin.path().join(cmd)).status().unwrap();
    }
    let steps = json!([
        {"name": "before", "type": "command", "command": "echo before"},
        {"name": "reboot", "type": "reboot", "delay_secs": 0},
        {"name": "after", "type": "command", "command": "echo after"},
    ]);
    write_job(dir.path(), &job(&srv.url, &srv.share_url(), steps, vec![]));
    let ran = run_in(dir.path(), false, Some(bin.path()));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(std::fs::read_to_string(&called).unwrap().contains("shutdown -r now"));
    let first = record(dir.path());
    assert_eq!(first.last().unwrap().event, Event::Rebooting { resume_at: 2 });
    assert_eq!(std::fs::read_to_string(dir.path().join("resume")).unwrap().trim(), "2");
    assert!(dir.path().join("job.json").exists(), "the job stays for the resume");

    // after the boot the deployer runs again on the same job and goes on after the reboot
    let ran = run_in(dir.path(), false, None);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let all = record(dir.path());
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=10).collect::<Vec<u64>>());
    assert_eq!(started(&all[first.len()..]), [2]);
    assert_eq!(results(&all).last().unwrap().output_tail, "after\n");
    assert_eq!(finished(&all).0, FinalStatus::Success);
    assert!(!dir.path().join("resume").exists() && !dir.path().join("job.json").exists());
    assert_eq!(srv.wait_reports(10), all);
}

#[test]
fn a_reboot_that_cannot_happen_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    for cmd in ["shutdown", "reboot"] {
        std::fs::write(bin.path().join(cmd), "#!/bin/sh\necho \"$0: not allowed\" >&2; exit 1\n").unwrap();
        std::process::Command::new("chmod").arg("+x").arg(bin.path().join(cmd)).status().unwrap();
    }
    let steps = json!([{"name": "reboot", "type": "reboot"}, {"name": "after", "type": "command", "command": "true"}]);
    write_job(dir.path(), &job(&dead_url(), &dead_url(), steps, vec![]));
    let ran = run_in(dir.path(), false, Some(bin.path()));
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let record = record(dir.path());
    let (status, message, last, _) = finished(&record);
    assert_eq!((status, last), (FinalStatus::Failed, Some(0)));
    assert!(message.contains("could not reboot") && message.contains("not allowed"), "{message}");
    assert!(!dir.path().join("resume").exists() && !dir.path().join("job.json").exists());
}
