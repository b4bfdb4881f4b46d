//! drover's domain: the words of `shared/design.md` as types, and the rules that need
//! no database, network or SSH (package validation, target states, credential order, schedule arithmetic).

pub mod asset;
pub mod asset_search;
pub mod audit;
pub mod cert_fingerprint;
pub mod credential;
pub mod deploy_config;
pub mod deployment;
pub mod executor;
pub mod failure;
pub mod group;
pub mod host_key;
pub mod ids;
pub mod inventory;
pub mod machine;
pub mod package;
pub mod report;
pub mod scan;
pub mod schedule;
pub mod scope;
pub mod selection;
pub mod serve_ranges;
pub mod share_location;
pub mod time;
pub mod user;

pub use drover_proto::{Action, Criterion, Step, StepKind, VersionOp, version};
pub use failure::FailureCode;
