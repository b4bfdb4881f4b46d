//! Schedules (`/schedules`) and deployment configurations (`/configs`): a schedule is
//! posted and put as `drover_domain::schedule::Schedule`; a configuration is created
//! from a [`ConfigRequest`]; both are answered with their next run times.

use crate::assets::AssetRef;
use crate::deployments::OptionsRequest;
use drover_domain::deploy_config::DeployConfig;
use drover_domain::deployment::RunMode;
use drover_domain::schedule::ScheduleRecord;
use serde::{Deserialize, Serialize};

/// A run time: the instant, in UTC and in the schedule's own time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTime {
    /// Epoch milliseconds.
    pub at_ms: i64,
    /// e.g. `2026-12-01T21:00:00Z`
    pub utc: String,
    /// e.g. `2026-12-01 22:00 CET (+01:00)`, in the schedule's time zone.
    pub local: String,
}

/// A stored schedule with its next runs and the configurations that use it:
/// `GET /schedules` (the next run only) and `GET /schedules/{id}` (the next 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleView {
    #[serde(flatten)]
    pub record: ScheduleRecord,
    pub next_runs: Vec<RunTime>,
    /// Names of the deployment configurations on this schedule.
    pub used_by: Vec<String>,
}

/// `GET /schedules/{id}/preview?n=10`: the next `n` runs (1 to 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewQuery {
    #[serde(default = "default_preview")]
    pub n: usize,
}

fn default_preview() -> usize {
    10
}

impl Default for PreviewQuery {
    fn default() -> Self {
        PreviewQuery { n: default_preview() }
    }
}

/// `POST /configs`: what to deploy (a package, a fixed version or the newest), where
/// (assets, resolved again at each run), when (a schedule) and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRequest {
    pub name: String,
    /// The schedule, by id or name; none: no timed runs (only on scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The package by name.
    pub package: String,
    /// A fixed version; none: the newest version when each run fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub assets: Vec<AssetRef>,
    /// Any other selection (a search, an overview entry, a group, a report), resolved at
    /// each run; the targets are `assets` and it together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<drover_domain::selection::Selection>,
    /// Overrides the package's run mode; required when the package says `ask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
    /// Wake-on-LAN and retry; what is not given comes from the server's defaults.
    #[serde(flatten)]
    pub options: OptionsRequest,
    /// Also deploy when an inventory scan finds a matching asset (stored; the scan that
    /// fires it is not built yet).
    #[serde(default)]
    pub trigger_on_scan: bool,
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A stored configuration, its schedule's name and its next run:
/// `GET /configs`, `GET /configs/{id}`, and the answer of create, enable and disable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigView {
    #[serde(flatten)]
    pub config: DeployConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<RunTime>,
}
