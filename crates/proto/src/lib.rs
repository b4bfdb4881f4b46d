//! The wire protocol between the drover server and the deployer it puts on targets.
//!
//! The server writes a [`Job`] (JSON) on the target; the deployer executes its steps and
//! sends [`Report`]s back over HTTP (`POST {server_url}/agent/v1/report`, bearer
//! `report_token`), and appends the same reports, one JSON object a line, to
//! `record.jsonl` in its work directory so the server can collect them over SSH when the
//! callback cannot get through. Package files come from
//! `GET {share_url}/files/{sha256}` with the bearer `share_token`.
//!
//! This crate holds only data; the rules (validation, file format) live in
//! `drover-domain`, the execution in `drover-deployer`.

mod action;
mod job;
mod report;
mod step;
pub mod version;
pub mod workdir;

pub use action::Action;
pub use job::{Job, JobFile, OtherServer, PROTOCOL_VERSION};
pub use report::{Event, FinalStatus, Report, StepResult};
pub use step::{Criterion, Step, StepKind, VersionOp};

/// Placeholder in step paths that stands for the package's files on the share.
pub const PACKAGE_SHARE: &str = "{PackageShare}";
