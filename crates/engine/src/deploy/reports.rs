//! Reports from the deployer, whether called back over HTTP or collected over SSH:
//! each applied once (steps by sequence number; a final state never changes).

use crate::error::{EngineError, Result};
use crate::secrets::token_hash;
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::deployment::{StepRecord, TargetState};
use drover_domain::ids::{PackageId, TargetId};
use drover_proto::{Event, FinalStatus, Report};
use drover_store::TargetUpdate;

impl Engine {
    /// A report called back by a deployer with its target's report token.
    pub async fn report_from_deployer(&self, token: &str, report: Report) -> Result<()> {
        let forbidden = || {
            EngineError::Forbidden("this report token is not valid for that target (or the target has ended)".into())
        };
        let id = self.store().target_by_report_token(&token_hash(token)).await?.ok_or_else(forbidden)?;
        if id != TargetId(report.target_id) {
            return Err(forbidden());
        }
        self.apply_report(id, &report).await
    }

    /// Which share file a share token may read: Ok only for a file of the package of
    /// the token's target, while that target runs.
    pub async fn authorize_share_read(&self, token: &str, sha256: &str) -> Result<()> {
        let forbidden =
            || EngineError::Forbidden("this share token is not valid for that file (or its target has ended)".into());
        let (_, package): (TargetId, PackageId) =
            self.store().target_by_share_token(&token_hash(token)).await?.ok_or_else(forbidden)?;
        let pkg = self.store().package(package).await?;
        if pkg.files.iter().any(|f| f.sha256 == sha256) { Ok(()) } else { Err(forbidden()) }
    }

    pub(crate) async fn apply_report(&self, id: TargetId, r: &Report) -> Result<()> {
        let at = r.at_unix_ms;
        match &r.event {
            Event::Started { pid, deployer_version, .. } => {
                let u = TargetUpdate {
                    deployer_version: Some(deployer_version.clone()),
                    pid: Some(i64::from(*pid)),
                    ..Default::default()
                };
                self.store().update_target(id, &u, now_ms()).await?;
            }
            Event::StepStarted { .. } | Event::Rebooting { .. } => {}
            Event::StepFinished(s) => {
                let rec = StepRecord {
                    target_id: id,
                    seq: r.seq as i64,
                    index: s.index as i64,
                    name: s.name.clone(),
                    exit_code: s.exit_code,
                    success: s.success,
                    duration_ms: s.duration_ms as i64,
                    output_tail: s.output_tail.clone(),
                    message: s.message.clone(),
                    at_ms: at,
                };
                if self.store().record_step(&rec).await? {
                    let u = TargetUpdate {
                        last_step: Some(s.name.clone()),
                        return_code: s.exit_code,
                        ..Default::default()
                    };
                    self.store().update_target(id, &u, now_ms()).await?;
                }
            }
            Event::Finished { status, message, .. } => {
                let (state, code) = match status {
                    FinalStatus::Success => (TargetState::Success, None),
                    FinalStatus::Failed => (TargetState::Failed, Some(FailureCode::StepFailed)),
                    FinalStatus::TimedOut => (TargetState::TimedOut, Some(FailureCode::MaxDuration)),
                };
                let message = if message.is_empty() { "finished".to_string() } else { message.clone() };
                self.end_target(id, state, &message, code).await?;
            }
        }
        Ok(())
    }

    /// Moves a target to a final state (once), revokes its tokens and wakes its task.
    pub(crate) async fn end_target(
        &self,
        id: TargetId,
        state: TargetState,
        message: &str,
        code: Option<FailureCode>,
    ) -> Result<()> {
        self.store().transition(id, state, message, code.map(FailureCode::as_str), now_ms()).await?;
        self.store().revoke_tokens(id).await?;
        self.wake(id);
        Ok(())
    }
}
