//! Target selections: the ONE place a [`Selection`] becomes assets
//! ([`Engine::resolve_selection`], used by manual deployments and by configurations at
//! each run), and the asset overviews whose entries are selections.

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_api::assets::AssetRef;
use drover_domain::asset::Asset;
use drover_domain::asset_search::{AssetColumn, AssetSearch};
use drover_domain::ids::AssetId;
use drover_domain::selection::{OverviewEntry, OverviewKind, Selection, UNKNOWN, overview};
use drover_store::ReportLimits;
use std::collections::HashSet;

impl Engine {
    /// The assets a selection holds now (id and name), in its order, without duplicates.
    /// An empty result is not an error here; deploying refuses it.
    pub async fn resolve_selection(&self, s: &Selection) -> Result<Vec<(AssetId, String)>> {
        let mut out: Vec<(AssetId, String)> = Vec::new();
        // a set beside the list: tens of thousands of members are no quadratic search
        let mut seen = HashSet::new();
        let mut push = |id: AssetId, name: String| {
            if seen.insert(id) {
                out.push((id, name));
            }
        };
        match s {
            Selection::Assets { ids } => {
                for id in ids {
                    let a = self.resolve_asset(&AssetRef::Id(id.0)).await?;
                    push(a.id, a.name);
                }
            }
            Selection::Search { filters } => {
                let search = Selection::search(filters).map_err(EngineError::Invalid)?;
                for (id, name) in self.store().assets_matching(&search).await? {
                    push(id, name);
                }
            }
            Selection::Overview { overview, value } => {
                for a in self.overview_candidates(*overview, value).await? {
                    if overview.value_of(&a).eq_ignore_ascii_case(value) {
                        push(a.id, a.name);
                    }
                }
            }
            Selection::Group { group } => {
                let g = self.resolve_group(group).await?;
                for m in self.store().group_members(&g).await? {
                    push(m.asset_id, m.name);
                }
            }
            Selection::Report { report, params } => {
                let r = self.resolve_report(report).await?;
                let binds = r.report.bind_values(params, now_ms()).map_err(EngineError::Invalid)?;
                let result = self.store().run_report_sql(&r.report.sql, &binds, ReportLimits::default()).await?;
                if result.truncated {
                    return Err(EngineError::Invalid(format!(
                        "report '{}' answers more than {} rows: narrow it before deploying to it",
                        r.report.name,
                        result.rows.len()
                    )));
                }
                if result.rows.is_empty() {
                    return Ok(out);
                }
                let col = result.asset_column().ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "report '{}' has no AssetID column, so it cannot be deployed to: select AssetID from a report view",
                        r.report.name
                    ))
                })?;
                for row in &result.rows {
                    let Some(id) = row.get(col).and_then(serde_json::Value::as_i64) else { continue };
                    match self.store().asset(AssetId(id)).await {
                        Ok(a) => push(a.id, a.name),
                        Err(drover_store::StoreError::NotFound(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Assets that may be in the overview entry `value` of `kind`, by name: a superset
    /// found in SQL by a substring every member's columns hold (its OS; `.domain` in its
    /// host name or address; `a.b.c.` in its address), which the caller narrows with
    /// [`OverviewKind::value_of`]. The whole list for `unknown` and for values with
    /// non-ASCII letters (whose case SQL's `LOWER` folds differently per backend).
    async fn overview_candidates(&self, kind: OverviewKind, value: &str) -> Result<Vec<Asset>> {
        let filtered =
            |column: AssetColumn, text: String| AssetSearch { filters: vec![(column, text)], ..AssetSearch::default() };
        let value = value.trim();
        if value.eq_ignore_ascii_case(UNKNOWN) || !value.is_ascii() || value.is_empty() {
            return Ok(self.store().list_assets().await?);
        }
        Ok(match kind {
            OverviewKind::Os => self.store().assets_filtered(&filtered(AssetColumn::Os, value.into())).await?,
            OverviewKind::Domain => {
                // the host name's domain, else the address's: either holds `.domain`
                let dotted = format!(".{value}");
                let mut all = self.store().assets_filtered(&filtered(AssetColumn::Hostname, dotted.clone())).await?;
                let seen: HashSet<AssetId> = all.iter().map(|a| a.id).collect();
                let by_address = self.store().assets_filtered(&filtered(AssetColumn::Address, dotted)).await?;
                all.extend(by_address.into_iter().filter(|a| !seen.contains(&a.id)));
                all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
                all
            }
            OverviewKind::Subnet => match value.strip_suffix("0/24") {
                Some(net) => self.store().assets_filtered(&filtered(AssetColumn::Address, net.into())).await?,
                None => Vec::new(),
            },
            // few assets per type value would not make a narrower SQL filter worth it
            OverviewKind::Type => self.store().list_assets().await?,
        })
    }

    /// The assets counted by `kind`, biggest entry first; each entry carries its selection.
    pub async fn overview(&self, kind: OverviewKind) -> Result<Vec<OverviewEntry>> {
        Ok(overview(kind, &self.store().list_assets().await?))
    }
}
