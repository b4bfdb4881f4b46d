//! After a restart: every target the previous run left unfinished resumes or ends.

use crate::Engine;
use crate::error::Result;
use drover_domain::deployment::TargetState;

impl Engine {
    /// Picks up the unfinished targets of this node, and the queued ones no node has
    /// claimed yet that it serves ([`Engine::serves`]). Queued and connecting targets
    /// start over (no task exists for them: a target is `running` before its task is
    /// created); running ones are watched again, their record collected over SSH, so
    /// what the deployer reported while the server was down is not lost and nothing runs
    /// twice; rebooting ones wait for their machine again (it restarted when its boot
    /// marker changed) and go on at the step after the reboot. Other nodes' targets are left to them, or, once their lease has ended,
    /// taken over by the node loop. Returns how many targets it picked up.
    pub async fn recover(&self) -> Result<usize> {
        let me = self.config().node_name.as_str();
        let mut n = 0;
        let (mine, unclaimed): (Vec<_>, Vec<_>) = self
            .store()
            .unfinished_targets()
            .await?
            .into_iter()
            .filter(|t| t.server.as_deref().is_none_or(|s| s == me))
            .partition(|t| t.server.is_some());
        let mut targets = mine;
        targets.extend(self.served(unclaimed).await?);
        targets.sort_by_key(|t| t.id);
        let mut packages = super::nodes::Packages::new();
        for t in targets {
            let (d, pkg) = self.with_package(&mut packages, t.deployment_id).await?;
            // a rebooting target's machine is waited for again, then its task created
            // again at the step after the reboot
            let resume = matches!(t.state, TargetState::Running | TargetState::Rebooting);
            if self.spawn_driver(t, d, pkg, resume) {
                n += 1;
            }
        }
        Ok(n)
    }
}
