//! Schedules and deployment configurations: the services behind `/schedules` and
//! `/configs` (create with validation naming the field, list and show with the next
//! runs, preview, update, delete, enable and disable, the runs each configuration
//! fired). Firing them is the scheduler's (`scheduler.rs`).

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_api::schedules::{ConfigRequest, ConfigView, RunTime, ScheduleView};
use drover_domain::audit::AuditAction;
use drover_domain::deploy_config::{ConfigOptions, ConfigRun, DeployConfig, NewDeployConfig, TargetSelection};
use drover_domain::executor::Executor;
use drover_domain::ids::{DeployConfigId, ScheduleId};
use drover_domain::schedule::{Schedule, ScheduleRecord, time_zone};
use jiff::Timestamp;

/// Runs `GET /schedules/{id}` shows; the list shows one.
const SHOWN_RUNS: usize = 5;
/// The most runs one preview computes.
const MAX_PREVIEW: usize = 1000;

/// An instant of epoch milliseconds (the store's) as jiff's.
pub(crate) fn instant(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| EngineError::Internal(format!("time {ms} ms is out of range: {e}")))
}

/// A run time in UTC and in the schedule's time zone.
pub(crate) fn run_time(schedule: &Schedule, at: Timestamp) -> RunTime {
    let local = match time_zone(&schedule.time_zone) {
        Ok(tz) => at.to_zoned_datetime(tz).strftime("%Y-%m-%d %H:%M %Z (%:z)").to_string(),
        Err(_) => at.to_string(),
    };
    RunTime { at_ms: at.as_millisecond(), utc: at.round(jiff::Unit::Second).unwrap_or(at).to_string(), local }
}

/// `"12"` is id 12; anything else a name.
fn id_or_name(r: &str) -> Result<i64, &str> {
    r.trim().parse::<i64>().map_err(|_| r.trim())
}

fn invalid(problems: Vec<String>) -> EngineError {
    EngineError::Invalid(problems.join("; "))
}

impl Engine {
    /// A schedule by id or name.
    pub async fn resolve_schedule(&self, r: &str) -> Result<ScheduleRecord> {
        match id_or_name(r) {
            Ok(id) => Ok(self.store().schedule(ScheduleId(id)).await?),
            Err(name) => {
                self.store().list_schedules().await?.into_iter().find(|s| s.schedule.name == name).ok_or_else(|| {
                    EngineError::NotFound(format!("schedule '{name}' not found: see `drover schedule list`"))
                })
            }
        }
    }

    /// Stores a schedule that validates at `now`; every problem is named by its field.
    pub async fn create_schedule(&self, by: &Executor, schedule: Schedule) -> Result<ScheduleView> {
        let now = now_ms();
        schedule.validate(instant(now)?).map_err(invalid)?;
        let record = self.store().create_schedule(&schedule, now).await?;
        let detail = format!("schedule {} '{}'", record.id, record.schedule.name);
        self.audit_done(by, AuditAction::ScheduleCreate, &detail).await;
        self.schedule_view(record, SHOWN_RUNS).await
    }

    /// Every schedule with its next run and the configurations that use it.
    pub async fn list_schedules(&self) -> Result<Vec<ScheduleView>> {
        let configs = self.store().list_configs().await?;
        let mut out = Vec::new();
        for record in self.store().list_schedules().await? {
            out.push(view_of(record, 1, &configs)?);
        }
        Ok(out)
    }

    /// A schedule with its next runs and the configurations that use it.
    pub async fn show_schedule(&self, r: &str) -> Result<ScheduleView> {
        let record = self.resolve_schedule(r).await?;
        self.schedule_view(record, SHOWN_RUNS).await
    }

    async fn schedule_view(&self, record: ScheduleRecord, runs: usize) -> Result<ScheduleView> {
        view_of(record, runs, &self.store().list_configs().await?)
    }

    /// The next `n` runs (1 to 1000) of a schedule from now.
    pub async fn preview_schedule(&self, r: &str, n: usize) -> Result<Vec<RunTime>> {
        if !(1..=MAX_PREVIEW).contains(&n) {
            return Err(EngineError::Invalid(format!("n: is {n}, but a preview shows 1 to {MAX_PREVIEW} runs")));
        }
        let s = self.resolve_schedule(r).await?.schedule;
        Ok(s.preview(instant(now_ms())?, n).into_iter().map(|t| run_time(&s, t)).collect())
    }

    /// The next `n` runs (1 to 1000) from now of a schedule not stored yet (a form's
    /// preview before saving); refused like [`Engine::create_schedule`] when it does not
    /// validate.
    pub fn preview_new_schedule(&self, schedule: &Schedule, n: usize) -> Result<Vec<RunTime>> {
        if !(1..=MAX_PREVIEW).contains(&n) {
            return Err(EngineError::Invalid(format!("n: is {n}, but a preview shows 1 to {MAX_PREVIEW} runs")));
        }
        let now = instant(now_ms())?;
        schedule.validate(now).map_err(invalid)?;
        Ok(schedule.preview(now, n).into_iter().map(|t| run_time(schedule, t)).collect())
    }

    /// Replaces a schedule's definition; its enabled configurations next fire at its
    /// first run from now.
    pub async fn update_schedule(&self, by: &Executor, r: &str, schedule: Schedule) -> Result<ScheduleView> {
        let id = self.resolve_schedule(r).await?.id;
        let now = now_ms();
        schedule.validate(instant(now)?).map_err(invalid)?;
        let record = self.store().update_schedule(id, &schedule, now).await?;
        let detail = format!("schedule {} '{}'", record.id, record.schedule.name);
        self.audit_done(by, AuditAction::ScheduleUpdate, &detail).await;
        self.schedule_view(record, SHOWN_RUNS).await
    }

    /// Deletes a schedule; refused, naming them, while configurations use it.
    pub async fn delete_schedule(&self, by: &Executor, r: &str) -> Result<ScheduleRecord> {
        let record = self.resolve_schedule(r).await?;
        self.store().delete_schedule(record.id).await?;
        let detail = format!("schedule {} '{}'", record.id, record.schedule.name);
        self.audit_done(by, AuditAction::ScheduleDelete, &detail).await;
        Ok(record)
    }

    /// A configuration by id or name.
    pub async fn resolve_config(&self, r: &str) -> Result<DeployConfig> {
        match id_or_name(r) {
            Ok(id) => Ok(self.store().config(DeployConfigId(id)).await?),
            Err(name) => {
                self.store().list_configs().await?.into_iter().find(|c| c.config.name == name).ok_or_else(|| {
                    EngineError::NotFound(format!(
                        "deployment configuration '{name}' not found: see `drover config list`"
                    ))
                })
            }
        }
    }

    /// Stores a configuration: its schedule, package (and version) and assets must
    /// exist, and its run mode and options validate as a manual deployment's would.
    pub async fn create_config(&self, by: &Executor, req: ConfigRequest) -> Result<ConfigView> {
        let name = req.name.trim().to_string();
        if name.is_empty() {
            return Err(EngineError::Invalid("name: must not be empty".into()));
        }
        let schedule = match &req.schedule {
            Some(r) => Some(self.resolve_schedule(r).await.map_err(|e| field("schedule", e))?),
            None if req.trigger_on_scan => None,
            None => {
                return Err(EngineError::Invalid(
                    "schedule: a configuration without a schedule never runs: give one (--schedule), or set trigger_on_scan".into(),
                ));
            }
        };
        let pkg = self
            .store()
            .package_by_name(req.package.trim(), req.version.as_deref())
            .await
            .map_err(|e| field(if req.version.is_some() { "version" } else { "package" }, e.into()))?;
        let run_mode =
            pkg.def.run_mode.resolve(req.run_mode).map_err(|e| EngineError::Invalid(format!("run_mode: {e}")))?;
        let deploy = req.options.over(self.config().default_options);
        deploy.validate().map_err(|e| EngineError::Invalid(format!("options: {e}")))?;
        if req.assets.is_empty() && req.selection.is_none() {
            return Err(EngineError::Invalid(
                "assets: choose at least one asset (--asset NAME) or a selection (--group, --report, --search, --overview)"
                    .into(),
            ));
        }
        if let Some(sel) = &req.selection {
            // resolved now only to catch a missing group or report or a bad search early
            self.resolve_selection(sel).await.map_err(|e| field("selection", e))?;
        }
        let mut assets = Vec::new();
        for r in &req.assets {
            let a = self.resolve_asset(r).await.map_err(|e| field("assets", e))?;
            if !assets.contains(&a.id) {
                assets.push(a.id);
            }
        }
        let new = NewDeployConfig {
            name,
            schedule_id: schedule.as_ref().map(|s| s.id),
            package_name: pkg.def.name.clone(),
            package_version: req.version.clone(),
            targets: TargetSelection { assets, selection: req.selection.clone() },
            options: ConfigOptions { run_mode, deploy },
            trigger_on_scan: req.trigger_on_scan,
            enabled: req.enabled,
        };
        let config = self.store().create_config(&new, now_ms()).await?;
        let detail = format!("configuration {} '{}'", config.id, config.config.name);
        self.audit_done(by, AuditAction::ConfigCreate, &detail).await;
        self.config_view(config).await
    }

    /// Every configuration with its schedule's name and next run.
    pub async fn list_configs(&self) -> Result<Vec<ConfigView>> {
        let schedules = self.store().list_schedules().await?;
        self.store().list_configs().await?.into_iter().map(|c| config_view_of(c, &schedules)).collect()
    }

    pub async fn show_config(&self, r: &str) -> Result<ConfigView> {
        let c = self.resolve_config(r).await?;
        self.config_view(c).await
    }

    async fn config_view(&self, c: DeployConfig) -> Result<ConfigView> {
        config_view_of(c, &self.store().list_schedules().await?)
    }

    /// Enables a configuration: it next fires at its schedule's first run from now.
    pub async fn enable_config(&self, by: &Executor, r: &str) -> Result<ConfigView> {
        let id = self.resolve_config(r).await?.id;
        let c = self.store().enable_config(id, now_ms()).await?;
        self.audit_done(by, AuditAction::ConfigEnable, &format!("configuration {} '{}'", c.id, c.config.name)).await;
        self.config_view(c).await
    }

    /// Disables a configuration: it fires no more until enabled.
    pub async fn disable_config(&self, by: &Executor, r: &str) -> Result<ConfigView> {
        let id = self.resolve_config(r).await?.id;
        let c = self.store().disable_config(id, now_ms()).await?;
        self.audit_done(by, AuditAction::ConfigDisable, &format!("configuration {} '{}'", c.id, c.config.name)).await;
        self.config_view(c).await
    }

    /// Deletes a configuration and its run records; its deployments stay in the log.
    pub async fn delete_config(&self, by: &Executor, r: &str) -> Result<DeployConfig> {
        let c = self.resolve_config(r).await?;
        self.store().delete_config(c.id).await?;
        self.audit_done(by, AuditAction::ConfigDelete, &format!("configuration {} '{}'", c.id, c.config.name)).await;
        Ok(c)
    }

    /// The runs a configuration fired (or skipped), newest first, each with the
    /// deployment it started.
    pub async fn config_runs(&self, r: &str) -> Result<Vec<ConfigRun>> {
        let c = self.resolve_config(r).await?;
        Ok(self.store().config_runs(c.id).await?)
    }
}

/// The error, with the request field it is about in front.
fn field(name: &str, e: EngineError) -> EngineError {
    match e {
        EngineError::NotFound(m) => EngineError::NotFound(format!("{name}: {m}")),
        EngineError::Invalid(m) => EngineError::Invalid(format!("{name}: {m}")),
        other => other,
    }
}

fn view_of(record: ScheduleRecord, runs: usize, configs: &[DeployConfig]) -> Result<ScheduleView> {
    let s = &record.schedule;
    let next_runs = s.preview(instant(now_ms())?, runs).into_iter().map(|t| run_time(s, t)).collect();
    let used_by =
        configs.iter().filter(|c| c.config.schedule_id == Some(record.id)).map(|c| c.config.name.clone()).collect();
    Ok(ScheduleView { record, next_runs, used_by })
}

fn config_view_of(config: DeployConfig, schedules: &[ScheduleRecord]) -> Result<ConfigView> {
    let schedule = config.config.schedule_id.and_then(|id| schedules.iter().find(|s| s.id == id));
    let next_run = match (schedule, config.next_fire_ms) {
        (Some(s), Some(ms)) => Some(run_time(&s.schedule, instant(ms)?)),
        _ => None,
    };
    Ok(ConfigView { schedule_name: schedule.map(|s| s.schedule.name.clone()), next_run, config })
}
