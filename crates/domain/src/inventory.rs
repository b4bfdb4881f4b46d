//! What a scan learns about a machine (`ScanFacts`), what an asset keeps of it
//! (`AssetFacts`), the identity rule that finds the asset a scanned machine is (machine
//! id, then MAC, then address) and the software diff kept as history. Scanned text is
//! untrusted: it is kept as is and never interpreted here.

use crate::ids::AssetId;
use crate::machine::MachineType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A network interface with its addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    /// Lower case `aa:bb:cc:dd:ee:ff`; None for interfaces without one.
    pub mac: Option<String>,
    /// Addresses with their prefix, e.g. `10.0.0.5/24`.
    pub addresses: Vec<String>,
}

/// A mounted file system.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Disk {
    pub mount: String,
    pub size_bytes: i64,
    pub free_bytes: i64,
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Software {
    pub name: String,
    pub version: String,
}

/// How a package changed between two scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Installed,
    Removed,
    VersionChanged,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Installed => "installed",
            ChangeKind::Removed => "removed",
            ChangeKind::VersionChanged => "version_changed",
        }
    }
    pub fn parse(s: &str) -> Option<ChangeKind> {
        [ChangeKind::Installed, ChangeKind::Removed, ChangeKind::VersionChanged].into_iter().find(|k| k.as_str() == s)
    }
}

/// One line of an asset's software history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareChange {
    pub name: String,
    pub kind: ChangeKind,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
    /// The scan that saw it.
    pub at_ms: i64,
}

/// Everything a scan learns about a machine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScanFacts {
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    pub domain: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub kernel: Option<String>,
    pub arch: Option<String>,
    pub cpu_model: Option<String>,
    pub cpu_count: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub disks: Vec<Disk>,
    pub last_boot_ms: Option<i64>,
    /// Logged-on user names, each once.
    pub users: Vec<String>,
    /// When each logged-on user's earliest session began (epoch ms), for the users whose
    /// login time the host told (`who`); the others count from the scan time.
    #[serde(default)]
    pub user_since_ms: BTreeMap<String, i64>,
    /// Container, VM, desktop or server (see [`crate::machine::machine_type`]).
    #[serde(default)]
    pub machine_type: Option<MachineType>,
    /// Whether the host waits for a reboot (`/var/run/reboot-required`, or
    /// `needs-restarting -r`); None when it cannot tell.
    #[serde(default)]
    pub pending_reboot: Option<bool>,
    pub machine_id: Option<String>,
    pub interfaces: Vec<Interface>,
    /// `dpkg` or `rpm`; None when neither exists (then `software` is not known).
    pub package_manager: Option<String>,
    pub software: Vec<Software>,
    /// The host key the scan's SSH session verified (OpenSSH line).
    pub host_key: Option<String>,
}

impl ScanFacts {
    /// Every MAC of its interfaces, each once.
    pub fn macs(&self) -> Vec<String> {
        let mut macs: Vec<String> = Vec::new();
        for m in self.interfaces.iter().filter_map(|i| i.mac.clone()) {
            if !macs.contains(&m) {
                macs.push(m);
            }
        }
        macs
    }
}

/// What an asset keeps of its scans (shown with the asset).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AssetFacts {
    pub fqdn: Option<String>,
    pub domain: Option<String>,
    pub os_version: Option<String>,
    pub kernel: Option<String>,
    pub cpu_model: Option<String>,
    pub cpu_count: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub disks: Vec<Disk>,
    pub last_boot_ms: Option<i64>,
    pub logged_on_users: Vec<String>,
    pub machine_id: Option<String>,
    /// Container, VM, desktop or server, as the last scan told.
    pub machine_type: Option<MachineType>,
    /// Whether the machine waits for a reboot; None when the last scan could not tell.
    pub pending_reboot: Option<bool>,
    pub first_seen_ms: Option<i64>,
    /// The last scan that logged in and read the facts.
    pub last_scan_ok_ms: Option<i64>,
    /// The last scan's failure, with its time; cleared by a successful scan.
    pub last_scan_error: Option<String>,
    pub last_scan_error_ms: Option<i64>,
}

/// How a scanned machine was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    MachineId,
    Mac,
    Address,
}

/// An asset the store found that might be the scanned machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: AssetId,
    pub machine_id: Option<String>,
    pub macs: Vec<String>,
    pub address: String,
}

/// The identity rule: the asset with the machine's machine id, else one with any of its
/// MACs, else one at the address scanned; the lowest id wins a tie (the oldest asset).
pub fn match_identity(
    machine_id: Option<&str>,
    macs: &[String],
    address: &str,
    candidates: &[Candidate],
) -> Option<(AssetId, MatchedBy)> {
    let oldest = |f: &dyn Fn(&Candidate) -> bool| candidates.iter().filter(|c| f(c)).map(|c| c.id).min();
    if let Some(mid) = machine_id.filter(|m| !m.is_empty())
        && let Some(id) = oldest(&|c| c.machine_id.as_deref() == Some(mid))
    {
        return Some((id, MatchedBy::MachineId));
    }
    if let Some(id) = oldest(&|c| c.macs.iter().any(|m| macs.contains(m))) {
        return Some((id, MatchedBy::Mac));
    }
    oldest(&|c| c.address.eq_ignore_ascii_case(address)).map(|id| (id, MatchedBy::Address))
}

/// The changes from `old` to `new` (each sorted or not), by package name, stamped `at_ms`.
pub fn diff_software(old: &[Software], new: &[Software], at_ms: i64) -> Vec<SoftwareChange> {
    let before: BTreeMap<&str, &str> = old.iter().map(|s| (s.name.as_str(), s.version.as_str())).collect();
    let after: BTreeMap<&str, &str> = new.iter().map(|s| (s.name.as_str(), s.version.as_str())).collect();
    let mut changes = Vec::new();
    for (name, v) in &after {
        match before.get(name) {
            None => changes.push(SoftwareChange {
                name: name.to_string(),
                kind: ChangeKind::Installed,
                old_version: None,
                new_version: Some(v.to_string()),
                at_ms,
            }),
            Some(old) if old != v => changes.push(SoftwareChange {
                name: name.to_string(),
                kind: ChangeKind::VersionChanged,
                old_version: Some(old.to_string()),
                new_version: Some(v.to_string()),
                at_ms,
            }),
            Some(_) => {}
        }
    }
    for (name, v) in &before {
        if !after.contains_key(name) {
            changes.push(SoftwareChange {
                name: name.to_string(),
                kind: ChangeKind::Removed,
                old_version: Some(v.to_string()),
                new_version: None,
                at_ms,
            });
        }
    }
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    changes
}

/// An asset name from a scanned host name that no other asset has: the host name
/// (control characters dropped, at most 200 characters, never all digits), else with
/// `-2`, `-3`, … appended. `taken` says whether a name is in use.
pub fn unique_name(hostname: &str, fallback: &str, taken: impl Fn(&str) -> bool) -> String {
    let clean: String = hostname.chars().filter(|c| !c.is_control()).take(190).collect();
    let clean = clean.trim();
    let base = if clean.is_empty() || crate::package::is_all_digits(clean) { fallback } else { clean };
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|n| format!("{base}-{n}")).find(|n| !taken(n)).unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
#[path = "inventory_tests.rs"]
mod tests;
