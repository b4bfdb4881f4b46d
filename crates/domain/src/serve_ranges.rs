//! The IP ranges a server node serves (`drover serve --serve-ranges`): the one rule that
//! says whether a node drives the target at an address.

use crate::scope::IpRange;
use std::fmt;

/// The ranges a node serves; none means every address (a node started without
/// `--serve-ranges`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeRanges(Vec<IpRange>);

impl ServeRanges {
    /// Every address.
    pub fn all() -> Self {
        ServeRanges(Vec::new())
    }

    /// Parses ranges given as a list, each item itself a comma-separated list of CIDRs
    /// (`10.1.0.0/16`) or first-last ranges (`10.0.0.5-10.0.0.40`); empty items are
    /// skipped, so no item (or only empty ones) means every address. The error names the
    /// range that is wrong and gives an example.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for item in items {
            for r in item.as_ref().split(',').map(str::trim).filter(|r| !r.is_empty()) {
                ranges.push(IpRange::parse(r)?);
            }
        }
        Ok(ServeRanges(ranges))
    }

    /// Whether it serves every address (no ranges given).
    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a node with these ranges drives the target at `address`: always without
    /// ranges; else only when it is an IP address inside one of them (a DNS name never
    /// is: it is not resolved for this).
    pub fn serves(&self, address: &str) -> bool {
        self.is_all() || self.0.iter().any(|r| r.contains_address(address))
    }
}

/// The ranges as stored and shown: comma-separated, as given; empty for every address.
impl fmt::Display for ServeRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<String> = self.0.iter().map(IpRange::to_string).collect();
        f.write_str(&texts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_ranges_every_address_is_served() {
        let all = ServeRanges::parse::<&str>(&[]).unwrap();
        assert!(all.is_all());
        assert!(all.serves("10.9.9.9") && all.serves("web1.corp.example") && all.serves("::1"));
        assert_eq!(all.to_string(), "");
        assert_eq!(ServeRanges::parse(&[" ", ""]).unwrap(), ServeRanges::all());
    }

    #[test]
    fn with_ranges_only_addresses_inside_them() {
        let r = ServeRanges::parse(&["10.1.0.0/16, 10.2.3.0/24", "192.168.0.5-192.168.0.9"]).unwrap();
        assert!(!r.is_all());
        for inside in ["10.1.0.1", "10.1.255.255", "10.2.3.7", "192.168.0.5", "192.168.0.9", "::ffff:10.1.2.3"] {
            assert!(r.serves(inside), "{inside} is served");
        }
        for outside in ["10.2.4.1", "10.0.255.255", "192.168.0.10", "web1.corp.example", "", "fe80::1"] {
            assert!(!r.serves(outside), "{outside} is not served");
        }
        assert_eq!(r.to_string(), "10.1.0.0/16,10.2.3.0/24,192.168.0.5-192.168.0.9");
        assert_eq!(ServeRanges::parse(&[r.to_string()]).unwrap(), r, "what is stored reads back the same");
    }

    #[test]
    fn a_bad_range_is_named_with_an_example() {
        let e = ServeRanges::parse(&["10.1.0.0/16,10.2.0.0/33"]).unwrap_err();
        assert!(e.contains("'10.2.0.0/33'") && e.contains("10.0.0.0/24"), "{e}");
        let e = ServeRanges::parse(&["lab"]).unwrap_err();
        assert!(e.contains("'lab'"), "{e}");
    }
}
