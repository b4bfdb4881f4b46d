//! The files drover keeps on a target, named once for the server (which writes the job
//! and collects the record over SSH) and the deployer (which runs in the directory).
//!
//! A target's work directory is `<base>/targets/<target id>`, with `<base>`
//! [`ROOT_BASE`] for a task created as root and `<home>/`[`HOME_BASE`] otherwise; the
//! deployer lives in `<base>/bin/` under [`deployer_file`].

/// The job the server writes (deleted at the end: it holds the tokens).
pub const JOB: &str = "job.json";
/// The deployer's process id, while it runs.
pub const PID: &str = "pid";
/// The pid file of `start-stop-daemon`, which created tasks before `drover-deployer
/// start` did; a launch still removes one an older drover left.
pub const TASK_PID: &str = "task.pid";
/// Every report, one JSON object a line; kept.
pub const RECORD: &str = "record.jsonl";
/// The deployer's own standard output and error.
pub const DEPLOYER_LOG: &str = "deployer.log";
/// Package files downloaded from the share (deleted at the end).
pub const FILES: &str = "files";
/// A FIFO the launch script makes and reads: the deployer writes its pid there as it
/// starts, so the launch learns it at once, without polling.
pub const STARTED: &str = "started";
/// Where drover keeps its files for tasks created as root.
pub const ROOT_BASE: &str = "/var/lib/drover";
/// Where drover keeps its files, under the login user's home, otherwise.
pub const HOME_BASE: &str = ".drover";
/// The folder of a base that holds the deployer builds.
pub const BIN: &str = "bin";
/// The folder of a base that holds the targets' work directories.
pub const TARGETS: &str = "targets";

/// The deployer build with this SHA-256 (hex), relative to a base: `bin/drover-deployer-<hash16>`.
pub fn deployer_file(sha256: &str) -> String {
    let short = sha256.get(..16).unwrap_or(sha256);
    format!("{BIN}/drover-deployer-{short}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn deployer_is_named_by_its_hash() {
        assert_eq!(super::deployer_file("0123456789abcdef0123"), "bin/drover-deployer-0123456789abcdef");
        assert_eq!(super::deployer_file("ab"), "bin/drover-deployer-ab");
    }
}
