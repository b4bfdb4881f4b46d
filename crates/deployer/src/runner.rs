//! Runs a job: the steps in order with their actions, under the job's deadline, then
//! removes what holds secrets or package files.

use crate::process;
use crate::report::{Reporter, now_ms};
use crate::share::Share;
use crate::steps::{self, StepRun};
use drover_proto::{Action, Event, FinalStatus, Job, StepResult};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn run(dir: &Path) -> u8 {
    if let Err(e) = std::fs::write(dir.join("pid"), std::process::id().to_string()) {
        eprintln!("drover-deployer: cannot write {}/pid: {e}", dir.display());
        return 3;
    }
    let job: Job = match std::fs::read(dir.join("job.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(j) => j,
        Err(e) => {
            eprintln!("drover-deployer: cannot read the job {}/job.json: {e}", dir.display());
            let _ = std::fs::remove_file(dir.join("pid"));
            return 3;
        }
    };
    let mut reporter = match Reporter::open(dir, job.target_id, &job.server_url, &job.report_token) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("drover-deployer: cannot open {}/record.jsonl: {e}", dir.display());
            return 3;
        }
    };
    reporter.send(Event::Started {
        pid: std::process::id(),
        deployer_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string(),
        user: current_user(),
    });
    let left = u64::try_from(job.deadline_unix_ms - now_ms()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_millis(left);
    let end = execute(&job, dir, &mut reporter, deadline);
    let code = match end {
        End::Finished { status, message, last_step, return_code } => {
            // Secrets and package files go before the end is reported, so a target
            // the server sees as ended has none left.
            let _ = std::fs::remove_file(dir.join("job.json"));
            let _ = std::fs::remove_dir_all(dir.join("files"));
            reporter.send(Event::Finished { status, message, last_step, return_code });
            match status {
                FinalStatus::Success => 0,
                FinalStatus::Failed => 1,
                FinalStatus::TimedOut => 2,
            }
        }
        End::Reboot { resume_at, delay_secs } => {
            reporter.send(Event::Rebooting { resume_at });
            let _ = std::fs::write(dir.join("resume"), resume_at.to_string());
            std::thread::sleep(Duration::from_secs(delay_secs));
            let _ = std::process::Command::new("/bin/sh").arg("-c").arg("shutdown -r now || reboot").status();
            return 0;
        }
    };
    for leftover in ["pid", "resume"] {
        let _ = std::fs::remove_file(dir.join(leftover));
    }
    code
}

fn current_user() -> String {
    std::process::Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default()
}

enum End {
    Finished { status: FinalStatus, message: String, last_step: Option<usize>, return_code: Option<i32> },
    Reboot { resume_at: usize, delay_secs: u64 },
}

fn execute(job: &Job, dir: &Path, reporter: &mut Reporter, deadline: Instant) -> End {
    let share = Share::new(job, dir);
    let logs = dir.join("steps");
    let _ = std::fs::create_dir_all(&logs);
    let (mut i, mut runs) = (job.start_at, 0usize);
    let (mut last_step, mut return_code) = (None, None);
    let finished =
        |status, message: String, last_step, return_code| End::Finished { status, message, last_step, return_code };
    loop {
        let Some(step) = job.steps.get(i) else {
            return finished(FinalStatus::Success, "all steps done".into(), last_step, return_code);
        };
        if Instant::now() >= deadline {
            let msg = format!("the package's max duration ended before step {} '{}'", i + 1, step.name);
            return finished(FinalStatus::TimedOut, msg, last_step, return_code);
        }
        runs += 1;
        reporter.send(Event::StepStarted { index: i, name: step.name.clone() });
        let log = logs.join(format!("{runs}.log"));
        let started = Instant::now();
        let step_limit = step.timeout_secs.map(|s| started + Duration::from_secs(s));
        let run: StepRun = steps::execute(&step.kind, &share, &log, step_limit, deadline);
        if !run.output.is_empty() {
            let _ = std::fs::write(&log, &run.output);
        }
        let success = run.killed.is_none() && run.exit_code.is_some_and(|c| step.success_codes.contains(&c));
        let message = match (run.killed, &run.message) {
            (Some(process::Killed::StepTimeout), _) => {
                format!("the step ran longer than its timeout of {} s and was killed", step.timeout_secs.unwrap_or(0))
            }
            (Some(process::Killed::Deadline), _) => {
                "the package's max duration ended during this step; it was killed".to_string()
            }
            (None, m) => m.clone(),
        };
        reporter.send(Event::StepFinished(StepResult {
            index: i,
            name: step.name.clone(),
            exit_code: run.exit_code,
            success,
            duration_ms: started.elapsed().as_millis() as u64,
            output_tail: process::tail(&log),
            message: message.clone(),
        }));
        last_step = Some(i);
        return_code = run.exit_code;
        if run.killed == Some(process::Killed::Deadline) {
            let msg = format!("the package's max duration ended during step {} '{}'", i + 1, step.name);
            return finished(FinalStatus::TimedOut, msg, last_step, return_code);
        }
        if let (true, Some(delay_secs)) = (success, run.reboot) {
            return End::Reboot { resume_at: i + 1, delay_secs };
        }
        let why = || {
            let code = run.exit_code.map_or("no exit code".to_string(), |c| format!("exit code {c}"));
            let detail = if message.is_empty() { String::new() } else { format!(": {message}") };
            format!(
                "step {} '{}' failed with {code} (success codes {:?}){detail}",
                i + 1,
                step.name,
                step.success_codes
            )
        };
        match if success { step.on_success } else { step.on_failure } {
            Action::Next => i += 1,
            Action::GoTo(n) => i = (n as usize).saturating_sub(1),
            Action::StopSuccess => {
                let msg = format!("stopped with success after step {} '{}'", i + 1, step.name);
                return finished(FinalStatus::Success, msg, last_step, return_code);
            }
            Action::StopFailure => {
                let msg =
                    if success { format!("stopped with failure after step {} '{}'", i + 1, step.name) } else { why() };
                return finished(FinalStatus::Failed, msg, last_step, return_code);
            }
        }
    }
}
