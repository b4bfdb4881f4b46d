//! Deployment logs: per target, the Lansweeper fields plus every step and state change.

use crate::Engine;
use crate::error::Result;
use drover_domain::deployment::{Deployment, StepRecord, Target, TargetEvent};
use drover_domain::ids::DeploymentId;
use drover_store::LogFilter;
use serde::Serialize;
use std::collections::HashMap;

/// One target's log entry.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    #[serde(flatten)]
    pub target: Target,
    pub package_name: String,
    pub package_version: String,
    pub executor: String,
    pub steps: Vec<StepRecord>,
    pub events: Vec<TargetEvent>,
}

impl Engine {
    pub async fn log(&self, filter: &LogFilter) -> Result<Vec<LogEntry>> {
        let targets = self.store().log(filter).await?;
        let mut deployments: HashMap<DeploymentId, Deployment> = HashMap::new();
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            if !deployments.contains_key(&target.deployment_id) {
                let d = self.store().deployment(target.deployment_id).await?;
                deployments.insert(d.id, d);
            }
            let d = &deployments[&target.deployment_id];
            out.push(LogEntry {
                package_name: d.package_name.clone(),
                package_version: d.package_version.clone(),
                executor: d.executor.clone(),
                steps: self.store().steps_of(target.id).await?,
                events: self.store().events_of(target.id).await?,
                target,
            });
        }
        Ok(out)
    }
}
