//! Deployments: starting one, the task that drives each target, and the reports that
//! come back from the deployer.

mod nodes;
mod recover;
mod remote;
mod reports;
pub(crate) mod scan_facts;
mod sessions;
mod target;

pub use nodes::NodePass;
pub(crate) use nodes::spawn_node_loop;
use target::Learned;

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_api::assets::AssetRef;
use drover_api::deployments::{DeployRequest, DeploymentView, OptionsRequest, Relaunched};
use drover_api::packages::PackageRef;
use drover_api::retry::Retry;
use drover_domain::audit::AuditAction;
use drover_domain::deployment::{Deployment, Executor, Target, TargetState};
use drover_domain::ids::{AssetId, DeploymentId, TargetId};
use drover_domain::package::Package;
use drover_domain::selection::{Selection, label};
use drover_store::NewDeployment;
use std::sync::Arc;
use tokio::sync::Notify;

/// A target a task of this node drives: what wakes that task (a report that ended the
/// target, a cancel) and, once known, its package (so that its reports need not read it).
#[derive(Default)]
pub(crate) struct Driven {
    notify: Arc<Notify>,
    package: Option<Arc<Package>>,
}

impl Engine {
    /// The targets waiting in the retry queue, next attempt first.
    pub async fn retry_queue(&self) -> Result<Vec<Retry>> {
        let mut out = Vec::new();
        let mut deployments = std::collections::HashMap::new();
        for t in self.store().unfinished_targets().await? {
            if t.state != TargetState::WaitingRetry {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = deployments.entry(t.deployment_id) {
                e.insert(self.store().deployment(t.deployment_id).await?);
            }
            let d = &deployments[&t.deployment_id];
            out.push(Retry {
                package_name: d.package_name.clone(),
                package_version: d.package_version.clone(),
                retry_interval_secs: d.options.retry_interval_secs,
                retry_until_ms: d.retry_until_ms(),
                target: t,
            });
        }
        out.sort_by_key(|r| (r.target.next_attempt_ms, r.target.id));
        Ok(out)
    }

    /// Creates the deployment with one queued target per asset and starts them,
    /// `deployment_threads` at a time.
    pub async fn deploy(&self, req: DeployRequest, executor: Executor) -> Result<(Deployment, Vec<Target>)> {
        let pkg = self.resolve_package(&req.package, req.version.as_deref()).await?;
        let run_mode = pkg.def.run_mode.resolve(req.run_mode).map_err(EngineError::Invalid)?;
        let options = req.options.over(self.config().default_options);
        options.validate().map_err(EngineError::Invalid)?;
        if req.assets.is_empty() && req.selection.is_none() {
            return Err(EngineError::Invalid(
                "choose at least one asset to deploy to, or a selection (a group, a report, a search, an overview entry)"
                    .into(),
            ));
        }
        let mut targets: Vec<(AssetId, String)> = Vec::new();
        // a set beside the list: a selection of 100,000 assets is no quadratic search
        let mut seen = std::collections::HashSet::new();
        for r in &req.assets {
            let a = self.resolve_asset(r).await?;
            if seen.insert(a.id) {
                targets.push((a.id, a.name));
            }
        }
        if let Some(sel) = &req.selection {
            for (id, name) in self.resolve_selection(sel).await? {
                if seen.insert(id) {
                    targets.push((id, name));
                }
            }
            if targets.is_empty() {
                return Err(EngineError::Invalid(format!("{sel} holds no assets now: nothing to deploy to")));
            }
        }
        let selection = match &req.selection {
            Some(s) if req.assets.is_empty() => s.clone(),
            _ => Selection::Assets { ids: targets.iter().map(|(id, _)| *id).collect() },
        };
        self.check_served(&targets, now_ms()).await?;
        let chosen = label(&selection, targets.len());
        let new = NewDeployment {
            package_id: pkg.id,
            package_name: pkg.def.name.clone(),
            package_version: pkg.def.version.clone(),
            executor,
            run_mode,
            options,
            targets,
            selection: Some(selection),
        };
        let (deployment, targets) = self.store().create_deployment(&new, now_ms()).await?;
        let detail = format!(
            "deployment {}: package '{}' version {} to {chosen}",
            deployment.id, deployment.package_name, deployment.package_version,
        );
        self.audit_done(&deployment.executor, AuditAction::Deploy, &detail).await;
        self.start_targets(&deployment, &targets, pkg).await;
        Ok((deployment, targets))
    }

    /// Starts the task that drives each target of a just-created deployment (a manual
    /// one or one a configuration fired) that this node serves, `deployment_threads` at a
    /// time. The others stay queued for the nodes that serve them (their node loop starts
    /// them); so do all of them when the addresses cannot be read now.
    pub(crate) async fn start_targets(&self, deployment: &Deployment, targets: &[Target], pkg: Package) {
        let targets = match self.served(targets.to_vec()).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(deployment = %deployment.id, "targets left queued for the node loop: {e}");
                return;
            }
        };
        // one deployment and one package shared by every target's driver
        let (deployment, pkg) = (Arc::new(deployment.clone()), Arc::new(pkg));
        for t in targets {
            self.spawn_driver(t, deployment.clone(), pkg.clone(), false);
        }
    }

    /// Cancels a deployment: queued targets end at once; running tasks are killed on
    /// their machines, by the node that drives each (from any node: another node's
    /// targets get a cancel request in the store). Returns how many targets were still going.
    pub async fn cancel(&self, id: DeploymentId, by: &Executor) -> Result<usize> {
        self.store().deployment(id).await?;
        let message = format!("cancelled by {by}");
        let mut n = 0;
        for t in self.store().targets_of(id).await? {
            if t.state.is_final() {
                continue;
            }
            if matches!(t.state, TargetState::Connecting | TargetState::Running | TargetState::Rebooting) {
                // its task may exist (or be in creation): the task that drives it kills it;
                // a rebooting target's machine runs nothing of it: it ends here, and its
                // driver stops waiting for the machine
                if t.server.as_deref().is_some_and(|s| s != self.config().node_name) {
                    // another node drives it: that node takes the request from the store
                    // (every `dispatch_interval`) and ends the task
                    self.store().request_cancel(t.id, &message).await?;
                } else {
                    self.inner.cancels.lock().unwrap_or_else(|e| e.into_inner()).insert(t.id, message.clone());
                }
            }
            if t.state != TargetState::Running {
                self.end_target(t.id, TargetState::Cancelled, &message, Some(drover_domain::FailureCode::Cancelled))
                    .await?;
            }
            self.wake(t.id);
            n += 1;
        }
        self.audit_done(by, AuditAction::Cancel, &format!("deployment {id}: {n} target(s) stopped")).await;
        Ok(n)
    }

    /// Deploys again, with the same package and run mode, to the targets of a deployment
    /// that failed, were offline or timed out. Targets whose outcome was unknown (their
    /// machine unreachable when they ended) are reconciled first: those whose task
    /// succeeded, or still runs, are not run again, and are listed as such.
    pub async fn relaunch(&self, id: DeploymentId, executor: Executor) -> Result<Relaunched> {
        let d = self.store().deployment(id).await?;
        let why = format!("before relaunching deployment {id}");
        let mut checks = Vec::new();
        for t in self.store().targets_of(id).await? {
            if !matches!(t.state, TargetState::Failed | TargetState::Offline | TargetState::TimedOut) {
                continue;
            }
            let engine = self.clone();
            let why = why.clone();
            checks.push(tokio::spawn(async move {
                if !t.state.outcome_unknown(t.error_code.as_deref()) {
                    return Ok((t, None));
                }
                let learned = engine.reconcile(t.id, &why).await?;
                Ok::<_, EngineError>((t, Some(learned)))
            }));
        }
        let (mut again, mut already_succeeded, mut still_running) = (Vec::new(), Vec::new(), Vec::new());
        for check in checks {
            let (t, learned) = check.await.map_err(|e| EngineError::Internal(format!("reconciliation: {e}")))??;
            match learned {
                Some(Learned::Known(now)) if now.state == TargetState::Success => already_succeeded.push(*now),
                Some(Learned::StillRunning) => still_running.push(t),
                _ => again.push(AssetRef::Id(t.asset_id.0)),
            }
        }
        if again.is_empty() {
            let names = |v: &[Target]| v.iter().map(|t| format!("'{}'", t.asset_name)).collect::<Vec<_>>().join(", ");
            let mut why = Vec::new();
            if !already_succeeded.is_empty() {
                why.push(format!(
                    "the task on {} turned out to have succeeded (learned now from the machine)",
                    names(&already_succeeded)
                ));
            }
            if !still_running.is_empty() {
                why.push(format!("the deployer still runs on {}", names(&still_running)));
            }
            let why = if why.is_empty() { String::new() } else { format!(": {}", why.join("; ")) };
            return Err(EngineError::Invalid(format!(
                "deployment {id} has no failed, offline or timed-out targets to relaunch{why}"
            )));
        }
        let req = DeployRequest {
            package: PackageRef::Id(d.package_id.0),
            version: None,
            assets: again,
            selection: None,
            run_mode: Some(d.run_mode),
            options: OptionsRequest::all(d.options),
        };
        let by = executor.clone();
        let (deployment, targets) = self.deploy(req, executor).await?;
        let detail =
            format!("deployment {id} relaunched as deployment {} ({} target(s))", deployment.id, targets.len());
        self.audit_done(&by, AuditAction::Relaunch, &detail).await;
        Ok(Relaunched { view: DeploymentView { deployment, targets }, already_succeeded, still_running })
    }

    /// Reconciles the targets that ended with their outcome unknown in the `window`
    /// before `now_ms` (the background check: every minute, the last 24 hours): each
    /// machine that answers has its task's record read and its true outcome set.
    /// Returns how many targets were learned.
    pub async fn reconcile_recent(&self, now_ms: i64, window: std::time::Duration) -> Result<usize> {
        let since = now_ms.saturating_sub(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
        let mut learned = 0;
        for t in self.store().outcome_unknown_targets(since).await? {
            match self.reconcile(t.id, "the background check of targets whose machine was unreachable").await {
                Ok(Learned::Known(_)) => learned += 1,
                Ok(_) => {}
                Err(e) => tracing::warn!(target_id = %t.id, "cannot reconcile target: {e}"),
            }
        }
        Ok(learned)
    }

    /// Runs [`Engine::reconcile_recent`] every `every`, over the last `window`, with the
    /// time `now` gives.
    pub fn spawn_reconciler(
        &self,
        every: std::time::Duration,
        window: std::time::Duration,
        now: fn() -> i64,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match engine.reconcile_recent(now(), window).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("learned the outcome of {n} target(s) whose machine was unreachable"),
                    Err(e) => tracing::warn!("reconciling targets: {e}"),
                }
            }
        })
    }

    /// A cancel request for a running target, taken once.
    pub(crate) fn take_cancel(&self, id: TargetId) -> Option<String> {
        self.inner.cancels.lock().unwrap_or_else(|e| e.into_inner()).remove(&id)
    }

    /// What wakes the task that drives target `id` of package `pkg`.
    fn waiter(&self, id: TargetId, pkg: &Arc<Package>) -> Arc<Notify> {
        let mut map = self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let driven = map.entry(id).or_default();
        driven.package = Some(pkg.clone());
        driven.notify.clone()
    }

    /// The package of target `id` when a task of this node drives it.
    fn driven_package(&self, id: TargetId) -> Option<Arc<Package>> {
        self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner()).get(&id).and_then(|d| d.package.clone())
    }

    fn drop_waiter(&self, id: TargetId) {
        self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        self.inner.cancels.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// Whether a task of this node drives target `id`.
    fn is_driving(&self, id: TargetId) -> bool {
        self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&id)
    }

    /// Marks target `id` as driven by a task of this node; false when one drives it already.
    fn start_driving(&self, id: TargetId) -> bool {
        let mut map = self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
        match map.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Driven::default());
                true
            }
        }
    }

    fn wake(&self, id: TargetId) {
        let map = self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = map.get(&id) {
            d.notify.notify_one();
        }
    }
}
