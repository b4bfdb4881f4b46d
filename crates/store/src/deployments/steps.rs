//! A target's history: executed steps (idempotent per report sequence), state events,
//! and the filtered log of targets.

use super::{LogFilter, TARGET_COLUMNS};
use crate::error::missing_as;
use crate::sqlite_writer::FromRow;
use crate::sqlite_writer::{execute, is_constraint};
use crate::{Result, Store, StoreError};
use drover_domain::deployment::{StepRecord, Target, TargetEvent, TargetState};
use drover_domain::ids::TargetId;
use rusqlite::ToSql;
use sqlx::{Any, Row, Transaction};

const INSERT_STEP: &str = "INSERT INTO step_records (target_id, seq, step_index, name, exit_code, success, \
     duration_ms, output_tail, message, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (target_id, seq) DO NOTHING";
/// A recorded step is the target's last step.
const LAST_STEP: &str =
    "UPDATE targets SET last_step = $1, return_code = COALESCE($2, return_code), updated_ms = $3 WHERE id = $4";
pub(super) const INSERT_EVENT: &str =
    "INSERT INTO target_events (target_id, at_ms, state, message) VALUES ($1, $2, $3, $4)";

/// Appends a state event inside the caller's transaction.
pub(super) async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    target: TargetId,
    at_ms: i64,
    state: TargetState,
    message: &str,
) -> Result<()> {
    sqlx::query(INSERT_EVENT).bind(target.0).bind(at_ms).bind(state.as_str()).bind(message).execute(&mut **tx).await?;
    Ok(())
}

impl Store {
    /// Records an executed step. Idempotent on (target, seq): false when that report was
    /// already recorded (a retried or collected report).
    pub async fn record_step(&self, r: &StepRecord, now_ms: i64) -> Result<bool> {
        let missing = |r: &StepRecord| format!("target {} not found", r.target_id);
        let rec = r.clone();
        let on_sqlite = self.on_sqlite_writer(true, move |c| {
            let r = &rec;
            let args: [&dyn ToSql; 10] = [
                &r.target_id.0,
                &r.seq,
                &r.index,
                &r.name,
                &r.exit_code,
                &r.success,
                &r.duration_ms,
                &r.output_tail,
                &r.message,
                &r.at_ms,
            ];
            let taken = execute(c, INSERT_STEP, &args)
                .map_err(|e| if is_constraint(&e, true) { StoreError::NotFound(missing(r)) } else { e.into() })?
                > 0;
            if taken {
                execute(c, LAST_STEP, &[&r.name, &r.exit_code, &now_ms, &r.target_id.0])?;
            }
            Ok(taken)
        });
        if let Some(done) = on_sqlite.await {
            return done;
        }
        // boxed: the callers hold a pointer, not the transaction
        Box::pin(async {
            let mut tx = self.begin().await?;
            let done = sqlx::query(INSERT_STEP)
                .bind(r.target_id.0)
                .bind(r.seq)
                .bind(r.index)
                .bind(&r.name)
                .bind(r.exit_code.map(i64::from))
                .bind(i64::from(r.success))
                .bind(r.duration_ms)
                .bind(&r.output_tail)
                .bind(&r.message)
                .bind(r.at_ms)
                .execute(&mut *tx)
                .await
                .map_err(missing_as(|| missing(r)))?;
            let taken = done.rows_affected() > 0;
            if taken {
                sqlx::query(LAST_STEP)
                    .bind(&r.name)
                    .bind(r.exit_code.map(i64::from))
                    .bind(now_ms)
                    .bind(r.target_id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(taken)
        })
        .await
    }

    /// The target's executed steps, by report sequence.
    pub async fn steps_of(&self, id: TargetId) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(
            "SELECT target_id, seq, step_index, name, exit_code, success, duration_ms, output_tail, message, at_ms \
             FROM step_records WHERE target_id = $1 ORDER BY seq",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let exit_code: Option<i64> = row.try_get("exit_code")?;
                Ok(StepRecord {
                    target_id: TargetId(row.try_get("target_id")?),
                    seq: row.try_get("seq")?,
                    index: row.try_get("step_index")?,
                    name: row.try_get("name")?,
                    exit_code: exit_code
                        .map(|c| i32::try_from(c).map_err(|_| crate::error::corrupt("exit code", c)))
                        .transpose()?,
                    success: row.try_get::<i64, _>("success")? != 0,
                    duration_ms: row.try_get("duration_ms")?,
                    output_tail: row.try_get("output_tail")?,
                    message: row.try_get("message")?,
                    at_ms: row.try_get("at_ms")?,
                })
            })
            .collect()
    }

    /// The target's state changes, by time, then by insertion.
    pub async fn events_of(&self, id: TargetId) -> Result<Vec<TargetEvent>> {
        let rows = sqlx::query(
            "SELECT target_id, at_ms, state, message FROM target_events WHERE target_id = $1 ORDER BY at_ms, id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok(TargetEvent {
                    target_id: TargetId(row.try_get("target_id")?),
                    at_ms: row.try_get("at_ms")?,
                    state: TargetState::parse(&state).ok_or_else(|| crate::error::corrupt("target state", &state))?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }

    /// Targets matching every filter given (deployment, asset, package), newest first,
    /// at most `limit`.
    pub async fn log(&self, f: &LogFilter) -> Result<Vec<Target>> {
        let columns: Vec<String> = TARGET_COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect();
        let mut sql = format!(
            "SELECT {} FROM targets t JOIN deployments d ON d.id = t.deployment_id WHERE 1 = 1",
            columns.join(", ")
        );
        let mut args: Vec<i64> = Vec::new();
        for (column, value) in [
            ("t.deployment_id", f.deployment.map(|d| d.0)),
            ("t.asset_id", f.asset.map(|a| a.0)),
            ("d.package_id", f.package.map(|p| p.0)),
        ] {
            if let Some(v) = value {
                args.push(v);
                sql.push_str(&format!(" AND {column} = ${}", args.len()));
            }
        }
        args.push(f.limit.max(0));
        sql.push_str(&format!(" ORDER BY t.created_ms DESC, t.id DESC LIMIT ${}", args.len()));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            query = query.bind(a);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Target::from_row).collect()
    }
}
