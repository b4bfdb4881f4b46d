//! The scheduler: `tick(now)` fires the deployment configurations that are due, each
//! run exactly once across nodes and restarts, and `spawn_scheduler` calls it every
//! second.
//!
//! A due configuration's schedule decides (`Schedule::decide`, by its missed-run
//! policy) whether its run fires now or is skipped. A run that fires resolves its
//! package and assets at that moment and is claimed and created as one deployment in
//! one transaction (`Store::create_scheduled_deployment`): the (configuration, fire
//! time) key makes a second node, or a second tick, lose the claim and create nothing.

use crate::Engine;
use crate::error::{EngineError, Result};
use crate::schedules::instant;
use drover_domain::deploy_config::DeployConfig;
use drover_domain::deployment::Executor;
use drover_domain::ids::DeploymentId;
use drover_domain::schedule::{Decision, Schedule};
use drover_store::{NewDeployment, RunClaim, StoreError};
use std::time::Duration;

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Deployments this node created, one per run it fired.
    pub started: Vec<DeploymentId>,
    /// Runs recorded without a deployment: missed runs the policy skipped, and runs
    /// whose package or assets no longer exist.
    pub skipped: usize,
    /// Runs another node (or an earlier tick) claimed first.
    pub lost: usize,
    /// Configurations whose run failed with an error (logged; tried again next tick).
    pub failed: usize,
}

/// How one due configuration went.
enum Outcome {
    Started(DeploymentId),
    Skipped,
    Lost,
}

impl Engine {
    /// Fires every configuration due at `now_ms` (epoch ms, an argument so that tests
    /// choose the instant). An error of one configuration is logged and counted; the
    /// others still fire.
    pub async fn tick(&self, now_ms: i64) -> Result<TickReport> {
        let mut report = TickReport::default();
        for c in self.store().due_configs(now_ms).await? {
            match self.fire_due(&c, now_ms).await {
                Ok(Outcome::Started(id)) => report.started.push(id),
                Ok(Outcome::Skipped) => report.skipped += 1,
                Ok(Outcome::Lost) => report.lost += 1,
                Err(e) => {
                    tracing::error!(config = %c.config.name, "scheduled run failed, tried again at the next tick: {e}");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Calls `tick(clock())` every `period` until the engine is dropped (the task is
    /// aborted with its handle). `serve` passes `now_ms`; tests pass a clock they move.
    pub fn spawn_scheduler(
        &self,
        period: Duration,
        clock: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(period);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let now = clock();
                if let Err(e) = engine.tick(now).await {
                    tracing::warn!("scheduler: cannot read the due configurations: {e}");
                }
                if let Err(e) = engine.tick_scans(now).await {
                    tracing::warn!("scheduler: cannot read the due scan targets: {e}");
                }
            }
        })
    }

    async fn fire_due(&self, c: &DeployConfig, now: i64) -> Result<Outcome> {
        let (Some(schedule_id), Some(due)) = (c.config.schedule_id, c.next_fire_ms) else {
            return Ok(Outcome::Skipped); // not due: due_configs returns neither
        };
        let schedule = self.store().schedule(schedule_id).await?.schedule;
        let claim = |fire_ms: i64, next: Option<jiff::Timestamp>| RunClaim {
            config_id: c.id,
            fire_ms,
            next_fire_ms: next.map(|t| t.as_millisecond()),
            now_ms: now,
        };
        match schedule.decide(instant(due)?, instant(now)?) {
            Decision::Wait { .. } => Ok(Outcome::Skipped),
            Decision::SkipTo { next } => {
                let claim = claim(due, next);
                if !self.store().claim_run(&claim).await? {
                    return self.lost(c, &schedule, &claim).await;
                }
                tracing::info!(
                    config = %c.config.name,
                    "missed run of {} skipped ({:?}); next run {}",
                    drover_domain::time::utc(due),
                    schedule.missed,
                    claim.next_fire_ms.map_or("none".into(), drover_domain::time::utc)
                );
                Ok(Outcome::Skipped)
            }
            Decision::Fire { at, next } => self.fire(c, &schedule, claim(at.as_millisecond(), next)).await,
        }
    }

    /// Resolves the package and the assets now and creates the deployment with the claim.
    async fn fire(&self, c: &DeployConfig, schedule: &Schedule, claim: RunClaim) -> Result<Outcome> {
        let name = &c.config.name;
        let version = c.config.package_version.as_deref();
        let pkg = match self.store().package_by_name(&c.config.package_name, version).await {
            Ok(p) => p,
            Err(StoreError::NotFound(m)) => {
                tracing::warn!(config = %name, "run of {} not started: {m}", drover_domain::time::utc(claim.fire_ms));
                return self.claim_without_deployment(c, schedule, &claim).await;
            }
            Err(e) => return Err(e.into()),
        };
        let run_mode = pkg.def.run_mode.resolve(Some(c.config.options.run_mode)).map_err(EngineError::Invalid)?;
        let mut targets: Vec<(drover_domain::ids::AssetId, String)> = Vec::new();
        for &id in &c.config.targets.assets {
            match self.store().asset(id).await {
                Ok(a) => targets.push((a.id, a.name)),
                Err(StoreError::NotFound(_)) => {
                    tracing::info!(config = %name, "asset {id} no longer exists: skipped for this run");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(sel) = &c.config.targets.selection {
            match self.resolve_selection(sel).await {
                Ok(found) => {
                    for (id, asset) in found {
                        if !targets.iter().any(|(i, _)| *i == id) {
                            targets.push((id, asset));
                        }
                    }
                }
                Err(EngineError::NotFound(m) | EngineError::Invalid(m)) => {
                    tracing::warn!(config = %name, "{sel} cannot be resolved for this run: {m}");
                }
                Err(e) => return Err(e),
            }
        }
        if targets.is_empty() {
            tracing::warn!(
                config = %name,
                "run of {} not started: its selection holds no assets now",
                drover_domain::time::utc(claim.fire_ms)
            );
            return self.claim_without_deployment(c, schedule, &claim).await;
        }
        let new = NewDeployment {
            package_id: pkg.id,
            package_name: pkg.def.name.clone(),
            package_version: pkg.def.version.clone(),
            executor: Executor::Config(name.clone()),
            run_mode,
            options: c.config.options.deploy,
            targets,
            selection: Some(c.config.targets.recorded()),
        };
        let Some((deployment, targets)) = self.store().create_scheduled_deployment(&claim, &new).await? else {
            return self.lost(c, schedule, &claim).await;
        };
        tracing::info!(
            config = %name,
            deployment = %deployment.id,
            "run of {} started with {} target(s)",
            drover_domain::time::utc(claim.fire_ms),
            targets.len()
        );
        self.start_targets(&deployment, &targets, pkg).await;
        Ok(Outcome::Started(deployment.id))
    }

    async fn claim_without_deployment(&self, c: &DeployConfig, s: &Schedule, claim: &RunClaim) -> Result<Outcome> {
        if self.store().claim_run(claim).await? { Ok(Outcome::Skipped) } else { self.lost(c, s, claim).await }
    }

    /// Another node (or an earlier tick) claimed the run first: normal. If the
    /// configuration still names that run as its next one (see `skip_claimed_run`), it
    /// moves on to the run after it.
    async fn lost(&self, c: &DeployConfig, schedule: &Schedule, claim: &RunClaim) -> Result<Outcome> {
        tracing::debug!(config = %c.config.name, fire_ms = claim.fire_ms, "run claimed by another node");
        let next = schedule.next_after(instant(claim.fire_ms)?).map(|t| t.as_millisecond());
        if self.store().skip_claimed_run(&RunClaim { next_fire_ms: next, ..*claim }).await? {
            tracing::info!(
                config = %c.config.name,
                "its run of {} was claimed already; next run {}",
                drover_domain::time::utc(claim.fire_ms),
                next.map_or("none".into(), drover_domain::time::utc)
            );
        }
        Ok(Outcome::Lost)
    }
}
