//! Scan targets: what an inventory scan covers (an IP range, one address, a host name),
//! when it runs (`ScanSchedule`, pure next-run arithmetic with time as an argument), and
//! the lazy walk over a range's addresses (a /16 is never collected into memory).

use crate::ids::ScanTargetId;
use crate::schedule::time_zone;
use crate::scope::IpRange;
use jiff::Timestamp;
use jiff::civil::Time;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The most addresses one scan target may cover (a /16).
pub const MAX_ADDRESSES: u128 = 65_536;

/// What a scan target covers, as the admin gave it: `10.0.0.0/24`, `10.0.0.5-10.0.0.40`,
/// `10.0.0.7` or `web1.corp.example`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanSpec {
    Range(IpRange),
    Address(IpAddr),
    HostName(String),
}

impl ScanSpec {
    pub fn parse(s: &str) -> Result<ScanSpec, String> {
        let s = s.trim();
        if s.contains('/') || s.contains('-') && s.split('-').all(|p| p.trim().parse::<IpAddr>().is_ok()) {
            let r = IpRange::parse(s)?;
            if r.size() > MAX_ADDRESSES {
                return Err(format!(
                    "range '{s}' holds {} addresses; a scan target covers at most {MAX_ADDRESSES} (a /16): split it",
                    r.size()
                ));
            }
            return Ok(ScanSpec::Range(r));
        }
        if let Ok(ip) = s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Ok(ScanSpec::Address(ip));
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !l.starts_with('-')
        };
        if s.is_empty() || s.len() > 253 || !s.split('.').all(label_ok) {
            return Err(format!(
                "'{s}' is not a scan target: give a CIDR (10.0.0.0/24), a range (10.0.0.5-10.0.0.40), an IP address or a host name"
            ));
        }
        Ok(ScanSpec::HostName(s.to_ascii_lowercase()))
    }

    /// Every address it covers, lazily: host names as given, range addresses one by one.
    pub fn addresses(&self) -> Box<dyn Iterator<Item = String> + Send + '_> {
        match self {
            ScanSpec::Range(r) => Box::new(r.iter().map(|ip| ip.to_string())),
            ScanSpec::Address(ip) => Box::new(std::iter::once(ip.to_string())),
            ScanSpec::HostName(h) => Box::new(std::iter::once(h.clone())),
        }
    }

    /// How many addresses it covers.
    pub fn size(&self) -> u128 {
        match self {
            ScanSpec::Range(r) => r.size(),
            _ => 1,
        }
    }
}

impl std::fmt::Display for ScanSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanSpec::Range(r) => write!(f, "{r}"),
            ScanSpec::Address(ip) => write!(f, "{ip}"),
            ScanSpec::HostName(h) => f.write_str(h),
        }
    }
}

/// When a scan target runs by itself. JSON: `{"type": "manual"}`,
/// `{"type": "every_minutes", "n": 30}`, `{"type": "every_hours", "n": 6}`,
/// `{"type": "daily", "at": "02:30", "time_zone": "Europe/Amsterdam"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScanSchedule {
    #[default]
    Manual,
    EveryMinutes {
        n: u32,
    },
    EveryHours {
        n: u32,
    },
    Daily {
        /// Local time `HH:MM`.
        at: String,
        /// IANA time zone, e.g. `Europe/Amsterdam` (default UTC).
        #[serde(default = "utc")]
        time_zone: String,
    },
}

fn utc() -> String {
    "UTC".into()
}

impl ScanSchedule {
    /// Parses the CLI form: `manual`, `every 30m`, `every 6h`, `daily 02:30 [ZONE]`.
    pub fn parse(s: &str) -> Result<ScanSchedule, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let bad = || format!("schedule '{s}': use manual, 'every 30m', 'every 6h' or 'daily 02:30 [Europe/Amsterdam]'");
        let sched = match words.as_slice() {
            ["manual"] => ScanSchedule::Manual,
            ["every", n] => {
                let (num, unit) = n.split_at(n.len().saturating_sub(1));
                let n: u32 = num.parse().map_err(|_| bad())?;
                match unit {
                    "m" => ScanSchedule::EveryMinutes { n },
                    "h" => ScanSchedule::EveryHours { n },
                    _ => return Err(bad()),
                }
            }
            ["daily", at] => ScanSchedule::Daily { at: at.to_string(), time_zone: utc() },
            ["daily", at, tz] => ScanSchedule::Daily { at: at.to_string(), time_zone: tz.to_string() },
            _ => return Err(bad()),
        };
        sched.validate()?;
        Ok(sched)
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            ScanSchedule::Manual => Ok(()),
            ScanSchedule::EveryMinutes { n } if !(5..=100_000).contains(n) => {
                Err(format!("every {n} minutes: give 5 to 100000 minutes"))
            }
            ScanSchedule::EveryHours { n } if !(1..=10_000).contains(n) => {
                Err(format!("every {n} hours: give 1 to 10000 hours"))
            }
            ScanSchedule::Daily { at, time_zone: tz } => {
                at.parse::<Time>().map_err(|_| format!("daily at '{at}': give a local time HH:MM"))?;
                time_zone(tz).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// The first run strictly after `after_ms` (epoch ms); None for manual scans.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            ScanSchedule::Manual => None,
            ScanSchedule::EveryMinutes { n } => Some(after_ms + i64::from(*n) * 60_000),
            ScanSchedule::EveryHours { n } => Some(after_ms + i64::from(*n) * 3_600_000),
            ScanSchedule::Daily { at, time_zone: tz } => {
                let tz = time_zone(tz).ok()?;
                let at: Time = at.parse().ok()?;
                let mut day = tz.to_datetime(Timestamp::from_millisecond(after_ms).ok()?).date();
                for _ in 0..3 {
                    let t = crate::schedule::local_to_instant(&tz, day.to_datetime(at))?.as_millisecond();
                    if t > after_ms {
                        return Some(t);
                    }
                    day = day.tomorrow().ok()?;
                }
                None
            }
        }
    }
}

impl std::fmt::Display for ScanSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanSchedule::Manual => f.write_str("manual"),
            ScanSchedule::EveryMinutes { n } => write!(f, "every {n}m"),
            ScanSchedule::EveryHours { n } => write!(f, "every {n}h"),
            ScanSchedule::Daily { at, time_zone } => write!(f, "daily {at} {time_zone}"),
        }
    }
}

/// What an admin gives to add a scan target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewScanTarget {
    pub name: String,
    /// CIDR, first-last range, IP address or host name.
    pub target: String,
    #[serde(default = "default_port")]
    pub ssh_port: u16,
    #[serde(default)]
    pub schedule: ScanSchedule,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_port() -> u16 {
    22
}
fn yes() -> bool {
    true
}

impl NewScanTarget {
    /// Checks it; the message names the field.
    pub fn validate(&mut self) -> Result<ScanSpec, String> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.len() > 200 || self.name.chars().any(char::is_control) {
            return Err("scan target name must be 1 to 200 characters, without control characters".into());
        }
        if crate::package::is_all_digits(&self.name) {
            return Err(format!("scan target name '{}' must not be all digits: it would read as an id", self.name));
        }
        if self.ssh_port == 0 {
            return Err("ssh_port must be 1 to 65535".into());
        }
        self.schedule.validate()?;
        let spec = ScanSpec::parse(&self.target)?;
        self.target = spec.to_string();
        Ok(spec)
    }
}

/// A stored scan target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanTarget {
    pub id: ScanTargetId,
    #[serde(flatten)]
    pub target: NewScanTarget,
    /// When its schedule runs it next (None: manual or disabled).
    pub next_scan_ms: Option<i64>,
    pub last_scan_ms: Option<i64>,
    /// What its last finished scan found (None until one finishes).
    #[serde(default)]
    pub last_result: Option<ScanCounts>,
    pub created_ms: i64,
}

/// What one scan found: addresses probed, hosts that answered, hosts whose scan failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanCounts {
    pub probed: u64,
    pub answered: u64,
    pub failed: u64,
}

impl IpRange {
    /// Its addresses, first to last, one at a time.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + Send + '_ {
        let (first, last) = self.bounds();
        (first..=last).map(move |n| crate::scope::from_u128_like(self.is_ipv4(), n))
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
