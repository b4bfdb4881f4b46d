//! Building a job in a temporary work directory and running the real deployer on it.

use drover_proto::{Event, FinalStatus, Job, JobFile, PROTOCOL_VERSION, Report, Step};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_drover-deployer");

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A job for `steps` (package-file JSON) reporting to `server_url`.
pub fn job(server_url: &str, share_url: &str, steps: Value, files: Vec<JobFile>) -> Job {
    let steps: Vec<Step> = serde_json::from_value(steps).unwrap();
    Job {
        protocol: PROTOCOL_VERSION,
        target_id: 42,
        deployment_id: 7,
        package_name: "test".into(),
        package_version: "1".into(),
        steps,
        files,
        server_url: server_url.into(),
        report_token: "report-secret".into(),
        share_url: share_url.into(),
        share_token: "share-secret".into(),
        deadline_unix_ms: now_ms() + 60_000,
        start_at: 0,
        report_until_unix_ms: Some(0),
        server_cert_sha256: None,
        share_cert_sha256: None,
        other_servers: Vec::new(),
    }
}

pub fn file(path: &str, content: &[u8]) -> JobFile {
    JobFile { path: path.into(), sha256: sha256(content), size: content.len() as u64 }
}

/// One finished run of the deployer.
pub struct Ran {
    pub code: i32,
    pub stderr: String,
    pub took: Duration,
}

pub fn write_job(dir: &Path, job: &Job) {
    std::fs::write(dir.join("job.json"), serde_json::to_vec(job).unwrap()).unwrap();
}

/// Runs `drover-deployer run <dir>` (through `setsid` when `own_group`, as the server
/// starts it) with `path_first` ahead in PATH.
pub fn run_in(dir: &Path, own_group: bool, path_first: Option<&Path>) -> Ran {
    let mut cmd = if own_group {
        let mut c = Command::new("setsid");
        c.arg("-w").arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    cmd.arg("run").arg(dir);
    if let Some(p) = path_first {
        cmd.env("PATH", format!("{}:{}", p.display(), std::env::var("PATH").unwrap_or_default()));
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    Ran {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

pub fn run(dir: &Path, job: &Job) -> Ran {
    write_job(dir, job);
    run_in(dir, false, None)
}

/// The reports in `<dir>/record.jsonl`.
pub fn record(dir: &Path) -> Vec<Report> {
    let text = std::fs::read_to_string(dir.join("record.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The Finished event of a record: (status, message, last_step, return_code).
pub fn finished(reports: &[Report]) -> (FinalStatus, String, Option<usize>, Option<i32>) {
    match &reports.last().expect("no reports").event {
        Event::Finished { status, message, last_step, return_code } => {
            (*status, message.clone(), *last_step, *return_code)
        }
        other => panic!("the last report is not Finished: {other:?}"),
    }
}

/// The step results of a record.
pub fn results(reports: &[Report]) -> Vec<drover_proto::StepResult> {
    reports
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepFinished(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Indexes of the steps started, in order.
pub fn started(reports: &[Report]) -> Vec<usize> {
    reports
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepStarted { index, .. } => Some(*index),
            _ => None,
        })
        .collect()
}

/// Live (non-zombie) processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let p: PathBuf = e.path();
        let Ok(cmdline) = std::fs::read(p.join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if cmdline.contains(marker) && !zombie {
            found.push(format!("{}: {cmdline}", e.file_name().to_string_lossy()));
        }
    }
    found
}

/// The URL of a port nobody listens on.
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}
