//! The audit log: who did what. The engine methods that change something write it where
//! the action happens, with the acting user as an [`Executor`], so the console and the
//! JSON API both record the same entries.

use crate::Engine;
use crate::error::Result;
use drover_domain::audit::{AuditAction, AuditEntry};
use drover_domain::executor::Executor;

/// The most audit entries one page shows.
const MAX_AUDIT_PAGE: i64 = 500;

impl Engine {
    /// Appends an audit entry.
    pub async fn audit(&self, actor: &Executor, action: AuditAction, detail: &str, now_ms: i64) -> Result<()> {
        Ok(self.store().append_audit(now_ms, actor, action, detail).await?)
    }

    /// Appends an audit entry after the action has happened: a failure to write it is
    /// logged, not returned (the action itself succeeded and must be reported so).
    pub(crate) async fn audit_done(&self, actor: &Executor, action: AuditAction, detail: &str) {
        if let Err(e) = self.audit(actor, action, detail, crate::now_ms()).await {
            tracing::error!(%actor, %action, detail, "cannot write the audit log: {e}");
        }
    }

    /// How many entries the audit log has, and one page of it, newest first.
    pub async fn audit_page(&self, offset: i64, limit: i64) -> Result<(i64, Vec<AuditEntry>)> {
        Ok(self.store().audit_page(offset.max(0), limit.clamp(1, MAX_AUDIT_PAGE)).await?)
    }
}
