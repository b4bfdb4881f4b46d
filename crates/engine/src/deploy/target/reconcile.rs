//! Learning the true outcome of a target that ended while its machine could not be
//! reached (`timed_out`, `target.unreachable_outcome_unknown`): when a relaunch, another
//! deployment to the asset or the background check reaches the machine, the task's record
//! is read over SSH and its reports applied (every step that ran, and its end), with a
//! log entry saying when and how the outcome was learned.

use super::Stop;
use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::deployment::{Target, TargetState};
use drover_domain::ids::{AssetId, TargetId};
use drover_domain::time::utc;

/// What reconciling a target came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Learned {
    /// Its outcome is known (learned now, or before): the target as it stands.
    Known(Box<Target>),
    /// Its deployer still runs on the machine (still running steps or delivering its
    /// reports): not known yet.
    StillRunning,
    /// The machine could not be reached, or the task not found again: still unknown.
    Unknown(String),
}

fn engine_error(s: Stop) -> EngineError {
    if s.store_down { EngineError::Unavailable(s.message) } else { EngineError::Internal(s.message) }
}

impl Engine {
    /// Reads the record of target `id`'s task when its outcome is unknown, and sets the
    /// true outcome: what the deployer recorded, or `failed` (`target.task_vanished`)
    /// when no deployer runs and the record has no end (the machine lost power). `why`
    /// says what reached the machine, for the log.
    pub(crate) async fn reconcile(&self, id: TargetId, why: &str) -> Result<Learned> {
        let t = self.store().target(id).await?;
        if !t.state.outcome_unknown(t.error_code.as_deref()) {
            return Ok(Learned::Known(Box::new(t)));
        }
        let asset = self.store().asset(t.asset_id).await?;
        if !self.config().transport.probe(&asset.address, asset.ssh_port, self.config().probe_timeout).await {
            return Ok(Learned::Unknown(format!("asset '{}' does not answer on its SSH port", asset.name)));
        }
        let (access, task) = match self.reattach(&t, &asset).await.map_err(engine_error)? {
            Ok(found) => found,
            Err(reason) => return Ok(Learned::Unknown(reason)),
        };
        let alive = self.check_task(&access, &task, &t).await.map_err(engine_error)?;
        let now = self.store().target(id).await?;
        if !now.state.outcome_unknown(now.error_code.as_deref()) {
            return Ok(Learned::Known(Box::new(now))); // the record had its end
        }
        match alive {
            None => Ok(Learned::Unknown(format!("asset '{}' could not be reached over SSH", asset.name))),
            Some(true) => Ok(Learned::StillRunning),
            Some(false) => {
                let steps = self.store().steps_of(id).await?.len();
                let message = format!(
                    "outcome learned at {} from the task's record on asset '{}', read over SSH ({why}): the task ended without reporting an end (the machine lost power or was restarted){}; {steps} step(s) recorded",
                    utc(now_ms()),
                    asset.name,
                    now.last_step.as_deref().map(|s| format!(" after step '{s}'")).unwrap_or_default(),
                );
                let code = Some(FailureCode::TaskVanished.as_str());
                let learned = self.store().transition(id, TargetState::Failed, &message, code, now_ms()).await?;
                self.store().revoke_tokens(id).await?;
                match learned {
                    Some(t) => Ok(Learned::Known(Box::new(t))),
                    None => Ok(Learned::Known(Box::new(self.store().target(id).await?))),
                }
            }
        }
    }

    /// Before a deployment runs on an asset: the targets of earlier deployments to it
    /// whose outcome is unknown are reconciled first (their machine answers now).
    pub(super) async fn reconcile_asset(&self, asset: AssetId, why: &str) -> Result<()> {
        for t in self.store().outcome_unknown_targets_of(asset).await? {
            self.reconcile(t.id, why).await?;
        }
        Ok(())
    }
}
