//! Assets: `/assets` answers `drover_domain::asset::Asset`s; adding one takes [`AddAsset`].

use drover_domain::asset::NewAsset;
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
