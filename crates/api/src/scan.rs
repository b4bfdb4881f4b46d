//! Inventory scans: `/scan-targets` takes `drover_domain::scan::NewScanTarget` and answers
//! `ScanTarget`s; `PATCH /scan-targets/{t}` takes a [`ScanTargetChange`]; `POST /scan-targets/{t}/run` and `POST /scans` (one address) answer a
//! [`ScanReport`]; `/assets/{a}/software`, `/software-history`, `/interfaces` answer the
//! domain's `Software`, `SoftwareChange` and `Interface` lists.

use drover_domain::ids::AssetId;
use drover_domain::scan::{NewScanTarget, ScanSchedule};
use serde::{Deserialize, Serialize};

/// `POST /scans`: scan one address (IP or host name) now, without a scan target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanAddress {
    pub address: String,
    #[serde(default = "default_port")]
    pub ssh_port: u16,
}

fn default_port() -> u16 {
    22
}

/// `PATCH /scan-targets/{t}` (admin): the fields to change; those left out keep their value.
/// The result is checked as a new target is (the messages name the field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanTargetChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// CIDR, first-last range, IP address or host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScanSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl ScanTargetChange {
    /// `current` with these changes.
    pub fn apply(self, current: &NewScanTarget) -> NewScanTarget {
        NewScanTarget {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            target: self.target.unwrap_or_else(|| current.target.clone()),
            ssh_port: self.ssh_port.unwrap_or(current.ssh_port),
            schedule: self.schedule.unwrap_or_else(|| current.schedule.clone()),
            enabled: self.enabled.unwrap_or(current.enabled),
        }
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == ScanTargetChange::default()
    }
}

/// `GET /assets/{a}/software?name=…`: only packages whose name contains it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A host that answered on its SSH port and was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannedHost {
    pub address: String,
    /// The asset it is (found by the identity rule) or became; None when the scan failed
    /// before an asset could be named (should not happen: failures are kept on one).
    pub asset_id: Option<AssetId>,
    pub asset_name: Option<String>,
    /// `created`, or how an existing asset was recognised (`machine_id`, `mac`, `address`).
    pub matched: String,
    /// The failure's stable code and message, when the scan of this host failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Software changes since the last scan.
    pub software_changes: usize,
    /// Deployments this scan triggered (configurations with trigger_on_scan).
    pub deployments: Vec<i64>,
}

/// What one scan run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    /// The scan target's name, or the address scanned.
    pub target: String,
    /// Addresses probed.
    pub probed: u64,
    /// Hosts that answered on the SSH port, each with how its scan went.
    pub hosts: Vec<ScannedHost>,
    pub started_ms: i64,
    pub finished_ms: i64,
}

impl ScanReport {
    /// Hosts whose scan failed.
    pub fn failed(&self) -> usize {
        self.hosts.iter().filter(|h| h.error.is_some()).count()
    }
}
