//! Scan-triggered deployments: right after an asset's scan succeeds, every enabled
//! deployment configuration with `trigger_on_scan` whose targets (resolved now) hold the asset
//! deploys its package there, unless that package version already succeeded there or is
//! still running there. The executor is the configuration (`config:<name>`).

use crate::Engine;
use crate::now_ms;
use drover_domain::asset::Asset;
use drover_domain::audit::AuditAction;
use drover_domain::deploy_config::DeployConfig;
use drover_domain::executor::Executor;
use drover_domain::selection::Selection;
use drover_store::NewDeployment;

impl Engine {
    /// Starts the deployments the scan of `asset` triggers; returns their ids. Errors are
    /// logged per configuration: one configuration never stops another, nor the scan.
    pub(super) async fn deploy_after_scan(&self, asset: &Asset) -> Vec<i64> {
        let configs = match self.store().list_configs().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(asset = %asset.name, "cannot read the configurations triggered by scans: {e}");
                return Vec::new();
            }
        };
        let mut started = Vec::new();
        for c in configs.iter().filter(|c| c.config.trigger_on_scan && c.config.enabled) {
            match self.holds(c, asset).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(config = %c.config.name, asset = %asset.name, "cannot resolve the configuration's targets: {e}");
                    continue;
                }
            }
            match self.trigger(c, asset).await {
                Ok(Some(id)) => started.push(id),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(config = %c.config.name, asset = %asset.name, "scan-triggered deployment not started: {e}")
                }
            }
        }
        started
    }

    /// Whether the configuration's targets, resolved now (an asset list, a search, a
    /// group, a report…), hold the asset.
    async fn holds(&self, c: &DeployConfig, asset: &Asset) -> crate::Result<bool> {
        Ok(match &c.config.targets.recorded() {
            Selection::Assets { ids } => ids.contains(&asset.id),
            s => self.resolve_selection(s).await?.iter().any(|(id, _)| *id == asset.id),
        })
    }

    async fn trigger(&self, c: &DeployConfig, asset: &Asset) -> crate::Result<Option<i64>> {
        let name = &c.config.name;
        let pkg = self.store().package_by_name(&c.config.package_name, c.config.package_version.as_deref()).await?;
        let run_mode =
            pkg.def.run_mode.resolve(Some(c.config.options.run_mode)).map_err(crate::EngineError::Invalid)?;
        let executor = Executor::Config(name.clone());
        let new = NewDeployment {
            package_id: pkg.id,
            package_name: pkg.def.name.clone(),
            package_version: pkg.def.version.clone(),
            executor: executor.clone(),
            run_mode,
            options: c.config.options.deploy,
            targets: vec![(asset.id, asset.name.clone())],
            selection: Some(Selection::Assets { ids: vec![asset.id] }),
        };
        let Some((deployment, targets)) =
            self.store().create_deployment_unless_done_or_running(asset.id, &new, now_ms()).await?
        else {
            tracing::debug!(config = %name, asset = %asset.name, "package {} {} succeeded or runs there already", pkg.def.name, pkg.def.version);
            return Ok(None);
        };
        let detail = format!(
            "deployment {}: package '{}' version {} to asset '{}', after the scan of that asset succeeded",
            deployment.id, deployment.package_name, deployment.package_version, asset.name
        );
        tracing::info!(config = %name, "{detail}");
        self.audit_done(&executor, AuditAction::Deploy, &detail).await;
        self.start_targets(&deployment, &targets, pkg).await;
        Ok(Some(deployment.id.0))
    }
}
