//! Overviews, groups and reports: `/overviews/{kind}`, `/groups…`, `/reports…`, and the
//! file form groups and reports export to and import from.

use crate::assets::AssetRef;
use drover_domain::group::{Group, Member, Rule};
use drover_domain::report::{Report, ReportResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A dynamic group's rule as the text syntax (`os starts-with Debian and software nginx < 1.24`)
/// or as JSON (`{"and": [...]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleSpec {
    Text(String),
    Json(Rule),
}

impl RuleSpec {
    /// The rule; a text that does not parse says where.
    pub fn rule(&self) -> Result<Rule, String> {
        match self {
            RuleSpec::Text(t) => Rule::parse(t).map_err(|e| e.to_string()),
            RuleSpec::Json(r) => {
                r.validate()?;
                Ok(r.clone())
            }
        }
    }
}

/// `POST /groups`, and a group's file (`drover group export/import`): with a rule it is
/// dynamic; without, static with `members` (asset names or ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<AssetRef>,
}

/// A group in a list: its kind, its rule as text, and how many members it has now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    #[serde(flatten)]
    pub group: Group,
    /// `static` or `dynamic`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_text: Option<String>,
    pub member_count: usize,
}

/// `GET /groups/{g}` and `/groups/{g}/members`: the group and its members now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub summary: GroupSummary,
    pub members: Vec<Member>,
}

/// `POST /groups/{g}/members` and `DELETE` of it: one asset of a static group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRequest {
    pub asset: AssetRef,
}

/// `POST /reports/{r}/run`: the parameters by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// A report's result, and whether it can be deployed to (it has an `AssetID` column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRun {
    pub report: Report,
    #[serde(flatten)]
    pub result: ReportResult,
    pub deployable: bool,
}
