//! Packages: `/packages` answers `drover_domain::package::Package`s; an import posts the
//! bundle (`.tar.gz`) as the body, an export answers one.

use serde::{Deserialize, Serialize};

/// A package named by id, or by name (with a version elsewhere, else the newest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PackageRef {
    Id(i64),
    Name(String),
}

impl PackageRef {
    /// `"12"` is package 12; anything else a name.
    pub fn parse(s: &str) -> PackageRef {
        crate::id_or_name(s, PackageRef::Id, PackageRef::Name)
    }
}
