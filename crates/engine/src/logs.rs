//! Deployment logs: per target, its log fields plus every step and state change.

use crate::Engine;
use crate::error::Result;
use drover_api::logs::{LogEntry, LogQuery};
use drover_domain::deployment::Deployment;
use drover_domain::ids::{AssetId, DeploymentId, PackageId};
use drover_store::LogFilter;
use std::collections::HashMap;

/// The most log entries one query returns.
const MAX_LOG_ENTRIES: i64 = 10_000;

impl Engine {
    /// The log entries `q` selects, newest first (at most 10 000).
    pub async fn log(&self, q: &LogQuery) -> Result<Vec<LogEntry>> {
        let filter = LogFilter {
            deployment: q.deployment.map(DeploymentId),
            asset: q.asset.map(AssetId),
            package: q.package.map(PackageId),
            limit: q.limit.clamp(1, MAX_LOG_ENTRIES),
        };
        let targets = self.store().log(&filter).await?;
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
