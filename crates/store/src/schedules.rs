//! Schedules and deployment configurations: definitions as JSON, when each configuration
//! fires next, and the exactly-once claim of a scheduled run.
//!
//! A configuration's `next_fire_ms` is the first run not yet fired or skipped. A node
//! that finds it due claims `(configuration, next_fire_ms)`: the claim inserts the
//! `config_runs` row (unique per configuration and fire time) and advances the
//! configuration only if it still has that next fire time, in one transaction, so one
//! node wins however many try. [`Store::create_scheduled_deployment`] also creates the
//! deployment in that transaction: a run is fired and started, or neither.

use crate::deployments::{NewDeployment, insert_deployment};
use crate::error::{corrupt, db_error, missing_as, unique_as};
use crate::{Result, Store, StoreError};
use drover_domain::deploy_config::{ConfigRun, DeployConfig, NewDeployConfig};
use drover_domain::deployment::{Deployment, Target};
use drover_domain::ids::{DeployConfigId, DeploymentId, ScheduleId};
use drover_domain::schedule::{Schedule, ScheduleRecord};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row, Transaction};

const SCHEDULE_COLUMNS: &str = "id, definition, created_ms, updated_ms";
const CONFIG_COLUMNS: &str = "id, name, schedule_id, package_name, package_version, targets, options, \
                              trigger_on_scan, enabled, last_fire_ms, next_fire_ms, created_ms, updated_ms";

/// Claiming the run of a configuration at `fire_ms` (its `next_fire_ms` as read, the
/// `at` of `Decision::Fire`), after which it next fires at `next_fire_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunClaim {
    pub config_id: DeployConfigId,
    pub fire_ms: i64,
    pub next_fire_ms: Option<i64>,
    pub now_ms: i64,
}

fn encode<T: serde::Serialize>(what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(format!("cannot encode the {what}: {e}")))
}

fn schedule_from_row(row: &AnyRow) -> Result<ScheduleRecord> {
    let id: i64 = row.try_get("id")?;
    let json: String = row.try_get("definition")?;
    let schedule: Schedule = serde_json::from_str(&json)
        .map_err(|e| StoreError::Other(format!("unreadable definition of schedule {id}: {e}")))?;
    Ok(ScheduleRecord {
        id: ScheduleId(id),
        schedule,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

fn config_from_row(row: &AnyRow) -> Result<DeployConfig> {
    let targets: String = row.try_get("targets")?;
    let options: String = row.try_get("options")?;
    let schedule_id: Option<i64> = row.try_get("schedule_id")?;
    Ok(DeployConfig {
        id: DeployConfigId(row.try_get("id")?),
        config: NewDeployConfig {
            name: row.try_get("name")?,
            schedule_id: schedule_id.map(ScheduleId),
            package_name: row.try_get("package_name")?,
            package_version: row.try_get("package_version")?,
            targets: serde_json::from_str(&targets).map_err(|_| corrupt("target selection", &targets))?,
            options: serde_json::from_str(&options).map_err(|_| corrupt("configuration options", &options))?,
            trigger_on_scan: row.try_get::<i64, _>("trigger_on_scan")? != 0,
            enabled: row.try_get::<i64, _>("enabled")? != 0,
        },
        last_fire_ms: row.try_get("last_fire_ms")?,
        next_fire_ms: row.try_get("next_fire_ms")?,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

fn schedule_not_found(id: ScheduleId) -> StoreError {
    StoreError::NotFound(format!("schedule {id} not found"))
}

fn config_not_found(id: DeployConfigId) -> StoreError {
    StoreError::NotFound(format!("deployment configuration {id} not found"))
}

/// The first run of `schedule` after `now_ms`, as epoch ms.
fn next_fire(schedule: &Schedule, now_ms: i64) -> Option<i64> {
    let now = Timestamp::from_millisecond(now_ms).ok()?;
    schedule.next_after(now).map(|t| t.as_millisecond())
}

async fn fetch_schedule<'e>(executor: impl Executor<'e, Database = Any>, id: ScheduleId) -> Result<ScheduleRecord> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1")))
        .bind(id.0)
        .fetch_optional(executor)
        .await?;
    schedule_from_row(&row.ok_or_else(|| schedule_not_found(id))?)
}

async fn fetch_config<'e>(executor: impl Executor<'e, Database = Any>, id: DeployConfigId) -> Result<DeployConfig> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CONFIG_COLUMNS} FROM deploy_configs WHERE id = $1")))
        .bind(id.0)
        .fetch_optional(executor)
        .await?;
    config_from_row(&row.ok_or_else(|| config_not_found(id))?)
}

/// Inserts the run row and advances the configuration, in `tx`. False when the run was
/// already claimed, or the configuration no longer fires at `fire_ms` (another node
/// advanced it, it was disabled or rescheduled): the caller then drops `tx`.
async fn claim_in(tx: &mut Transaction<'_, Any>, c: &RunClaim) -> Result<bool> {
    // The INSERT comes first so that SQLite takes the write lock at once.
    let inserted = sqlx::query(
        "INSERT INTO config_runs (config_id, fire_ms, created_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (config_id, fire_ms) DO NOTHING",
    )
    .bind(c.config_id.0)
    .bind(c.fire_ms)
    .bind(c.now_ms)
    .execute(&mut **tx)
    .await
    .map_err(missing_as(|| format!("deployment configuration {} not found", c.config_id)))?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    let advanced = sqlx::query(
        "UPDATE deploy_configs SET last_fire_ms = $2, next_fire_ms = $3, updated_ms = $4 \
         WHERE id = $1 AND enabled = 1 AND next_fire_ms = $2",
    )
    .bind(c.config_id.0)
    .bind(c.fire_ms)
    .bind(c.next_fire_ms)
    .bind(c.now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(advanced.rows_affected() == 1)
}

impl Store {
    /// Stores a schedule; the name is unique. Validation (`Schedule::validate`) is the
    /// caller's: it needs the time.
    pub async fn create_schedule(&self, schedule: &Schedule, now_ms: i64) -> Result<ScheduleRecord> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO schedules (name, definition, created_ms, updated_ms) VALUES ($1, $2, $3, $3) \
             RETURNING {SCHEDULE_COLUMNS}"
        )))
        .bind(&schedule.name)
        .bind(encode("schedule", schedule)?)
        .bind(now_ms)
        .fetch_one(self.writer())
        .await
        .map_err(unique_as(|| format!("a schedule named '{}' already exists", schedule.name)))?;
        schedule_from_row(&row)
    }

    /// All schedules, by name.
    pub async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>> {
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name, id")))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    pub async fn schedule(&self, id: ScheduleId) -> Result<ScheduleRecord> {
        fetch_schedule(&self.pool, id).await
    }

    /// Replaces a schedule's definition (and name). The enabled configurations that use
    /// it next fire at its first run after `now_ms`: runs of the old definition that were
    /// due and not yet fired are dropped.
    pub async fn update_schedule(&self, id: ScheduleId, schedule: &Schedule, now_ms: i64) -> Result<ScheduleRecord> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE schedules SET name = $1, definition = $2, updated_ms = $3 WHERE id = $4 \
             RETURNING {SCHEDULE_COLUMNS}"
        )))
        .bind(&schedule.name)
        .bind(encode("schedule", schedule)?)
        .bind(now_ms)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unique_as(|| format!("a schedule named '{}' already exists", schedule.name)))?
        .ok_or_else(|| schedule_not_found(id))?;
        sqlx::query(
            "UPDATE deploy_configs SET next_fire_ms = $1, updated_ms = $2 WHERE schedule_id = $3 AND enabled = 1",
        )
        .bind(next_fire(schedule, now_ms))
        .bind(now_ms)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        schedule_from_row(&row)
    }

    /// Deletes a schedule; refused while configurations use it (they are named).
    pub async fn delete_schedule(&self, id: ScheduleId) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "DELETE FROM schedules WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM deploy_configs WHERE schedule_id = $1)",
        )
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(());
        }
        let schedule = fetch_schedule(&mut *tx, id).await?;
        let users = sqlx::query("SELECT name FROM deploy_configs WHERE schedule_id = $1 ORDER BY name")
            .bind(id.0)
            .fetch_all(&mut *tx)
            .await?;
        let names = users
            .iter()
            .map(|r| r.try_get::<String, _>("name").map(|n| format!("'{n}'")))
            .collect::<Result<Vec<_>, _>>()?;
        Err(StoreError::Conflict(format!(
            "schedule '{}' is used by the deployment configurations {}: delete them or give them another schedule first",
            schedule.schedule.name,
            names.join(", ")
        )))
    }

    /// Stores a configuration; the name is unique. When enabled with a schedule, it
    /// first fires at the schedule's first run after `now_ms`.
    pub async fn create_config(&self, c: &NewDeployConfig, now_ms: i64) -> Result<DeployConfig> {
        let mut tx = self.begin().await?;
        let next = match (c.schedule_id, c.enabled) {
            (Some(id), true) => next_fire(&fetch_schedule(&mut *tx, id).await?.schedule, now_ms),
            (Some(id), false) => fetch_schedule(&mut *tx, id).await.map(|_| None)?,
            (None, _) => None,
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO deploy_configs (name, schedule_id, package_name, package_version, targets, options, \
             trigger_on_scan, enabled, next_fire_ms, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {CONFIG_COLUMNS}"
        )))
        .bind(&c.name)
        .bind(c.schedule_id.map(|s| s.0))
        .bind(&c.package_name)
        .bind(c.package_version.as_deref())
        .bind(encode("target selection", &c.targets)?)
        .bind(encode("configuration options", &c.options)?)
        .bind(i64::from(c.trigger_on_scan))
        .bind(i64::from(c.enabled))
        .bind(next)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            db_error(
                e,
                || format!("a deployment configuration named '{}' already exists", c.name),
                || "its schedule was deleted meanwhile".to_string(),
            )
        })?;
        tx.commit().await?;
        config_from_row(&row)
    }

    /// All configurations, by name.
    pub async fn list_configs(&self) -> Result<Vec<DeployConfig>> {
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CONFIG_COLUMNS} FROM deploy_configs ORDER BY name, id")))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(config_from_row).collect()
    }

    pub async fn config(&self, id: DeployConfigId) -> Result<DeployConfig> {
        fetch_config(&self.pool, id).await
    }

    /// Enables a configuration: it next fires at its schedule's first run after
    /// `now_ms` (runs while it was disabled are not caught up).
    pub async fn enable_config(&self, id: DeployConfigId, now_ms: i64) -> Result<DeployConfig> {
        let mut tx = self.begin().await?;
        // A write first, so that SQLite takes the write lock at once: a transaction that
        // reads and then writes fails with "database is locked" when another writes between.
        sqlx::query("UPDATE deploy_configs SET updated_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        let config = fetch_config(&mut *tx, id).await?;
        let next = match config.config.schedule_id {
            Some(s) => next_fire(&fetch_schedule(&mut *tx, s).await?.schedule, now_ms),
            None => None,
        };
        self.set_enabled(tx, id, true, next, now_ms).await
    }

    /// Disables a configuration: it is never due until enabled again.
    pub async fn disable_config(&self, id: DeployConfigId, now_ms: i64) -> Result<DeployConfig> {
        let tx = self.begin().await?;
        self.set_enabled(tx, id, false, None, now_ms).await
    }

    async fn set_enabled(
        &self,
        mut tx: Transaction<'static, Any>,
        id: DeployConfigId,
        enabled: bool,
        next: Option<i64>,
        now_ms: i64,
    ) -> Result<DeployConfig> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deploy_configs SET enabled = $1, next_fire_ms = $2, updated_ms = $3 WHERE id = $4 \
             RETURNING {CONFIG_COLUMNS}"
        )))
        .bind(i64::from(enabled))
        .bind(next)
        .bind(now_ms)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| config_not_found(id))?;
        tx.commit().await?;
        config_from_row(&row)
    }

    /// Deletes a configuration and its run records (its deployments stay in the log).
    pub async fn delete_config(&self, id: DeployConfigId) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM config_runs WHERE config_id = $1").bind(id.0).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM deploy_configs WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(config_not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The enabled configurations whose next run is at or before `now_ms`, most overdue
    /// first.
    pub async fn due_configs(&self, now_ms: i64) -> Result<Vec<DeployConfig>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONFIG_COLUMNS} FROM deploy_configs WHERE enabled = 1 AND next_fire_ms IS NOT NULL \
             AND next_fire_ms <= $1 ORDER BY next_fire_ms, id"
        )))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(config_from_row).collect()
    }

    /// Claims a run without starting a deployment (a skipped run, or a configuration
    /// whose targets came to nothing): true for exactly one caller per
    /// (configuration, fire time); see [`Store::create_scheduled_deployment`].
    pub async fn claim_run(&self, claim: &RunClaim) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !claim_in(&mut tx, claim).await? {
            // at once, not when the pool next touches the connection: SQLite's write lock
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Claims a run and creates its deployment in one transaction: `None` when another
    /// node already claimed that (configuration, fire time), or the configuration no
    /// longer fires then; nothing is created then.
    pub async fn create_scheduled_deployment(
        &self,
        claim: &RunClaim,
        deployment: &NewDeployment,
    ) -> Result<Option<(Deployment, Vec<Target>)>> {
        let mut tx = self.begin().await?;
        if !claim_in(&mut tx, claim).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let created = insert_deployment(&mut tx, deployment, claim.now_ms).await?;
        sqlx::query("UPDATE config_runs SET deployment_id = $1 WHERE config_id = $2 AND fire_ms = $3")
            .bind(created.0.id.0)
            .bind(claim.config_id.0)
            .bind(claim.fire_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(created))
    }

    /// The runs a configuration fired, newest first.
    pub async fn config_runs(&self, id: DeployConfigId) -> Result<Vec<ConfigRun>> {
        let rows = sqlx::query(
            "SELECT config_id, fire_ms, deployment_id, created_ms FROM config_runs WHERE config_id = $1 \
             ORDER BY fire_ms DESC",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let deployment: Option<i64> = row.try_get("deployment_id")?;
                Ok(ConfigRun {
                    config_id: DeployConfigId(row.try_get("config_id")?),
                    fire_ms: row.try_get("fire_ms")?,
                    deployment_id: deployment.map(DeploymentId),
                    created_ms: row.try_get("created_ms")?,
                })
            })
            .collect()
    }
}
