//! Deployment targets: the state machine applied in SQL, log fields, per-target tokens.

use super::{TARGET_COLUMNS, TargetUpdate, final_states_sql, steps};
use crate::sqlite_writer::{Columns, FromRow, execute, query_row};
use crate::{Result, Store, StoreError};
use drover_domain::FailureCode;
use drover_domain::deployment::{Target, TargetState};
use drover_domain::ids::{AssetId, DeploymentId, PackageId, TargetId};
use rusqlite::{Connection, ToSql};
use sqlx::Row;

fn not_found(id: TargetId) -> StoreError {
    StoreError::NotFound(format!("target {id} not found"))
}

const NOTE: &str = "INSERT INTO target_events (target_id, at_ms, state, message) SELECT id, $2, state, $3 FROM targets \
     WHERE id = $1";
const UPDATE_TARGET: &str = "UPDATE targets SET credential = COALESCE($1, credential), server = COALESCE($2, server), \
     deployer_version = COALESCE($3, deployer_version), last_step = COALESCE($4, last_step), \
     return_code = COALESCE($5, return_code), work_dir = COALESCE($6, work_dir), pid = COALESCE($7, pid), \
     boot_marker = COALESCE($10, boot_marker), updated_ms = $8 WHERE id = $9";
const SET_TOKENS: &str =
    "UPDATE targets SET report_token_hash = $1, share_token_hash = $2, tokens_revoked = 0 WHERE id = $3";
const REVOKE_TOKENS: &str = "UPDATE targets SET tokens_revoked = 1 WHERE id = $1";

fn target_sql() -> String {
    format!("SELECT {TARGET_COLUMNS} FROM targets WHERE id = $1")
}

fn by_report_token_sql() -> String {
    format!(
        "SELECT id FROM targets WHERE report_token_hash = $1 AND tokens_revoked = 0 AND (state NOT IN {} \
         OR error_code = '{}')",
        final_states_sql(),
        FailureCode::UnreachableOutcomeUnknown.as_str()
    )
}

/// A state change, as `change_state` takes it.
struct StateChange {
    id: TargetId,
    state: TargetState,
    message: String,
    error_code: Option<String>,
    next_attempt_ms: Option<i64>,
    now_ms: i64,
}

/// The UPDATE that moves a target to `state` if the state machine allows it from the state
/// it is in, or learns it of a target whose outcome is unknown; it returns the target.
fn change_state_sql(state: TargetState) -> String {
    let names = |ok: &dyn Fn(TargetState) -> bool| {
        let v: Vec<String> = TargetState::ALL.iter().filter(|s| ok(**s)).map(|s| format!("'{}'", s.as_str())).collect();
        if v.is_empty() { "NULL".to_string() } else { v.join(", ") }
    };
    let sources = names(&|s| s.can_become(state));
    let learned = names(&|s| s.can_learn(state));
    let unknown = FailureCode::UnreachableOutcomeUnknown.as_str();
    format!(
        "UPDATE targets SET state = $1, message = $2, error_code = $3, updated_ms = $4, finished_ms = $5, \
         attempts = attempts + $7, next_attempt_ms = $8 WHERE id = $6 AND (state IN ({sources}) \
         OR (state IN ({learned}) AND error_code = '{unknown}')) RETURNING {TARGET_COLUMNS}"
    )
}

/// The same calls on SQLite's group-commit writer.
mod sqlite {
    use super::*;

    pub(super) fn target(c: &Connection, id: TargetId) -> Result<Target> {
        query_row(c, &target_sql(), &[&id.0], |r| Target::from_row(r))?.ok_or_else(|| not_found(id))
    }

    pub(super) fn change_state(c: &Connection, s: &StateChange) -> Result<Option<Target>> {
        let args: [&dyn ToSql; 8] = [
            &s.state.as_str(),
            &s.message,
            &s.error_code,
            &s.now_ms,
            &s.state.is_final().then_some(s.now_ms),
            &s.id.0,
            &i64::from(s.state == TargetState::Connecting),
            &s.next_attempt_ms,
        ];
        let Some(target) = query_row(c, &change_state_sql(s.state), &args, |r| Target::from_row(r))? else {
            target(c, s.id)?;
            return Ok(None);
        };
        execute(c, steps::INSERT_EVENT, &[&s.id.0, &s.now_ms, &s.state.as_str(), &s.message])?;
        Ok(Some(target))
    }
}

impl Store {
    /// The targets of a deployment, in creation order.
    pub async fn targets_of(&self, id: DeploymentId) -> Result<Vec<Target>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM targets WHERE deployment_id = $1 ORDER BY id"
        )))
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Target::from_row).collect()
    }

    pub async fn target(&self, id: TargetId) -> Result<Target> {
        self.fetch_optional(target_sql(), vec![id.0.into()]).await?.ok_or_else(|| not_found(id))
    }

    /// Moves a target to `state` if `TargetState::can_become` allows it from the state it
    /// is in (checked by the UPDATE itself, so concurrent callers cannot both win), sets
    /// message and error code, `finished_ms` for final states, and appends an event.
    /// `Ok(None)` when the transition is not allowed: a final state is never overwritten.
    /// Going to `Connecting` counts an attempt.
    pub async fn transition(
        &self,
        id: TargetId,
        state: TargetState,
        message: &str,
        error_code: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<Target>> {
        self.change_state(id, state, message, error_code, None, now_ms).await
    }

    /// Puts a target in the retry queue: `WaitingRetry`, next attempt at `next_attempt_ms`.
    pub async fn queue_retry(
        &self,
        id: TargetId,
        next_attempt_ms: i64,
        message: &str,
        now_ms: i64,
    ) -> Result<Option<Target>> {
        self.change_state(id, TargetState::WaitingRetry, message, None, Some(next_attempt_ms), now_ms).await
    }

    /// Appends an event to a target's log without changing its state (e.g. what happened
    /// after it ended).
    pub async fn note(&self, id: TargetId, message: &str, now_ms: i64) -> Result<()> {
        let done = self.execute(NOTE, vec![id.0.into(), now_ms.into(), message.into()]).await?;
        if done == 0 { Err(not_found(id)) } else { Ok(()) }
    }

    async fn change_state(
        &self,
        id: TargetId,
        state: TargetState,
        message: &str,
        error_code: Option<&str>,
        next_attempt_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Option<Target>> {
        let change = StateChange {
            id,
            state,
            message: message.to_string(),
            error_code: error_code.map(str::to_string),
            next_attempt_ms,
            now_ms,
        };
        if let Some(done) = self.on_sqlite_writer(true, move |c| sqlite::change_state(c, &change)).await {
            return done;
        }
        // boxed: the callers, a target's driver among them, hold a pointer, not the transaction
        Box::pin(async {
            let mut tx = self.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(change_state_sql(state)))
                .bind(state.as_str())
                .bind(message)
                .bind(error_code)
                .bind(now_ms)
                .bind(state.is_final().then_some(now_ms))
                .bind(id.0)
                .bind(i64::from(state == TargetState::Connecting))
                .bind(next_attempt_ms)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                drop(tx);
                self.target(id).await?;
                return Ok(None);
            };
            let target = Target::from_row(&row)?;
            steps::insert_event(&mut tx, id, now_ms, state, message).await?;
            tx.commit().await?;
            Ok(Some(target))
        })
        .await
    }

    /// Sets the given fields of a target's log line; `updated_ms` becomes `now_ms`.
    pub async fn update_target(&self, id: TargetId, u: &TargetUpdate, now_ms: i64) -> Result<()> {
        let args = vec![
            u.credential.as_deref().into(),
            u.server.as_deref().into(),
            u.deployer_version.as_deref().into(),
            u.last_step.as_deref().into(),
            u.return_code.map(i64::from).into(),
            u.work_dir.as_deref().into(),
            u.pid.into(),
            now_ms.into(),
            id.0.into(),
            u.boot_marker.as_deref().into(),
        ];
        if self.execute(UPDATE_TARGET, args).await? == 0 { Err(not_found(id)) } else { Ok(()) }
    }

    /// Takes reboot report `seq` of a running target once: records its sequence number
    /// and moves the target to `rebooting` with `message`, in one transaction. Returns
    /// the target when it did; None when the target is not running or took this report
    /// (or a later one) before.
    pub async fn mark_rebooting(&self, id: TargetId, seq: i64, message: &str, now_ms: i64) -> Result<Option<Target>> {
        // boxed: a report's handler holds a pointer, not the transaction
        Box::pin(async {
            let mut tx = self.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE targets SET state = $1, message = $2, reboot_seq = $3, updated_ms = $4 \
                 WHERE id = $5 AND state = $6 AND (reboot_seq IS NULL OR reboot_seq < $3) RETURNING {TARGET_COLUMNS}"
            )))
            .bind(TargetState::Rebooting.as_str())
            .bind(message)
            .bind(seq)
            .bind(now_ms)
            .bind(id.0)
            .bind(TargetState::Running.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let target = Target::from_row(&row)?;
            steps::insert_event(&mut tx, id, now_ms, TargetState::Rebooting, message).await?;
            tx.commit().await?;
            Ok(Some(target))
        })
        .await
    }

    /// Stores the hashes of the target's report and share tokens (valid again until
    /// revoked or the target is final).
    pub async fn set_tokens(&self, id: TargetId, report_token_hash: &str, share_token_hash: &str) -> Result<()> {
        let done = self
            .execute(SET_TOKENS, vec![report_token_hash.into(), share_token_hash.into(), id.0.into()])
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    StoreError::Conflict("this token is already in use by another target".to_string())
                }
                e => e,
            })?;
        if done == 0 { Err(not_found(id)) } else { Ok(()) }
    }

    /// Makes the target's tokens invalid.
    pub async fn revoke_tokens(&self, id: TargetId) -> Result<()> {
        if self.execute(REVOKE_TOKENS, vec![id.0.into()]).await? == 0 { Err(not_found(id)) } else { Ok(()) }
    }

    /// The target a report token belongs to, while its tokens are not revoked and the
    /// target is not final, or ended with its outcome unknown (so that the deployer's
    /// late reports are taken).
    pub async fn target_by_report_token(&self, hash: &str) -> Result<Option<TargetId>> {
        let h = hash.to_string();
        let on_sqlite = self.on_sqlite_writer(false, move |c| {
            query_row(c, &by_report_token_sql(), &[&h], |r| r.col("id")).map(|id| id.map(TargetId))
        });
        if let Some(done) = on_sqlite.await {
            return done;
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(by_report_token_sql())).bind(hash).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?.map(TargetId))
    }

    /// The target a share token belongs to and the package it may download, under the
    /// same rule as report tokens.
    pub async fn target_by_share_token(&self, hash: &str) -> Result<Option<(TargetId, PackageId)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.id, d.package_id FROM targets t JOIN deployments d ON d.id = t.deployment_id \
             WHERE t.share_token_hash = $1 AND t.tokens_revoked = 0 AND t.state NOT IN {}",
            final_states_sql()
        )))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some((TargetId(r.try_get("id")?), PackageId(r.try_get("package_id")?)))),
            None => Ok(None),
        }
    }

    /// Targets that ended with their outcome unknown (`target.unreachable_outcome_unknown`)
    /// at or after `since_ms`, oldest first: the ones to reconcile.
    pub async fn outcome_unknown_targets(&self, since_ms: i64) -> Result<Vec<Target>> {
        self.outcome_unknown_where("finished_ms >= $1", since_ms).await
    }

    /// The targets of asset `id` that ended with their outcome unknown, oldest first: read
    /// before every deployment to the asset, by the partial index of such targets.
    pub async fn outcome_unknown_targets_of(&self, id: AssetId) -> Result<Vec<Target>> {
        self.outcome_unknown_where("asset_id = $1", id.0).await
    }

    /// Targets with the outcome-unknown code (written as a literal, so that SQLite uses the
    /// partial index `targets_outcome_unknown`) and the condition `and` on `$1`.
    async fn outcome_unknown_where(&self, and: &str, value: i64) -> Result<Vec<Target>> {
        let sql = format!(
            "SELECT {TARGET_COLUMNS} FROM targets WHERE error_code = '{}' AND {and} ORDER BY id",
            FailureCode::UnreachableOutcomeUnknown.as_str()
        );
        Ok(self
            .fetch_all::<Target>(sql, vec![value.into()])
            .await?
            .into_iter()
            .filter(|t| t.state.outcome_unknown(t.error_code.as_deref()))
            .collect())
    }

    /// Targets not in a final state, oldest first (for recovery after a restart).
    pub async fn unfinished_targets(&self) -> Result<Vec<Target>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM targets WHERE state NOT IN {} ORDER BY id",
            final_states_sql()
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Target::from_row).collect()
    }
}
