//! The real deployer binary against a job in a temporary directory, with a tiny HTTP
//! server standing in for the drover server (share and report callback).

#![allow(clippy::unwrap_used)]

mod limits;
mod links;
mod server;
mod software;
mod support;

use drover_proto::{Event, FinalStatus};
use serde_json::json;
use server::TestServer;
use std::os::unix::fs::PermissionsExt;
use support::*;

#[test]
fn three_step_package_succeeds_and_reports_in_order() {
    let srv = TestServer::start();
    let conf = b"listen = 8080\n".repeat(40_000); // ~560 KB, streamed
    srv.add_file(&sha256(&conf), &conf);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("etc/app/app.conf");
    let steps = json!([
        {"name": "copy config", "type": "file-copy", "source": "{PackageShare}/conf/app.conf",
         "destination": dest, "mode": "0640"},
        {"name": "show", "type": "command", "command": format!("wc -c < '{}'; echo user=$(id -un)", dest.display())},
        {"name": "check", "type": "condition", "criteria": [
            {"check": "file-hash", "path": dest, "sha256": sha256(&conf)},
            {"check": "file-exists", "path": dest},
            {"check": "command-exit", "command": "exit 0"},
        ]},
    ]);
    let job = job(&srv.url, &srv.share_url(), steps, vec![file("conf/app.conf", &conf)]);
    let ran = run(dir.path(), &job);
    assert_eq!(ran.code, 0, "{}", ran.stderr);

    assert_eq!(std::fs::read(&dest).unwrap(), conf);
    assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777, 0o640);
    let record = record(dir.path());
    let seqs: Vec<u64> = record.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<u64>>());
    assert!(record.iter().all(|r| r.target_id == 42));
    let Event::Started { pid, deployer_version, hostname, user } = &record[0].event else {
        panic!("first report: {:?}", record[0]);
    };
    assert!(*pid > 0 && !hostname.is_empty() && !user.is_empty());
    assert_eq!(deployer_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(started(&record), [0, 1, 2]);
    let res = results(&record);
    assert!(res.iter().all(|s| s.success && s.exit_code == Some(0)), "{res:#?}");
    assert!(res[1].output_tail.contains(&conf.len().to_string()), "{}", res[1].output_tail);
    assert!(res[2].output_tail.contains("holds: file"), "{}", res[2].output_tail);
    assert_eq!(finished(&record).0, FinalStatus::Success);
    assert_eq!(finished(&record).2, Some(2));
    // the server got the same reports, in order
    assert_eq!(srv.wait_reports(8), record);
    assert_eq!(srv.share_requests(), [(format!("/share/v1/files/{}", sha256(&conf)), 200)]);
    // the job and the package files are gone; record and logs stay
    let mut left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    left.sort();
    assert_eq!(left, ["etc", "record.jsonl", "steps"]);
    // logs are named by the seq of their StepStarted report
    assert!(std::fs::read_to_string(dir.path().join("steps/4.log")).unwrap().contains("user="));
}

#[test]
fn a_hash_check_after_the_copy_reads_the_file_only_once_it_changed() {
    let srv = TestServer::start();
    let conf = b"listen = 8080\n".repeat(1000);
    srv.add_file(&sha256(&conf), &conf);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app.conf");
    let mut changed = conf.clone();
    changed.push(b'x');
    let steps = json!([
        {"name": "copy", "type": "file-copy", "source": "{PackageShare}/app.conf", "destination": dest},
        {"name": "check", "type": "condition", "criteria": [{"check": "file-hash", "path": dest, "sha256": sha256(&conf)}]},
        {"name": "change", "type": "command", "command": format!("printf x >> '{}'", dest.display())},
        {"name": "check again", "type": "condition", "criteria": [{"check": "file-hash", "path": dest, "sha256": sha256(&changed)}]},
    ]);
    let ran = run(dir.path(), &job(&srv.url, &srv.share_url(), steps, vec![file("app.conf", &conf)]));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let res = results(&record(dir.path()));
    assert!(res.iter().all(|s| s.success), "{res:#?}");
    // the copy hashed the bytes it wrote: the check takes that hash
    assert!(res[1].output_tail.contains("unchanged since this task's copy wrote it"), "{}", res[1].output_tail);
    // once the file changed, the check reads it
    assert!(res[3].output_tail.contains(&sha256(&changed)), "{}", res[3].output_tail);
    assert!(!res[3].output_tail.contains("unchanged since"), "{}", res[3].output_tail);
}

/// The job's server is gone (its node died): the deployer reports to, and fetches the
/// package file from, the other node the job names.
#[test]
fn a_job_whose_server_is_gone_reports_to_and_fetches_from_another_node() {
    let other = TestServer::start();
    let conf = b"from the other node\n";
    other.add_file(&sha256(conf), conf);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app.conf");
    let steps = json!([
        {"name": "copy", "type": "file-copy", "source": "{PackageShare}/app.conf", "destination": dest},
    ]);
    let gone = dead_url();
    let mut job = job(&gone, &format!("{gone}/share/v1"), steps, vec![file("app.conf", conf)]);
    job.other_servers = vec![drover_proto::OtherServer { url: other.url.clone(), cert_sha256: None }];
    let ran = run(dir.path(), &job);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(std::fs::read(&dest).unwrap(), conf);
    let reports = other.reports();
    assert_eq!(finished(&reports).0, FinalStatus::Success, "{reports:#?}");
    let seqs: Vec<u64> = reports.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "each report once, in order");
}

#[test]
fn failures_follow_on_failure_goto_and_stop_success() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let steps = json!([
        {"name": "fails", "type": "command", "command": "echo trying; exit 3", "on_failure": "goto 3"},
        {"name": "skipped", "type": "command", "command": "echo never"},
        {"name": "tolerated", "type": "condition", "on_failure": "stop-success",
         "criteria": [{"check": "file-exists", "path": "/nonexistent/drover"}, {"check": "command-exit", "command": "exit 4", "codes": [4]}]},
        {"name": "after stop", "type": "command", "command": "echo never"},
    ]);
    let ran = run(dir.path(), &job(&srv.url, &srv.share_url(), steps, vec![]));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let record = record(dir.path());
    assert_eq!(started(&record), [0, 2]);
    let res = results(&record);
    assert_eq!((res[0].exit_code, res[0].success), (Some(3), false));
    assert!(res[0].message.contains("exit code 3"), "{}", res[0].message);
    assert_eq!(res[0].output_tail, "trying\n");
    assert_eq!((res[1].exit_code, res[1].success), (Some(1), false));
    assert!(res[1].output_tail.contains("FAILS: file /nonexistent/drover does not exist"), "{}", res[1].output_tail);
    assert!(res[1].output_tail.contains("holds: `exit 4` exited 4"), "{}", res[1].output_tail);
    let (status, message, last, code) = finished(&record);
    assert_eq!((status, last, code), (FinalStatus::Success, Some(2), Some(1)));
    assert!(message.contains("stopped with success after step 3 'tolerated'"), "{message}");
    assert_eq!(srv.wait_reports(record.len()).len(), record.len());
}

#[test]
fn a_failing_step_stops_the_job_failed_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let steps = json!([
        {"name": "ok", "type": "command", "command": "exit 0"},
        {"name": "bad", "type": "command", "command": "echo oops >&2; exit 2", "success_codes": [0, 1]},
        {"name": "never", "type": "command", "command": "exit 0"},
    ]);
    let ran = run(dir.path(), &job(&dead_url(), &dead_url(), steps, vec![]));
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let record = record(dir.path());
    assert_eq!(started(&record), [0, 1]);
    let (status, message, last, code) = finished(&record);
    assert_eq!((status, last, code), (FinalStatus::Failed, Some(1), Some(2)));
    assert!(message.contains("step 2 'bad' failed: exit code 2 is not one of the success codes [0, 1]"), "{message}");
    assert_eq!(results(&record)[1].output_tail, "oops\n");
}

#[test]
fn share_files_are_checked_and_downloaded_once() {
    let srv = TestServer::start();
    let good = b"#!/bin/sh\necho \"script says $1\"\n".to_vec();
    let expected = b"the real content".to_vec();
    srv.add_file(&sha256(&good), &good);
    srv.add_file(&sha256(&expected), b"tampered content");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.conf");
    let steps = json!([
        {"name": "script", "type": "script", "path": "{PackageShare}/bin/hello.sh", "parameters": "'big world'"},
        {"name": "installer", "type": "installer", "path": "{PackageShare}/bin/hello.sh", "parameters": "again"},
        {"name": "tampered", "type": "file-copy", "source": "{PackageShare}/conf/app.conf", "destination": out},
    ]);
    let files = vec![file("bin/hello.sh", &good), file("conf/app.conf", &expected)];
    let ran = run(dir.path(), &job(&srv.url, &srv.share_url(), steps, files));
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let res = results(&record(dir.path()));
    assert_eq!(res[0].output_tail, "script says big world\n");
    assert_eq!(res[1].output_tail, "script says again\n");
    assert!(!res[2].success);
    let m = &res[2].message;
    assert!(m.contains("'conf/app.conf'") && m.contains("SHA-256") && m.contains(&sha256(&expected)), "{m}");
    assert!(!out.exists());
    assert!(!dir.path().join("files").exists());
    let hello = srv.share_requests().iter().filter(|(p, _)| p.ends_with(&sha256(&good))).count();
    assert_eq!(hello, 1, "the script is downloaded once per job");
}

#[test]
fn share_refusals_and_unknown_files_fail_clearly() {
    let srv = TestServer::start();
    let content = b"data".to_vec();
    srv.add_file(&sha256(&content), &content);
    let dir = tempfile::tempdir().unwrap();
    let steps = json!([
        {"name": "copy", "type": "file-copy", "source": "{PackageShare}/a.txt", "destination": dir.path().join("a"),
         "on_failure": "next"},
        {"name": "unknown", "type": "file-copy", "source": "{PackageShare}/missing.txt", "destination": dir.path().join("b")},
    ]);
    let mut job = job(&srv.url, &srv.share_url(), steps, vec![file("a.txt", &content)]);
    job.share_token = "wrong".into();
    let ran = run(dir.path(), &job);
    assert_eq!(ran.code, 1);
    let res = results(&record(dir.path()));
    assert!(res[0].message.contains("'a.txt'") && res[0].message.contains("HTTP 403"), "{}", res[0].message);
    assert!(res[1].message.contains("missing.txt") && res[1].message.contains("not one of the package's files"));
    assert_eq!(srv.share_requests()[0].1, 403);
}

#[test]
fn an_unreachable_server_does_not_stop_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let steps = json!([
        {"name": "one", "type": "command", "command": "echo one"},
        {"name": "two", "type": "sleep", "seconds": 0},
        {"name": "three", "type": "condition", "criteria": [{"check": "file-absent", "path": "/nonexistent/x"}]},
    ]);
    let ran = run(dir.path(), &job(&dead_url(), &dead_url(), steps, vec![]));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.took.as_secs() < 20, "took {:?}", ran.took);
    assert!(ran.stderr.contains("cannot post a report"), "{}", ran.stderr);
    let record = record(dir.path());
    assert_eq!(record.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=8).collect::<Vec<u64>>());
    assert_eq!(finished(&record).0, FinalStatus::Success);
    assert!(!dir.path().join("job.json").exists());
    assert!(!dir.path().join("pid").exists());
}

#[test]
fn bad_jobs_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.json"), "{not json").unwrap();
    let ran = run_in(dir.path(), false, None);
    assert_eq!(ran.code, 3);
    assert!(ran.stderr.contains("job.json") && ran.stderr.contains("not a valid job"), "{}", ran.stderr);
    assert!(!dir.path().join("pid").exists());

    // enough of it to report the failure
    let srv = TestServer::start();
    let partial = json!({"target_id": 42, "server_url": srv.url, "report_token": srv.report_token, "steps": "x"});
    std::fs::write(dir.path().join("job.json"), partial.to_string()).unwrap();
    assert_eq!(run_in(dir.path(), false, None).code, 3);
    let got = srv.wait_reports(1);
    let (status, message, _, _) = finished(&got);
    assert_eq!(status, FinalStatus::Failed);
    assert!(message.contains("not a valid job"), "{message}");
    assert!(!dir.path().join("job.json").exists(), "the tokens go");

    let missing = run_in(&dir.path().join("nope"), false, None);
    assert_eq!(missing.code, 3);
    let usage = std::process::Command::new(BIN).output().unwrap();
    assert_eq!(usage.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("usage"));
}

#[test]
fn version_prints_the_version() {
    let out = std::process::Command::new(BIN).arg("version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), env!("CARGO_PKG_VERSION"));
}

/// `start` runs the job in the background, in a session of its own, with its output in
/// the log, and prints the task's pid at once.
#[test]
fn start_runs_the_task_in_its_own_session_and_prints_its_pid() {
    let dir = tempfile::tempdir().unwrap();
    let steps = json!([{"name": "hold", "type": "command", "command": "echo held; sleep 2"}]);
    write_job(dir.path(), &job(&dead_url(), &dead_url(), steps, vec![]));
    let started = std::time::Instant::now();
    let out = std::process::Command::new(BIN).arg("start").arg(dir.path()).arg("deployer.log").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "start waited for the task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pid: i32 =
        stdout.trim().strip_prefix("pid=").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{stdout}"));
    let stat = || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the task's process group and session become its own (fields 5 and 6 of stat)
    let own = format!("{pid} {pid}");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let group_and_session =
        || stat().rsplit_once(") ").map(|(_, r)| r.split(' ').skip(2).take(2).collect::<Vec<_>>().join(" "));
    while group_and_session().as_deref() != Some(own.as_str()) {
        assert!(std::time::Instant::now() < until, "not in a session of its own: {}", stat());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(stat().is_empty() || stat().rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z'))) {
        assert!(std::time::Instant::now() < until, "the task did not end");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(finished(&record(dir.path())).0, FinalStatus::Success);
    let log = std::fs::read_to_string(dir.path().join("deployer.log")).unwrap();
    assert!(log.contains("cannot post a report"), "the task's output is in its log: {log}");

    // with a job file name: the work directory made (0700) and the job written from the
    // input, then the task started
    let fresh = dir.path().join("fresh");
    let job_json = serde_json::to_vec(&job(&dead_url(), &dead_url(), json!([]), vec![])).unwrap();
    let mut start = std::process::Command::new(BIN)
        .args(["start".as_ref(), fresh.as_os_str(), "log".as_ref(), "job.json".as_ref()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut start.stdin.take().unwrap(), &job_json).unwrap();
    let out = start.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pid="), "{out:?}");
    assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while record(&fresh).is_empty() || finished(&record(&fresh)).0 != FinalStatus::Success {
        assert!(std::time::Instant::now() < until, "the task with the written job did not end");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // a work directory that cannot be made: said, nothing started, nothing made
    let nowhere = dir.path().join("missing/parent");
    let out = std::process::Command::new(BIN)
        .args(["start".as_ref(), nowhere.as_os_str(), "log".as_ref(), "job.json".as_ref()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot create"), "{out:?}");
    assert!(!dir.path().join("missing").exists());

    // a log it may not write: said, nothing started
    let out = std::process::Command::new(BIN).arg("start").arg(dir.path().join("nope")).arg("log").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"), "{out:?}");
}
