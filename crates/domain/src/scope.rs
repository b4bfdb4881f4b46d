//! Where an admin lets a credential be used (its mapping scopes), and the one rule for the
//! order credentials are tried on an asset.

use crate::ids::{AssetId, CredentialId, MappingId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// What a mapping covers. Only admins make mappings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Scope {
    /// One asset.
    Asset(AssetId),
    /// Assets whose address is an IP address in this range.
    IpRange(IpRange),
    /// Assets whose address is this DNS domain or a name under it.
    Domain(Domain),
    /// Every asset: an admin scoped the credential to everything explicitly.
    Global,
}

/// The facts of an asset a scope is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub id: AssetId,
    /// The address drover connects to (an IP address or a DNS name), as the operator
    /// gave it. The host name a machine reports about itself is deliberately not used:
    /// a hostile host could claim any name.
    pub address: &'a str,
}

impl Scope {
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Asset(_) => "asset",
            Scope::IpRange(_) => "ip_range",
            Scope::Domain(_) => "domain",
            Scope::Global => "global",
        }
    }

    /// Whether the mapping applies to the asset.
    pub fn covers(&self, t: Target<'_>) -> bool {
        match self {
            Scope::Asset(a) => *a == t.id,
            Scope::IpRange(r) => r.contains_address(t.address),
            Scope::Domain(d) => d.covers(t.address),
            Scope::Global => true,
        }
    }

    /// Sorts scopes: asset, then IP range (fewest addresses first), then domain (longest
    /// first), then global.
    fn rank(&self) -> (u8, u128) {
        match self {
            Scope::Asset(_) => (0, 0),
            Scope::IpRange(r) => (1, r.size()),
            Scope::Domain(d) => (2, u128::MAX - d.0.len() as u128),
            Scope::Global => (3, 0),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Asset(a) => write!(f, "asset {a}"),
            Scope::IpRange(r) => write!(f, "IP range {r}"),
            Scope::Domain(d) => write!(f, "domain {}", d.0),
            Scope::Global => f.write_str("every asset (global)"),
        }
    }
}

/// An inclusive range of IP addresses of one family, from a CIDR (`10.0.0.0/24`) or
/// first–last (`10.0.0.5-10.0.0.40`); shown as it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRange {
    first: IpAddr,
    last: IpAddr,
    text: String,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

impl IpRange {
    pub fn parse(s: &str) -> Result<IpRange, String> {
        let s = s.trim();
        let bad = |why: &str| {
            format!(
                "'{s}' is not an IP range ({why}): give a CIDR like 10.0.0.0/24 or first-last like 10.0.0.5-10.0.0.40"
            )
        };
        let (first, last) = if let Some((net, bits)) = s.split_once('/') {
            let net: IpAddr = net.trim().parse().map_err(|_| bad("bad address"))?;
            let bits: u32 = bits.trim().parse().map_err(|_| bad("bad prefix length"))?;
            let width = if net.is_ipv4() { 32 } else { 128 };
            if bits > width {
                return Err(bad("prefix longer than the address"));
            }
            let host_bits = width - bits;
            let mask: u128 = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
            let n = to_u128(net);
            if n & mask != 0 {
                return Err(bad("the address has bits set past the prefix"));
            }
            (net, from_u128(net, n | mask))
        } else if let Some((a, b)) = s.split_once('-') {
            let a: IpAddr = a.trim().parse().map_err(|_| bad("bad first address"))?;
            let b: IpAddr = b.trim().parse().map_err(|_| bad("bad last address"))?;
            if a.is_ipv4() != b.is_ipv4() {
                return Err(bad("the two ends are of different IP versions"));
            }
            if to_u128(a) > to_u128(b) {
                return Err(bad("the first address is after the last"));
            }
            (a, b)
        } else {
            return Err(bad("no '/' or '-'"));
        };
        Ok(IpRange { first, last, text: s.to_string() })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // an IPv4-mapped IPv6 address counts as the IPv4 one
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.first.is_ipv4() && (to_u128(self.first)..=to_u128(self.last)).contains(&to_u128(ip))
    }

    /// Whether `address` is an IP address in the range (a DNS name never is: it is not
    /// resolved for this).
    pub fn contains_address(&self, address: &str) -> bool {
        address.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| self.contains(ip))
    }

    /// Its first and last address as numbers.
    pub(crate) fn bounds(&self) -> (u128, u128) {
        (to_u128(self.first), to_u128(self.last))
    }

    pub fn is_ipv4(&self) -> bool {
        self.first.is_ipv4()
    }

    /// How many addresses it holds (saturating).
    pub fn size(&self) -> u128 {
        (to_u128(self.last) - to_u128(self.first)).saturating_add(1)
    }
}

/// The address numbered `n`, IPv4 or IPv6.
pub(crate) fn from_u128_like(v4: bool, n: u128) -> IpAddr {
    if v4 { IpAddr::V4(std::net::Ipv4Addr::from(n as u32)) } else { IpAddr::V6(std::net::Ipv6Addr::from(n)) }
}

fn from_u128(like: IpAddr, n: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(n as u32)),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(n)),
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for IpRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for IpRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IpRange::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A DNS domain, lower case without a leading or trailing dot: `corp.example` covers
/// `corp.example` and `web1.corp.example`, not `evilcorp.example`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Domain(String);

impl Domain {
    pub fn parse(s: &str) -> Result<Domain, String> {
        let d = s.trim().trim_start_matches("*.").trim_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if d.is_empty() || d.len() > 253 || !d.split('.').all(label_ok) {
            return Err(format!("'{s}' is not a DNS domain: give one like corp.example"));
        }
        if d.parse::<IpAddr>().is_ok() || d.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit())) {
            return Err(format!("'{s}' is an IP address, not a domain: map it with an IP range"));
        }
        Ok(Domain(d))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn covers(&self, address: &str) -> bool {
        let a = address.trim_end_matches('.').to_ascii_lowercase();
        a == self.0 || a.strip_suffix(&self.0).is_some_and(|head| head.ends_with('.'))
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Domain::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One mapping: the credential may be tried on assets the scope covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialMapping {
    /// None before it is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MappingId>,
    pub credential_id: CredentialId,
    pub scope: Scope,
    /// Lower goes first within the same scope.
    #[serde(default)]
    pub priority: i64,
}

/// The order credentials are tried on an asset, the one rule: the credential that last
/// worked on the asset first (when it is still mapped to it); then asset mappings, IP
/// ranges (fewest addresses first), domains (longest first), global mappings; within the
/// same scope lower priority first, then lower credential id. A credential mapped several
/// ways is tried once, at its first place.
pub fn credential_order(
    target: Target<'_>,
    mappings: &[CredentialMapping],
    last_worked: Option<CredentialId>,
) -> Vec<CredentialId> {
    let mut relevant: Vec<&CredentialMapping> = mappings.iter().filter(|m| m.scope.covers(target)).collect();
    relevant.sort_by_key(|m| (m.scope.rank(), m.priority, m.credential_id));
    let mut out: Vec<CredentialId> = Vec::new();
    if let Some(last) = last_worked
        && relevant.iter().any(|m| m.credential_id == last)
    {
        out.push(last);
    }
    for m in relevant {
        if !out.contains(&m.credential_id) {
            out.push(m.credential_id);
        }
    }
    out
}

#[cfg(test)]
#[path = "scope_tests.rs"]
mod tests;
