//! Deployments: creating one with its targets, reading them back, finishing and pruning.

mod steps;
mod targets;

use crate::error::corrupt;
use crate::sqlite_writer::{Columns, FromRow, execute, query_row};
use crate::{Result, Store, StoreError};
use drover_domain::deployment::{DeployOptions, Deployment, Executor, RunMode, Target, TargetState};
use drover_domain::ids::{AssetId, DeploymentId, PackageId, TargetId};
use drover_domain::selection::Selection;
use sqlx::{Any, Transaction};
use std::sync::LazyLock;

/// What starting a deployment stores: the package (its name and version are copied so
/// that the log outlives the package), who started it, how it runs, and its assets.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeployment {
    pub package_id: PackageId,
    pub package_name: String,
    pub package_version: String,
    pub executor: Executor,
    pub run_mode: RunMode,
    pub options: DeployOptions,
    /// The assets, with their names at deployment time.
    pub targets: Vec<(AssetId, String)>,
    /// How the assets were chosen, recorded with the deployment.
    pub selection: Option<Selection>,
}

/// Target fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetUpdate {
    pub credential: Option<String>,
    pub server: Option<String>,
    pub deployer_version: Option<String>,
    pub last_step: Option<String>,
    pub return_code: Option<i32>,
    pub work_dir: Option<String>,
    pub pid: Option<i64>,
    pub boot_marker: Option<String>,
}

/// Which targets the log shows: all given filters apply; newest first, at most `limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFilter {
    pub deployment: Option<DeploymentId>,
    pub asset: Option<AssetId>,
    pub package: Option<PackageId>,
    pub limit: i64,
}

/// `('success', 'failed', ...)`: the final states, from the domain's state machine.
pub(crate) fn final_states_sql() -> &'static str {
    static FINAL: LazyLock<String> = LazyLock::new(|| {
        let names: Vec<String> =
            TargetState::ALL.iter().filter(|s| s.is_final()).map(|s| format!("'{}'", s.as_str())).collect();
        format!("({})", names.join(", "))
    });
    &FINAL
}

const DEPLOYMENT_COLUMNS: &str =
    "id, package_id, package_name, package_version, executor, run_mode, options, selection, created_ms, finished_ms";

pub(crate) const TARGET_COLUMNS: &str = "id, deployment_id, asset_id, asset_name, state, run_mode, credential, \
     last_step, return_code, message, error_code, deployer_version, server, work_dir, pid, boot_marker, reboot_seq, \
     attempts, next_attempt_ms, \
     created_ms, updated_ms, finished_ms";

fn run_mode(row: &impl Columns) -> Result<RunMode> {
    let mode: String = row.col("run_mode")?;
    RunMode::parse(&mode).ok_or_else(|| corrupt("run mode", &mode))
}

fn deployment_from_row(row: &impl Columns) -> Result<Deployment> {
    let options: String = row.col("options")?;
    let executor: String = row.col("executor")?;
    let selection: Option<String> = row.col("selection")?;
    let selection = match selection {
        Some(s) => Some(serde_json::from_str(&s).map_err(|_| corrupt("deployment selection", &s))?),
        None => None,
    };
    Ok(Deployment {
        selection,
        options: serde_json::from_str(&options).map_err(|_| corrupt("deployment options", &options))?,
        id: DeploymentId(row.col("id")?),
        package_id: PackageId(row.col("package_id")?),
        package_name: row.col("package_name")?,
        package_version: row.col("package_version")?,
        executor: executor.parse().map_err(|_| corrupt("executor", &executor))?,
        run_mode: run_mode(row)?,
        created_ms: row.col("created_ms")?,
        finished_ms: row.col("finished_ms")?,
    })
}

/// A target from a row of either driver (sqlx's, or SQLite's group-commit writer's).
impl FromRow for Target {
    fn from_row(row: &impl Columns) -> Result<Self> {
        let state: String = row.col("state")?;
        let return_code: Option<i64> = row.col("return_code")?;
        Ok(Target {
            id: TargetId(row.col("id")?),
            deployment_id: DeploymentId(row.col("deployment_id")?),
            asset_id: AssetId(row.col("asset_id")?),
            asset_name: row.col("asset_name")?,
            state: TargetState::parse(&state).ok_or_else(|| corrupt("target state", &state))?,
            run_mode: run_mode(row)?,
            credential: row.col("credential")?,
            last_step: row.col("last_step")?,
            return_code: return_code.map(|c| i32::try_from(c).map_err(|_| corrupt("return code", c))).transpose()?,
            message: row.col("message")?,
            error_code: row.col("error_code")?,
            deployer_version: row.col("deployer_version")?,
            server: row.col("server")?,
            work_dir: row.col("work_dir")?,
            pid: row.col("pid")?,
            boot_marker: row.col("boot_marker")?,
            reboot_seq: row.col("reboot_seq")?,
            attempts: row.col("attempts")?,
            next_attempt_ms: row.col("next_attempt_ms")?,
            created_ms: row.col("created_ms")?,
            updated_ms: row.col("updated_ms")?,
            finished_ms: row.col("finished_ms")?,
        })
    }
}

const DEPLOYMENT_GOING: &str = "SELECT 1 AS one FROM targets WHERE deployment_id = $1 AND finished_ms IS NULL LIMIT 1";
const FINISH_DEPLOYMENT: &str = "UPDATE deployments SET finished_ms = $2 WHERE id = $1 AND finished_ms IS NULL \
     AND NOT EXISTS (SELECT 1 FROM targets WHERE deployment_id = $1 AND finished_ms IS NULL)";

/// The message of a target's first state and event.
const QUEUED: &str = "queued";

impl Store {
    /// Creates a deployment and its targets in one transaction: every target `Queued`,
    /// with a first event "queued". A deployment without targets is finished at once.
    pub async fn create_deployment(&self, d: &NewDeployment, now_ms: i64) -> Result<(Deployment, Vec<Target>)> {
        let new = d.clone();
        if let Some(done) = self.on_sqlite_writer(true, move |c| insert_deployment_sqlite(c, &new, now_ms)).await {
            return done;
        }
        let mut tx = self.begin().await?;
        let created = insert_deployment(&mut tx, d, now_ms).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn deployment(&self, id: DeploymentId) -> Result<Deployment> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = $1")))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("deployment {id} not found")))?;
        deployment_from_row(&row)
    }

    /// The newest `limit` deployments, newest first.
    pub async fn list_deployments(&self, limit: i64) -> Result<Vec<Deployment>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments ORDER BY created_ms DESC, id DESC LIMIT $1"
        )))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(deployment_from_row).collect()
    }

    /// Sets `finished_ms` when every target of the deployment is final. True only for
    /// the call that finished it (false while targets run, and once it is finished).
    pub async fn finish_deployment_if_done(&self, id: DeploymentId, now_ms: i64) -> Result<bool> {
        // a read first (by the index of unfinished targets): while targets go on, nearly
        // every call, nothing is written
        let on_sqlite = self.on_sqlite_writer(false, move |c| {
            if query_row(c, DEPLOYMENT_GOING, &[&id.0], |_| Ok(()))?.is_some() {
                return Ok(Some(false));
            }
            if execute(c, FINISH_DEPLOYMENT, &[&id.0, &now_ms])? > 0 {
                return Ok(Some(true));
            }
            Ok(None)
        });
        let finished = match on_sqlite.await {
            Some(done) => done?,
            None => {
                let going = sqlx::query(DEPLOYMENT_GOING).bind(id.0).fetch_optional(&self.pool).await?;
                if going.is_some() {
                    return Ok(false);
                }
                let done = sqlx::query(FINISH_DEPLOYMENT).bind(id.0).bind(now_ms).execute(self.writer()).await?;
                (done.rows_affected() > 0).then_some(true)
            }
        };
        if let Some(finished) = finished {
            return Ok(finished);
        }
        self.deployment(id).await?;
        Ok(false)
    }

    /// Deletes the deployments that finished before `cutoff_ms`, with their targets,
    /// steps and events. Returns how many deployments went.
    pub async fn delete_logs_before(&self, cutoff_ms: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        let old = "SELECT id FROM deployments WHERE finished_ms IS NOT NULL AND finished_ms < $1";
        let old_targets = format!("SELECT id FROM targets WHERE deployment_id IN ({old})");
        for table in ["step_records", "target_events"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE target_id IN ({old_targets})")))
                .bind(cutoff_ms)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM targets WHERE deployment_id IN ({old})")))
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM deployments WHERE finished_ms IS NOT NULL AND finished_ms < $1")
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// Inserts a deployment and its targets (each `Queued` with its first event) in `tx`:
/// the one place that does, for [`Store::create_deployment`] and for a scheduled run
/// claimed in the same transaction.
pub(crate) async fn insert_deployment(
    tx: &mut Transaction<'_, Any>,
    d: &NewDeployment,
    now_ms: i64,
) -> Result<(Deployment, Vec<Target>)> {
    let (options, selection) = json_fields(d)?;
    let row = sqlx::query(sqlx::AssertSqlSafe(insert_deployment_sql()))
        .bind(d.package_id.0)
        .bind(&d.package_name)
        .bind(&d.package_version)
        .bind(d.executor.to_string())
        .bind(d.run_mode.as_str())
        .bind(now_ms)
        .bind(d.targets.is_empty().then_some(now_ms))
        .bind(options)
        .bind(selection)
        .fetch_one(&mut **tx)
        .await?;
    let deployment = deployment_from_row(&row)?;
    let mut targets = Vec::with_capacity(d.targets.len());
    for (asset_id, asset_name) in &d.targets {
        let row = sqlx::query(sqlx::AssertSqlSafe(insert_target_sql()))
            .bind(deployment.id.0)
            .bind(asset_id.0)
            .bind(asset_name)
            .bind(TargetState::Queued.as_str())
            .bind(d.run_mode.as_str())
            .bind(QUEUED)
            .bind(now_ms)
            .fetch_one(&mut **tx)
            .await?;
        let target = Target::from_row(&row)?;
        steps::insert_event(tx, target.id, now_ms, TargetState::Queued, QUEUED).await?;
        targets.push(target);
    }
    Ok((deployment, targets))
}

/// `insert_deployment` on SQLite's group-commit writer.
fn insert_deployment_sqlite(
    c: &rusqlite::Connection,
    d: &NewDeployment,
    now_ms: i64,
) -> Result<(Deployment, Vec<Target>)> {
    let (options, selection) = json_fields(d)?;
    let args: [&dyn rusqlite::ToSql; 9] = [
        &d.package_id.0,
        &d.package_name,
        &d.package_version,
        &d.executor.to_string(),
        &d.run_mode.as_str(),
        &now_ms,
        &d.targets.is_empty().then_some(now_ms),
        &options,
        &selection,
    ];
    let created = query_row(c, &insert_deployment_sql(), &args, |r| deployment_from_row(r))?;
    let deployment = created.ok_or_else(|| StoreError::Other("the new deployment was not returned".into()))?;
    let sql = insert_target_sql();
    let mut targets = Vec::with_capacity(d.targets.len());
    for (asset_id, asset_name) in &d.targets {
        let args: [&dyn rusqlite::ToSql; 7] = [
            &deployment.id.0,
            &asset_id.0,
            asset_name,
            &TargetState::Queued.as_str(),
            &d.run_mode.as_str(),
            &QUEUED,
            &now_ms,
        ];
        let target = query_row(c, &sql, &args, |r| Target::from_row(r))?
            .ok_or_else(|| StoreError::Other("a new target was not returned".into()))?;
        execute(c, steps::INSERT_EVENT, &[&target.id.0, &now_ms, &TargetState::Queued.as_str(), &QUEUED])?;
        targets.push(target);
    }
    Ok((deployment, targets))
}

fn insert_deployment_sql() -> String {
    format!(
        "INSERT INTO deployments (package_id, package_name, package_version, executor, run_mode, created_ms, \
         finished_ms, options, selection) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {DEPLOYMENT_COLUMNS}"
    )
}

fn insert_target_sql() -> String {
    format!(
        "INSERT INTO targets (deployment_id, asset_id, asset_name, state, run_mode, message, created_ms, \
         updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {TARGET_COLUMNS}"
    )
}

/// A deployment's options and selection as stored (JSON).
fn json_fields(d: &NewDeployment) -> Result<(String, Option<String>)> {
    let json = |e: serde_json::Error| StoreError::Other(e.to_string());
    Ok((
        serde_json::to_string(&d.options).map_err(json)?,
        d.selection.as_ref().map(serde_json::to_string).transpose().map_err(json)?,
    ))
}
