//! `drover-deployer run <work_dir>` executes `<work_dir>/job.json` and reports every step;
//! `drover-deployer version` prints its version.
//!
//! Exit codes: 0 success, 1 failure, 2 timed out, 3 bad job or usage.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod criteria;
mod process;
mod report;
mod runner;
mod share;
mod steps;
mod version;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["run", dir] => ExitCode::from(runner::run(Path::new(dir))),
        ["version"] => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: drover-deployer run <work_dir> | drover-deployer version");
            ExitCode::from(3)
        }
    }
}
