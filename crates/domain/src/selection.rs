//! Target selections: every way of choosing the assets of a deployment — asset ids, a
//! search of the asset list, an overview entry, a group, a report — as one value that a
//! manual deployment, a deployment configuration and a deployment's record share. The
//! engine resolves it to assets when a deployment starts (`Engine::resolve_selection`).
//!
//! Also the overviews: the value of an asset under each overview kind (its domain, OS,
//! type, /24 subnet), computed here so that counting and resolving agree.

use crate::asset::Asset;
use crate::asset_search::{AssetColumn, AssetSearch};
use crate::ids::AssetId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How the assets of a deployment were (or are to be) chosen. JSON is tagged by `kind`:
/// `{"kind":"assets","ids":[1,2]}`, `{"kind":"search","filters":{"os":"Debian"}}`,
/// `{"kind":"overview","overview":"os","value":"Debian 12"}`, `{"kind":"group","group":"web"}`,
/// `{"kind":"report","report":"software-missing","params":{"software":"curl"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Selection {
    Assets {
        ids: Vec<AssetId>,
    },
    /// Every asset whose columns contain these texts (ignoring case), as the asset list's search.
    Search {
        filters: BTreeMap<String, String>,
    },
    Overview {
        overview: OverviewKind,
        value: String,
    },
    /// A group by name or id.
    Group {
        group: String,
    },
    /// A report by name or id, with its parameters; its result needs an `AssetID` column.
    Report {
        report: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        params: BTreeMap<String, String>,
    },
}

impl Selection {
    /// The asset search of a `Search` selection; the message names a bad column.
    pub fn search(filters: &BTreeMap<String, String>) -> Result<AssetSearch, String> {
        let mut s = AssetSearch { limit: i64::MAX, ..AssetSearch::default() };
        for (k, v) in filters {
            let c = AssetColumn::parse(k)
                .filter(|c| c.is_text())
                .ok_or_else(|| format!("search column '{k}' is not one of name, address, hostname, os, arch"))?;
            s.filters.push((c, v.clone()));
        }
        if s.filters.iter().all(|(_, v)| v.trim().is_empty()) {
            return Err("a search selection needs at least one non-empty filter (e.g. os=Debian)".into());
        }
        Ok(s)
    }

    /// Parses `col=text[,col=text…]` as a search selection (the CLI's `--search`).
    pub fn parse_search(text: &str) -> Result<Selection, String> {
        let mut filters = BTreeMap::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) =
                part.split_once('=').ok_or_else(|| format!("search '{part}' is not column=text (e.g. os=Debian)"))?;
            filters.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        Self::search(&filters)?;
        Ok(Selection::Search { filters })
    }

    /// Parses `kind=value` as an overview selection (the CLI's `--overview os=Debian`).
    pub fn parse_overview(text: &str) -> Result<Selection, String> {
        let (k, v) =
            text.split_once('=').ok_or_else(|| format!("overview '{text}' is not kind=value (e.g. os=Debian)"))?;
        let overview = OverviewKind::parse(k.trim())
            .ok_or_else(|| format!("overview kind '{k}' is not one of domain, os, type, subnet"))?;
        Ok(Selection::Overview { overview, value: v.trim().to_string() })
    }
}

/// `group 'web servers'`, `search os=Debian`, … (a deployment adds "(N assets)").
impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::Assets { ids } => write!(f, "{} chosen asset(s)", ids.len()),
            Selection::Search { filters } => {
                let parts: Vec<String> = filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "search {}", parts.join(","))
            }
            Selection::Overview { overview, value } => write!(f, "overview {}='{value}'", overview.as_str()),
            Selection::Group { group } => write!(f, "group '{group}'"),
            Selection::Report { report, params } => {
                write!(f, "report '{report}'")?;
                for (k, v) in params {
                    write!(f, " {k}='{v}'")?;
                }
                Ok(())
            }
        }
    }
}

/// What a selection's record on a deployment says: "group 'web servers' (12 assets)".
pub fn label(selection: &Selection, assets: usize) -> String {
    format!("{selection} ({assets} asset{})", if assets == 1 { "" } else { "s" })
}

/// The ways the asset overview counts assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverviewKind {
    /// The DNS domain of the host name (or a non-IP address): what follows its first dot.
    Domain,
    Os,
    /// server / desktop / vm / container as the last scan told
    /// ([`crate::machine::machine_type`]); `unknown` for assets never scanned.
    Type,
    /// The /24 of an IPv4 address (`10.1.2.0/24`).
    Subnet,
}

/// The entry of assets an overview cannot place (no OS known, no IPv4 address, …).
pub const UNKNOWN: &str = "unknown";

impl OverviewKind {
    pub const ALL: [OverviewKind; 4] = [Self::Domain, Self::Os, Self::Type, Self::Subnet];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Os => "os",
            Self::Type => "type",
            Self::Subnet => "subnet",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    /// The entry `a` counts in ([`UNKNOWN`] when facts do not tell).
    pub fn value_of(self, a: &Asset) -> String {
        let v = match self {
            Self::Domain => domain_of(a.hostname.as_deref(), &a.address),
            Self::Os => a.os.clone().filter(|o| !o.trim().is_empty()),
            Self::Type => a.facts.machine_type.map(|t| t.as_str().to_string()),
            Self::Subnet => subnet_of(&a.address),
        };
        v.unwrap_or_else(|| UNKNOWN.to_string())
    }
}

/// The domain of a host: the host name's part after its first dot, else the address's
/// when the address is a name (not an IP address); lower case.
pub fn domain_of(hostname: Option<&str>, address: &str) -> Option<String> {
    let after_dot = |s: &str| s.split_once('.').map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase());
    hostname
        .and_then(after_dot)
        .filter(|d| !d.is_empty())
        .or_else(|| if address.parse::<std::net::IpAddr>().is_ok() { None } else { after_dot(address) })
        .filter(|d| !d.is_empty())
}

/// `10.1.2.0/24` for an IPv4 address.
pub fn subnet_of(address: &str) -> Option<String> {
    let ip: std::net::Ipv4Addr = address.parse().ok()?;
    let [a, b, c, _] = ip.octets();
    Some(format!("{a}.{b}.{c}.0/24"))
}

/// One entry of an overview: its value, how many assets it holds, and the selection of
/// exactly those assets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewEntry {
    pub value: String,
    pub count: usize,
    pub selection: Selection,
}

/// Counts `assets` by `kind`, biggest entry first (then by value).
pub fn overview(kind: OverviewKind, assets: &[Asset]) -> Vec<OverviewEntry> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in assets {
        *counts.entry(kind.value_of(a)).or_default() += 1;
    }
    let mut out: Vec<OverviewEntry> = counts
        .into_iter()
        .map(|(value, count)| OverviewEntry {
            selection: Selection::Overview { overview: kind, value: value.clone() },
            value,
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: i64, address: &str, hostname: Option<&str>, os: Option<&str>) -> Asset {
        Asset {
            id: AssetId(id),
            name: format!("a{id}"),
            address: address.into(),
            ssh_port: 22,
            macs: vec![],
            host_key: None,
            host_key_fingerprint: None,
            hostname: hostname.map(Into::into),
            os: os.map(Into::into),
            arch: None,
            last_seen_ms: None,
            created_ms: 0,
            facts: Default::default(),
        }
    }

    #[test]
    fn overviews_count_by_domain_os_and_subnet() {
        let assets = [
            asset(1, "10.0.1.5", Some("web1.example.com"), Some("Debian 12")),
            asset(2, "10.0.1.9", Some("web2.Example.com"), Some("Debian 12")),
            asset(3, "db.corp.lan", None, None),
        ];
        let os = overview(OverviewKind::Os, &assets);
        assert_eq!((os[0].value.as_str(), os[0].count), ("Debian 12", 2));
        assert_eq!((os[1].value.as_str(), os[1].count), (UNKNOWN, 1));
        let dom = overview(OverviewKind::Domain, &assets);
        assert_eq!((dom[0].value.as_str(), dom[0].count), ("example.com", 2));
        assert_eq!(dom[1].value, "corp.lan");
        let net = overview(OverviewKind::Subnet, &assets);
        assert_eq!((net[0].value.as_str(), net[0].count), ("10.0.1.0/24", 2));
        assert_eq!(overview(OverviewKind::Type, &assets)[0].count, 3);
        assert_eq!(os[0].selection, Selection::Overview { overview: OverviewKind::Os, value: "Debian 12".into() });
    }

    #[test]
    fn selections_parse_and_read_back() {
        let s = Selection::parse_search("os=Debian, name=web").unwrap();
        assert_eq!(s.to_string(), "search name=web,os=Debian");
        assert!(Selection::parse_search("colour=red").unwrap_err().contains("'colour'"));
        assert!(Selection::parse_overview("os").is_err());
        let g = Selection::Group { group: "web servers".into() };
        assert_eq!(label(&g, 12), "group 'web servers' (12 assets)");
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(json, r#"{"kind":"group","group":"web servers"}"#);
        assert_eq!(serde_json::from_str::<Selection>(&json).unwrap(), g);
    }
}
