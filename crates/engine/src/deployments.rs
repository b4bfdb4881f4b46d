//! Reading deployments: the list and one deployment with its targets. Starting,
//! cancelling and relaunching live in `deploy`.

use crate::Engine;
use crate::error::Result;
use drover_api::deployments::{DeploymentQuery, DeploymentView};
use drover_domain::deployment::Deployment;
use drover_domain::ids::DeploymentId;

/// The most deployments one list returns.
const MAX_DEPLOYMENTS: i64 = 10_000;

impl Engine {
    /// The newest deployments first, at most `q.limit` (1 to 10 000).
    pub async fn list_deployments(&self, q: &DeploymentQuery) -> Result<Vec<Deployment>> {
        Ok(self.store().list_deployments(q.limit.clamp(1, MAX_DEPLOYMENTS)).await?)
    }

    /// A deployment and the state of each of its targets.
    pub async fn deployment_view(&self, id: DeploymentId) -> Result<DeploymentView> {
        let deployment = self.store().deployment(id).await?;
        let targets = self.store().targets_of(deployment.id).await?;
        Ok(DeploymentView { deployment, targets })
    }
}
