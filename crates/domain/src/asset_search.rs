//! Searching the asset list: a case-insensitive substring filter per column, a sort
//! column and direction, and a page. The store runs it as SQL.

use serde::{Deserialize, Serialize};

/// The columns the asset list can be filtered and sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetColumn {
    #[default]
    Name,
    Address,
    Hostname,
    Os,
    Arch,
    Domain,
    LastSeen,
}

impl AssetColumn {
    pub const ALL: [AssetColumn; 7] =
        [Self::Name, Self::Address, Self::Hostname, Self::Os, Self::Arch, Self::Domain, Self::LastSeen];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Address => "address",
            Self::Hostname => "hostname",
            Self::Os => "os",
            Self::Arch => "arch",
            Self::Domain => "domain",
            Self::LastSeen => "last_seen",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether a substring filter applies to it (text columns).
    pub fn is_text(self) -> bool {
        self != Self::LastSeen
    }
}

/// A search of the asset list. Empty filters match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetSearch {
    /// Per text column, a substring the column must contain (ignoring case).
    pub filters: Vec<(AssetColumn, String)>,
    pub sort: AssetColumn,
    pub descending: bool,
    pub offset: i64,
    /// At most this many assets (the store clamps it to 1..=10 000 for a page).
    pub limit: i64,
    /// Only assets with an installed package whose name starts with this (ignoring ASCII
    /// case; a trailing `*` is allowed), which an index serves; `*text`: whose name
    /// contains `text` (ignoring case), which reads every software row and is slow on a
    /// large inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
}

impl AssetSearch {
    /// The filter on `column`, if any.
    pub fn filter(&self, column: AssetColumn) -> Option<&str> {
        self.filters.iter().find(|(c, v)| *c == column && !v.trim().is_empty()).map(|(_, v)| v.as_str())
    }
}

/// How many assets a search matches: counted exactly up to [`AssetCount::EXACT_UP_TO`];
/// past that, `n` is that bound and `exact` false ("more than 10,000"). Counting 75,000
/// matches exactly costs more than a page of them, and nobody pages that far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetCount {
    pub n: i64,
    pub exact: bool,
}

impl AssetCount {
    /// Matches are counted exactly up to this many.
    pub const EXACT_UP_TO: i64 = 10_000;

    /// The count of `counted` matches when counting stopped past `up_to`.
    pub fn bounded(counted: i64, up_to: i64) -> AssetCount {
        if counted > up_to { AssetCount { n: up_to, exact: false } } else { AssetCount { n: counted, exact: true } }
    }
}
