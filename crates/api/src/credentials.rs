//! Scanning credentials: `/credentials` takes a `drover_domain::credential::NewCredential`
//! and answers `Credential`s (never the secret); mappings say where one applies.

use crate::assets::AssetRef;
use serde::{Deserialize, Serialize};

/// `POST /credentials/{id}/mappings`: map the credential to one asset, or, without
/// `asset`, to every asset (a global mapping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetRef>,
    /// Lower goes first among the mappings of the same kind.
    #[serde(default)]
    pub priority: i64,
}

impl Mapping {
    pub fn global(priority: i64) -> Mapping {
        Mapping { asset: None, priority }
    }
    pub fn to_asset(asset: AssetRef, priority: i64) -> Mapping {
        Mapping { asset: Some(asset), priority }
    }
}
