//! Groups of assets: static (explicit members) or dynamic (a [`Rule`] resolved whenever
//! the group is used), and the file form they export to and import from.

mod rule;

pub use rule::{Field, Rule, RuleError, TextOp, VersionTest};

use crate::ids::AssetId;
use serde::{Deserialize, Serialize};

/// What creating (or importing) a group takes. A group with a rule is dynamic; one
/// without is static and has explicit members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
}

impl NewGroup {
    /// Checks the name and the rule; the message names the field.
    pub fn validate(&mut self) -> Result<(), String> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.len() > 200 || self.name.chars().any(char::is_control) {
            return Err("group name must be 1 to 200 characters without control characters".into());
        }
        if crate::package::is_all_digits(&self.name) {
            return Err(format!("group name '{}' must not be all digits: it would read as a group id", self.name));
        }
        if let Some(r) = &self.rule {
            r.validate().map_err(|e| format!("rule: {e}"))?;
        }
        Ok(())
    }
}

/// A stored group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: crate::ids::GroupId,
    pub name: String,
    pub description: String,
    /// `None`: a static group.
    pub rule: Option<Rule>,
    pub created_ms: i64,
}

impl Group {
    pub fn is_dynamic(&self) -> bool {
        self.rule.is_some()
    }

    /// `"dynamic"` or `"static"`.
    pub fn kind(&self) -> &'static str {
        if self.is_dynamic() { "dynamic" } else { "static" }
    }
}

/// A static group's member, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub asset_id: AssetId,
    pub name: String,
}
