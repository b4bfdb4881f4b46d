//! Searching the asset list a page at a time (the console's list and
//! `GET /api/v1/assets?…`), and resolving a whole search to assets for a deployment.

use crate::Engine;
use crate::error::{EngineError, Result};
use drover_api::assets::{AssetPage, AssetQuery, AssetRef};

impl Engine {
    /// One page of the assets a query matches, with the number of all matches (exact up
    /// to 10,000; past that, "more than 10,000").
    pub async fn search_assets(&self, q: &AssetQuery) -> Result<AssetPage> {
        let search = q.to_search().map_err(EngineError::Invalid)?;
        let (total, assets) = self.store().search_assets(&search).await?;
        Ok(AssetPage { total: total.n, total_exact: total.exact, assets })
    }

    /// Every asset the query's filters match, whatever its page: what "all results of
    /// this search" deploys to.
    pub async fn assets_matching(&self, q: &AssetQuery) -> Result<Vec<AssetRef>> {
        let search = q.to_search().map_err(EngineError::Invalid)?;
        Ok(self.store().assets_matching(&search).await?.into_iter().map(|(id, _)| AssetRef::Id(id.0)).collect())
    }
}
