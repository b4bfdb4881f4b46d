//! Reports from the deployer, whether called back over HTTP or collected over SSH:
//! each applied once (steps by sequence number; a final state never changes).

use crate::error::{EngineError, Result};
use crate::secrets::token_hash;
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::deployment::{StepRecord, TargetState};
use drover_domain::ids::{PackageId, TargetId};
use drover_domain::time::utc;
use drover_proto::{Event, FinalStatus, Report};
use drover_store::TargetUpdate;

/// The most reports one target may send (its `seq` is at most this): a package that
/// loops with goto still ends well within it.
pub const MAX_REPORTS_PER_TARGET: u64 = 2_000;
/// The longest output tail kept of a step (the deployer sends at most 4 KiB).
pub const MAX_OUTPUT_TAIL: usize = 8 * 1024;
/// The longest message, step name or other text field of a report.
pub const MAX_REPORT_TEXT: usize = 4 * 1024;

/// Checks a report against the bounds and the package's steps (`steps`, how many it
/// has); a report outside them is refused whole.
pub fn check_report(r: &Report, steps: usize) -> Result<()> {
    let bad = |m: String| Err(EngineError::Invalid(format!("report {} refused: {m}", r.seq)));
    if r.seq == 0 || r.seq > MAX_REPORTS_PER_TARGET {
        return bad(format!("its sequence number must be 1 to {MAX_REPORTS_PER_TARGET}"));
    }
    let step = |index: usize| {
        if index < steps { Ok(()) } else { bad(format!("step index {index}, but the package has {steps} steps")) }
    };
    let text = |what: &str, s: &str, max: usize| {
        if s.len() <= max { Ok(()) } else { bad(format!("its {what} has {} bytes (at most {max})", s.len())) }
    };
    match &r.event {
        Event::Started { deployer_version, hostname, user, .. } => {
            text("deployer version", deployer_version, MAX_REPORT_TEXT)?;
            text("host name", hostname, MAX_REPORT_TEXT)?;
            text("user", user, MAX_REPORT_TEXT)
        }
        Event::StepStarted { index, name } => {
            step(*index)?;
            text("step name", name, MAX_REPORT_TEXT)
        }
        Event::StepFinished(s) => {
            step(s.index)?;
            text("step name", &s.name, MAX_REPORT_TEXT)?;
            text("output tail", &s.output_tail, MAX_OUTPUT_TAIL)?;
            text("message", &s.message, MAX_REPORT_TEXT)
        }
        Event::Rebooting { resume_at } => {
            if *resume_at <= steps {
                Ok(())
            } else {
                bad(format!("resume at step {resume_at}, but the package has {steps} steps"))
            }
        }
        Event::Finished { message, last_step, .. } => {
            if let Some(i) = last_step {
                step(*i)?;
            }
            text("message", message, MAX_REPORT_TEXT)
        }
    }
}

/// How a report reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// Posted by the deployer.
    Callback,
    /// Read from the task's record over SSH.
    Record,
}

impl Engine {
    /// The target a deployer's report token is valid for: checked before its report's
    /// body is read.
    pub async fn report_target(&self, token: &str) -> Result<TargetId> {
        self.store().target_by_report_token(&token_hash(token)).await?.ok_or_else(report_forbidden)
    }

    /// A report called back by a deployer with its target's report token.
    pub async fn report_from_deployer(&self, token: &str, report: Report) -> Result<()> {
        let id = self.report_target(token).await?;
        if id != TargetId(report.target_id) {
            return Err(report_forbidden());
        }
        self.apply_report(id, &report, Via::Callback).await
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

    /// Applies a report that passes [`check_report`] against the target's package. An end
    /// reported for a target whose outcome was unknown (its machine unreachable when it
    /// ended) sets the true outcome, with a log entry saying when and how it was learned.
    pub(crate) async fn apply_report(&self, id: TargetId, r: &Report, via: Via) -> Result<()> {
        // the package of a target this node drives is in memory: most reports (a start,
        // a step) then need no read but their token's
        let pkg = match self.driven_package(id) {
            Some(p) => p,
            None => {
                let target = self.store().target(id).await?;
                let deployment = self.store().deployment(target.deployment_id).await?;
                std::sync::Arc::new(self.store().package(deployment.package_id).await?)
            }
        };
        let steps = pkg.def.steps.len();
        check_report(r, steps)?;
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
            Event::StepStarted { .. } => {}
            Event::Rebooting { resume_at } => {
                let target = self.store().target(id).await?;
                let after = resume_at.checked_sub(1).and_then(|i| pkg.def.steps.get(i).map(|s| (i, s)));
                let message = match after {
                    Some((i, s)) => format!(
                        "rebooting after step {} '{}': waiting for asset '{}' to restart, then the package goes on at step {}",
                        i + 1,
                        s.name,
                        target.asset_name,
                        resume_at + 1
                    ),
                    None => format!("rebooting: waiting for asset '{}' to restart", target.asset_name),
                };
                if self.store().mark_rebooting(id, r.seq as i64, &message, now_ms()).await?.is_some() {
                    self.wake(id);
                }
            }
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
                // with the target's last step and return code, in one transaction
                self.store().record_step(&rec, now_ms()).await?;
            }
            Event::Finished { status, message, .. } => {
                let (state, code) = match status {
                    FinalStatus::Success => (TargetState::Success, None),
                    FinalStatus::Failed => (TargetState::Failed, Some(FailureCode::StepFailed)),
                    FinalStatus::TimedOut => (TargetState::TimedOut, Some(FailureCode::MaxDuration)),
                    FinalStatus::ServerCertMismatch => (TargetState::Failed, Some(FailureCode::ServerCertMismatch)),
                };
                let message = if message.is_empty() { "finished".to_string() } else { message.clone() };
                let target = self.store().target(id).await?;
                let unknown = target.state.outcome_unknown(target.error_code.as_deref());
                let learned =
                    self.store().transition(id, state, &message, code.map(FailureCode::as_str), now_ms()).await?;
                if unknown && learned.is_some() {
                    let how = match via {
                        Via::Callback => {
                            "from the deployer's report, which reached the server once the machine could reach it again"
                        }
                        Via::Record => {
                            "from the task's record on the machine, read over SSH once it could be reached again"
                        }
                    };
                    let note = format!(
                        "outcome learned at {} {how}: {state} (it had ended timed_out because the machine could not be reached)",
                        utc(now_ms())
                    );
                    self.store().note(id, &note, now_ms()).await?;
                }
                if learned.is_none() {
                    // it was final already (and may have kept its report token, its
                    // outcome unknown): its tokens end now; a target that just became final
                    // has none valid any more (the store's rule for final states)
                    self.store().revoke_tokens(id).await?;
                }
                self.wake(id);
            }
        }
        Ok(())
    }

    /// Moves a target to a final state (once), revokes its tokens and wakes its task. A
    /// target that ends with its outcome unknown keeps its report token (its share token
    /// ends with any final state), so that the deployer's late reports are taken.
    pub(crate) async fn end_target(
        &self,
        id: TargetId,
        state: TargetState,
        message: &str,
        code: Option<FailureCode>,
    ) -> Result<()> {
        self.store().transition(id, state, message, code.map(FailureCode::as_str), now_ms()).await?;
        if code != Some(FailureCode::UnreachableOutcomeUnknown) {
            self.store().revoke_tokens(id).await?;
        }
        self.wake(id);
        Ok(())
    }
}

fn report_forbidden() -> EngineError {
    EngineError::Forbidden("this report token is not valid for that target (or the target has ended)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_proto::StepResult;

    fn finished(seq: u64, index: usize, tail: usize) -> Report {
        Report {
            target_id: 1,
            seq,
            at_unix_ms: 0,
            event: Event::StepFinished(StepResult {
                index,
                name: "s".into(),
                exit_code: Some(0),
                success: true,
                duration_ms: 1,
                output_tail: "x".repeat(tail),
                message: String::new(),
            }),
        }
    }

    #[test]
    fn reports_out_of_bounds_are_refused() {
        assert!(check_report(&finished(1, 0, 4096), 1).is_ok());
        let err = check_report(&finished(1, 1, 0), 1).unwrap_err().to_string();
        assert!(err.contains("step index 1, but the package has 1 steps"), "{err}");
        assert!(check_report(&finished(1, 60_000, 0), 1).is_err());
        assert!(check_report(&finished(1, 0, MAX_OUTPUT_TAIL + 1), 1).unwrap_err().to_string().contains("output tail"));
        assert!(check_report(&finished(MAX_REPORTS_PER_TARGET + 1, 0, 0), 1).is_err());
        assert!(check_report(&finished(0, 0, 0), 1).is_err());
    }
}
