//! Assets: `/assets` answers `drover_domain::asset::Asset`s; adding one takes [`AddAsset`].

use drover_domain::asset::NewAsset;
use drover_domain::asset_search::{AssetColumn, AssetSearch};
use serde::{Deserialize, Serialize};

/// An asset named by id or by name, as users type them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AssetRef {
    Id(i64),
    Name(String),
}

impl AssetRef {
    /// `"12"` is asset 12; anything else a name.
    pub fn parse(s: &str) -> AssetRef {
        crate::id_or_name(s, AssetRef::Id, AssetRef::Name)
    }
}

/// `POST /assets`: the asset, and optionally a credential to map to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddAsset {
    #[serde(flatten)]
    pub asset: NewAsset,
    /// Name of a credential to map to the new asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `GET /assets?name=…&address=…&hostname=…&os=…&arch=…&domain=…&software=…&sort=name&dir=asc&offset=0&limit=50`:
/// one page of a search of the asset list (filters are case-insensitive substrings).
/// Without any of these parameters, `GET /assets` answers the whole list as before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The DNS domain a scan found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Assets with an installed package whose name starts with this (ignoring ASCII case;
    /// `openssl` also finds `openssl-dev`): fast, an index serves it. `*ssl`: whose name
    /// contains `ssl` anywhere: slow on a large inventory (every software row is read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// `name` (default), `address`, `hostname`, `os`, `arch`, `domain` or `last_seen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Page size, 1 to 1000 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// The default page size of an asset search.
pub const DEFAULT_PAGE: i64 = 50;
/// The largest page of an asset search.
pub const MAX_PAGE: i64 = 1000;

impl AssetQuery {
    /// Whether no parameter is given (the plain list).
    pub fn is_empty(&self) -> bool {
        *self == AssetQuery::default()
    }

    /// The search it asks for; the message names a bad parameter.
    pub fn to_search(&self) -> Result<AssetSearch, String> {
        let sort = match self.sort.as_deref().filter(|s| !s.is_empty()) {
            None => AssetColumn::Name,
            Some(s) => AssetColumn::parse(s).ok_or_else(|| {
                format!("sort '{s}' is not a column: use name, address, hostname, os, arch, domain or last_seen")
            })?,
        };
        let descending = match self.dir.as_deref().filter(|s| !s.is_empty()) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(d) => return Err(format!("dir '{d}' must be asc or desc")),
        };
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(format!("limit {limit} must be 1 to {MAX_PAGE}"));
        }
        let filters = [
            (AssetColumn::Name, &self.name),
            (AssetColumn::Address, &self.address),
            (AssetColumn::Hostname, &self.hostname),
            (AssetColumn::Os, &self.os),
            (AssetColumn::Arch, &self.arch),
            (AssetColumn::Domain, &self.domain),
        ]
        .into_iter()
        .filter_map(|(c, v)| v.as_ref().filter(|v| !v.trim().is_empty()).map(|v| (c, v.clone())))
        .collect();
        let software = self.software.clone().filter(|s| !s.trim().is_empty());
        Ok(AssetSearch { filters, sort, descending, offset: self.offset.unwrap_or(0).max(0), limit, software })
    }
}

/// The answer of an asset search: how many match, and the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetPage {
    /// How many assets match when `total_exact`; otherwise more than this many (matches
    /// are counted exactly up to 10,000).
    pub total: i64,
    /// False when more than `total` assets match.
    #[serde(default = "exact")]
    pub total_exact: bool,
    pub assets: Vec<drover_domain::asset::Asset>,
}

/// An answer without `total_exact` (an older server) counted every match.
fn exact() -> bool {
    true
}
