//! The audit log: append and read, newest first.

use crate::error::corrupt;
use crate::{Result, Store};
use drover_domain::audit::{AuditAction, AuditEntry};
use drover_domain::executor::Executor;
use sqlx::Row;

impl Store {
    pub async fn append_audit(&self, at_ms: i64, actor: &Executor, action: AuditAction, detail: &str) -> Result<()> {
        sqlx::query("INSERT INTO audit_log (at_ms, actor, action, detail) VALUES ($1, $2, $3, $4)")
            .bind(at_ms)
            .bind(actor.to_string())
            .bind(action.as_str())
            .bind(detail)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// How many entries there are, and the page `offset..offset+limit`, newest first.
    pub async fn audit_page(&self, offset: i64, limit: i64) -> Result<(i64, Vec<AuditEntry>)> {
        let total: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM audit_log").fetch_one(&self.pool).await?.try_get("n")?;
        let rows = sqlx::query(
            "SELECT id, at_ms, actor, action, detail FROM audit_log ORDER BY at_ms DESC, id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let actor: String = row.try_get("actor")?;
            let action: String = row.try_get("action")?;
            out.push(AuditEntry {
                id: row.try_get("id")?,
                at_ms: row.try_get("at_ms")?,
                actor: actor.parse().map_err(|_| corrupt("audit actor", &actor))?,
                action: AuditAction::parse(&action).ok_or_else(|| corrupt("audit action", &action))?,
                detail: row.try_get("detail")?,
            });
        }
        Ok((total, out))
    }
}
