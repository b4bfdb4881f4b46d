//! `drover-deployer run <work_dir>` executes `<work_dir>/job.json` step by step and reports
//! every step; `drover-deployer start <work_dir> <log> [<job>]` starts that `run` in the
//! background (a fork, its output appended to `<work_dir>/<log>`; with `<job>`, after
//! writing its standard input to `<work_dir>/<job>`) and prints `pid=N`;
//! `drover-deployer version` prints its version.
//!
//! Exit codes of `run`: 0 success (or the machine is rebooting for a reboot step),
//! 1 failed, 2 timed out (the package's max duration), 3 bad job or usage, 4 the server
//! presented another TLS certificate than the job pins (nothing run, nothing sent).
//!
//! Files in the work directory: `job.json` (written by the server; deleted at the end,
//! it holds the tokens), `pid` (while running), `record.jsonl` (every report, one JSON
//! line each; kept), `steps/<seq>.log` (each step's output, named by the `seq` of its
//! StepStarted report; kept), `files/` (package files downloaded from the share; deleted
//! at the end) and `resume` (written by a reboot step: the 0-based step to resume at;
//! when present it wins over the job's `start_at`; deleted at the end, and by the server
//! when it creates the task again after the boot, with `start_at` from its own record).

mod copy;
mod criteria;
mod flow;
mod inproc;
mod job;
mod known;
mod process;
mod proctab;
mod report;
mod runner;
mod safefs;
mod share;
mod steps;
mod tls;

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: drover-deployer run <work_dir>\n       drover-deployer start <work_dir> <log> [<job file, written from stdin>]\n       drover-deployer version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["run", dir] => ExitCode::from(runner::run(Path::new(dir))),
        ["start", dir, log, job] if let Err(e) = runner::write_job(Path::new(dir), job) => {
            eprintln!("{e}");
            ExitCode::from(runner::EXIT_FAILED)
        }
        ["start", dir, log] | ["start", dir, log, _] => match runner::start(Path::new(dir), log) {
            runner::Started::Launcher(code) => ExitCode::from(code),
            runner::Started::Task => ExitCode::from(runner::run(Path::new(dir))),
        },
        ["version" | "--version" | "-V"] => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(runner::EXIT_BAD_JOB)
        }
    }
}
