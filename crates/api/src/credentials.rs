//! Scanning credentials: `/credentials` takes a `drover_domain::credential::NewCredential`
//! and answers `Credential`s (never the secret); mappings say where one applies (admin
//! only): `POST /credentials/{id}/mappings` takes a [`Mapping`], `GET` lists the
//! credential's `drover_domain::credential::CredentialMapping`s, `DELETE
//! /credentials/{id}/mappings/{mapping}` removes one.

use crate::assets::AssetRef;
use serde::{Deserialize, Serialize};

/// A mapping request: exactly one of `asset`, `range` (CIDR or first-last), `domain`, or
/// `global: true` (an admin scopes the credential to every asset explicitly).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub global: bool,
    /// Lower goes first among the mappings of the same scope.
    #[serde(default)]
    pub priority: i64,
}

impl Mapping {
    pub fn global(priority: i64) -> Mapping {
        Mapping { global: true, priority, ..Default::default() }
    }
    pub fn to_asset(asset: AssetRef, priority: i64) -> Mapping {
        Mapping { asset: Some(asset), priority, ..Default::default() }
    }
    pub fn to_range(range: &str, priority: i64) -> Mapping {
        Mapping { range: Some(range.to_string()), priority, ..Default::default() }
    }
    pub fn to_domain(domain: &str, priority: i64) -> Mapping {
        Mapping { domain: Some(domain.to_string()), priority, ..Default::default() }
    }
}
