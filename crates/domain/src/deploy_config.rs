//! Deployment configurations: a schedule, a package, the targets and the options of the
//! deployments it starts (the engine's scheduler fires them; see `schedule`).

use crate::deployment::{DeployOptions, RunMode};
use crate::ids::{AssetId, DeployConfigId, DeploymentId, ScheduleId};
use crate::selection::Selection;
use serde::{Deserialize, Serialize};

/// Which assets a configuration deploys to, resolved at each run: explicit assets
/// (`{"assets": [1, 2]}`, the form older configurations are stored in) and/or any
/// [`Selection`] (`{"selection": {"kind": "group", "group": "web"}}`); the targets are
/// the union of both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSelection {
    #[serde(default)]
    pub assets: Vec<AssetId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
}

impl TargetSelection {
    /// What a deployment of this configuration records as its selection.
    pub fn recorded(&self) -> Selection {
        match &self.selection {
            Some(s) if self.assets.is_empty() => s.clone(),
            _ => Selection::Assets { ids: self.assets.clone() },
        }
    }
}

/// How the deployments of a configuration run: the account, and Wake-on-LAN and retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigOptions {
    pub run_mode: RunMode,
    #[serde(flatten)]
    pub deploy: DeployOptions,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        ConfigOptions { run_mode: RunMode::System, deploy: DeployOptions::default() }
    }
}

/// What creating a configuration takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeployConfig {
    pub name: String,
    /// `None`: no timed runs (e.g. only on scan).
    pub schedule_id: Option<ScheduleId>,
    pub package_name: String,
    /// `None`: the newest version when the run fires.
    pub package_version: Option<String>,
    pub targets: TargetSelection,
    pub options: ConfigOptions,
    /// Also deploy to an asset when a scan finds it matches the selection.
    pub trigger_on_scan: bool,
    pub enabled: bool,
}

/// A stored configuration, with when it fired last and fires next (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployConfig {
    pub id: DeployConfigId,
    #[serde(flatten)]
    pub config: NewDeployConfig,
    pub last_fire_ms: Option<i64>,
    /// The first run not yet fired or skipped; `None` when disabled or nothing is left.
    pub next_fire_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A run a configuration fired: its scheduled time is the key that makes it happen
/// once, and the deployment it started (once created).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRun {
    pub config_id: DeployConfigId,
    pub fire_ms: i64,
    pub deployment_id: Option<DeploymentId>,
    pub created_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_selections_stay_readable() {
        let old: TargetSelection = serde_json::from_str(r#"{"assets":[1,2]}"#).unwrap();
        assert_eq!(old, TargetSelection { assets: vec![AssetId(1), AssetId(2)], selection: None });
        assert_eq!(serde_json::to_string(&old).unwrap(), r#"{"assets":[1,2]}"#);
        let new: TargetSelection = serde_json::from_str(r#"{"selection":{"kind":"group","group":"web"}}"#).unwrap();
        assert_eq!(new.recorded(), Selection::Group { group: "web".into() });
    }
}
