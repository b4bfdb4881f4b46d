//! Deployments: start one, list, show, cancel, relaunch (`/deployments`).

use crate::assets::AssetRef;
use crate::packages::PackageRef;
use drover_domain::deployment::{DeployOptions, Deployment, RunMode, Target};
use serde::{Deserialize, Serialize};

/// `POST /deployments`: deploy a package now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployRequest {
    pub package: PackageRef,
    /// The package version (default: the newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Assets by id or name; may be empty when `selection` is given (the targets are both).
    #[serde(default)]
    pub assets: Vec<AssetRef>,
    /// Any other way of choosing assets (a search, an overview entry, a group, a report),
    /// resolved when the deployment starts and recorded with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<drover_domain::selection::Selection>,
    /// Overrides the package's run mode; required when the package says `ask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
    /// Wake-on-LAN and retry options; what is not given comes from the server's defaults.
    #[serde(flatten)]
    pub options: OptionsRequest,
}

/// The deployment options a request may set, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_on_lan: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_offline: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_expiry_secs: Option<u64>,
}

impl OptionsRequest {
    /// The options with `defaults` where the request is silent.
    pub fn over(&self, d: DeployOptions) -> DeployOptions {
        DeployOptions {
            wake_on_lan: self.wake_on_lan.unwrap_or(d.wake_on_lan),
            boot_secs: self.boot_secs.unwrap_or(d.boot_secs),
            retry_offline: self.retry_offline.unwrap_or(d.retry_offline),
            retry_interval_secs: self.retry_interval_secs.unwrap_or(d.retry_interval_secs),
            retry_expiry_secs: self.retry_expiry_secs.unwrap_or(d.retry_expiry_secs),
        }
    }

    /// All of `o`, as a request (a relaunch repeats the original options).
    pub fn all(o: DeployOptions) -> Self {
        OptionsRequest {
            wake_on_lan: Some(o.wake_on_lan),
            boot_secs: Some(o.boot_secs),
            retry_offline: Some(o.retry_offline),
            retry_interval_secs: Some(o.retry_interval_secs),
            retry_expiry_secs: Some(o.retry_expiry_secs),
        }
    }
}

/// A deployment with each target's state: the answer of a start, a relaunch and
/// `GET /deployments/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub deployment: Deployment,
    pub targets: Vec<Target>,
}

/// The answer of `POST /deployments/{id}/relaunch`: the new deployment, and the targets
/// of the old one that were not relaunched because their machine, reached first, showed
/// what their task really did (their outcome had been unknown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relaunched {
    #[serde(flatten)]
    pub view: DeploymentView,
    /// Targets whose task turned out to have succeeded: not run again.
    #[serde(default)]
    pub already_succeeded: Vec<Target>,
    /// Targets whose deployer still runs on the machine: not run again.
    #[serde(default)]
    pub still_running: Vec<Target>,
}

/// `GET /deployments?limit=N`: the newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentQuery {
    #[serde(default = "default_limit")]
    pub limit: i64,
}

impl Default for DeploymentQuery {
    fn default() -> Self {
        DeploymentQuery { limit: default_limit() }
    }
}

pub(crate) fn default_limit() -> i64 {
    100
}

/// The answer of `POST /deployments/{id}/cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    /// Always true.
    pub ok: bool,
    /// How many targets were still going and were stopped.
    pub cancelled: usize,
}
