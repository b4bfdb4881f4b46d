//! Reports: saved SQL `SELECT`s over the documented report views, their parameters, the
//! built-in ones, and what running one answers. The store checks and runs the SQL
//! (read-only, with a time limit and a row cap); this module only names things.

use crate::ids::ReportId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The views a report may read, with their columns (the same on SQLite and PostgreSQL).
/// Id columns are named `AssetID`, `DeploymentID`, `TargetID`: a report whose result has
/// an `AssetID` column can be deployed to.
pub const VIEWS: &[(&str, &[&str])] = &[
    (
        "report_assets",
        &[
            "AssetID",
            "name",
            "address",
            "ssh_port",
            "hostname",
            "domain",
            "os",
            "arch",
            "type",
            "pending_reboot",
            "last_seen_ms",
            "created_ms",
        ],
    ),
    ("report_interfaces", &["AssetID", "interface", "mac", "ip"]),
    ("report_software", &["AssetID", "name", "version", "arch"]),
    ("report_logged_on", &["AssetID", "user_name", "since_ms"]),
    (
        "report_deployments",
        &["DeploymentID", "package_name", "package_version", "executor", "selection", "created_ms", "finished_ms"],
    ),
    (
        "report_targets",
        &[
            "TargetID",
            "DeploymentID",
            "AssetID",
            "asset_name",
            "package_name",
            "package_version",
            "state",
            "error_code",
            "message",
            "return_code",
            "created_ms",
            "finished_ms",
        ],
    ),
    (
        "report_steps",
        &["TargetID", "DeploymentID", "AssetID", "step_index", "name", "exit_code", "success", "duration_ms", "at_ms"],
    ),
];

/// The parameter every report may use without declaring it: the server's time (epoch ms).
pub const NOW_PARAM: &str = "now_ms";

/// What creating (or importing) a report takes. Parameters are bound in order as `$1`,
/// `$2`, … (text; `CAST($1 AS BIGINT)` for numbers); `now_ms` is filled in by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub sql: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
}

impl NewReport {
    /// Checks the name, the SQL's size and the parameter names (not the SQL itself: the
    /// store's checker does that).
    pub fn validate(&mut self) -> Result<(), String> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.len() > 200 || self.name.chars().any(char::is_control) {
            return Err("report name must be 1 to 200 characters without control characters".into());
        }
        if crate::package::is_all_digits(&self.name) {
            return Err(format!("report name '{}' must not be all digits: it would read as a report id", self.name));
        }
        if self.sql.trim().is_empty() || self.sql.len() > 20_000 {
            return Err("sql must be 1 to 20000 bytes".into());
        }
        for p in &self.params {
            if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("parameter name '{p}' must be letters, digits and _"));
            }
        }
        Ok(())
    }

    /// The values to bind as `$1..`, in declared order; the message names a missing one.
    pub fn bind_values(&self, given: &BTreeMap<String, String>, now_ms: i64) -> Result<Vec<String>, String> {
        for k in given.keys() {
            if !self.params.contains(k) {
                return Err(format!(
                    "report '{}' has no parameter '{k}' (it takes: {})",
                    self.name,
                    self.params_text()
                ));
            }
        }
        self.params
            .iter()
            .map(|p| match given.get(p) {
                Some(v) => Ok(v.clone()),
                None if p == NOW_PARAM => Ok(now_ms.to_string()),
                None => Err(format!("report '{}' needs the parameter '{p}' (--param {p}=VALUE)", self.name)),
            })
            .collect()
    }

    fn params_text(&self) -> String {
        if self.params.is_empty() { "none".into() } else { self.params.join(", ") }
    }
}

/// A report: a saved one, or a built-in (`id` 0, cannot be changed or removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: ReportId,
    #[serde(flatten)]
    pub report: NewReport,
    pub builtin: bool,
    pub created_ms: i64,
}

/// The result of running a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// More rows existed than the row cap; `rows` holds the first ones.
    pub truncated: bool,
}

impl ReportResult {
    /// The position of the `AssetID` column (any case), if the report has one.
    pub fn asset_column(&self) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case("assetid"))
    }
}

/// The reports every server has.
pub fn builtins() -> Vec<Report> {
    let r = |name: &str, description: &str, params: &[&str], sql: &str| Report {
        id: ReportId(0),
        report: NewReport {
            name: name.into(),
            description: description.into(),
            sql: sql.into(),
            params: params.iter().map(|p| p.to_string()).collect(),
        },
        builtin: true,
        created_ms: 0,
    };
    vec![
        r(
            "last-deployment-failed",
            "Assets where the last deployment of a package did not succeed",
            &["package"],
            "SELECT t.AssetID, t.asset_name, t.package_version, t.state, t.error_code, t.DeploymentID \
             FROM report_targets t WHERE t.package_name = $1 AND t.state IN ('failed', 'timed_out', 'offline', 'cancelled') \
             AND t.TargetID = (SELECT MAX(l.TargetID) FROM report_targets l \
             WHERE l.AssetID = t.AssetID AND l.package_name = $1 AND l.finished_ms IS NOT NULL) \
             ORDER BY t.asset_name",
        ),
        r(
            "software-missing",
            "Assets on which a software package is not installed (as of their last scan)",
            &["software"],
            "SELECT a.AssetID, a.name, a.os FROM report_assets a WHERE NOT EXISTS \
             (SELECT 1 FROM report_software s WHERE s.AssetID = a.AssetID AND s.name = $1) ORDER BY a.name",
        ),
        r(
            "not-scanned-7-days",
            "Assets not seen for 7 days or never",
            &[NOW_PARAM],
            "SELECT AssetID, name, address, last_seen_ms FROM report_assets \
             WHERE last_seen_ms IS NULL OR last_seen_ms < CAST($1 AS BIGINT) - 604800000 ORDER BY name",
        ),
        r(
            "pending-reboots",
            "Assets whose last scan found a reboot pending (/var/run/reboot-required, needs-restarting -r)",
            &[],
            "SELECT AssetID, name, os FROM report_assets WHERE pending_reboot = 1 ORDER BY name",
        ),
    ]
}

/// A report as a file (`drover report export`).
pub type ReportFile = NewReport;
