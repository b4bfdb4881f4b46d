//! After a restart: every target the previous run left unfinished resumes or ends.

use crate::Engine;
use crate::error::Result;
use drover_domain::deployment::TargetState;
use std::sync::Arc;

impl Engine {
    /// Picks up the unfinished targets of this node. Queued and connecting targets start
    /// over (no task exists for them: a target is `running` before its task is
    /// created); running ones are watched again, their record collected over SSH, so
    /// what the deployer reported while the server was down is not lost and nothing runs
    /// twice; rebooting ones wait for their machine again (it restarted when its boot
    /// marker changed) and go on at the step after the reboot. Returns how many targets it picked up.
    pub async fn recover(&self) -> Result<usize> {
        let mut n = 0;
        for t in self.store().unfinished_targets().await? {
            if t.server.as_deref().is_some_and(|s| s != self.config().node_name) {
                continue; // another node's
            }
            let d = self.store().deployment(t.deployment_id).await?;
            let pkg = Arc::new(self.store().package(d.package_id).await?);
            let engine = self.clone();
            n += 1;
            tokio::spawn(async move {
                // a rebooting target's machine is waited for again, then its task
                // created again at the step after the reboot
                if matches!(t.state, TargetState::Running | TargetState::Rebooting) {
                    engine.resume_target(t, d, pkg).await
                } else {
                    engine.run_target(t, d, pkg).await
                }
            });
        }
        Ok(n)
    }
}
