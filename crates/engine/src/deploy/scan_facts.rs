//! The inventory scan's script (`scripts/scan.sh`, run only by scans) and the parsing of
//! what it prints into `ScanFacts`. The output is untrusted text: kept as is, bounded.

use super::remote::{Call, Script};
use drover_domain::asset::normalize_mac;
use drover_domain::inventory::{Disk, Interface, ScanFacts, Software};
use drover_domain::machine::machine_type;

pub(crate) const SCAN: Script = Script::new("drover-scan", include_str!("scripts/scan.sh"));

/// The scan script takes no arguments.
pub(crate) fn scan() -> Call {
    Call { script: &SCAN, args: Vec::new() }
}

/// Time allowed for the scan script (a package list can take a few seconds).
const SCAN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs the scan script as the login user over an open session; the error says why.
pub(crate) async fn run(session: &drover_ssh::Session) -> Result<ScanFacts, String> {
    let (cmd, stdin) = super::remote::command(&scan(), None);
    let out = session.exec(cmd, stdin, SCAN_TIMEOUT).await.map_err(|e| format!("the scan script: {e}"))?;
    if out.exit_status != Some(0) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "the scan script exited with status {}: {}",
            out.exit_status.map_or("none".into(), |s| s.to_string()),
            stderr.trim().chars().take(500).collect::<String>()
        ));
    }
    Ok(parse_scan(&String::from_utf8_lossy(&out.stdout)))
}

/// Longest value kept of one line (a hostile host cannot make the database grow without
/// bound through one field).
const MAX_VALUE: usize = 1024;

fn bounded(v: &str) -> String {
    v.chars().take(MAX_VALUE).collect()
}

/// Parses the scan script's output; lines it does not know are ignored.
pub(crate) fn parse_scan(out: &str) -> ScanFacts {
    let mut f = ScanFacts::default();
    let (mut uptime, mut now): (Option<f64>, Option<i64>) = (None, None);
    let (mut container, mut vm, mut chassis): (Option<String>, Option<String>, Option<String>) = (None, None, None);
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let some = || (!v.trim().is_empty()).then(|| bounded(v.trim()));
        match k {
            "hostname" => f.hostname = some(),
            "fqdn" => f.fqdn = some(),
            "os" => f.os = some(),
            "os_version" => f.os_version = some(),
            "kernel" => f.kernel = some(),
            "arch" => f.arch = some(),
            "cpu_model" => f.cpu_model = some(),
            "cpu_count" => f.cpu_count = v.trim().parse().ok().filter(|n| *n > 0),
            "mem_kb" => f.memory_bytes = v.trim().parse::<i64>().ok().map(|kb| kb.saturating_mul(1024)),
            "uptime" => uptime = v.split_whitespace().next().and_then(|u| u.parse().ok()),
            "now" => now = v.trim().parse().ok(),
            "machine_id" => f.machine_id = some(),
            "pm" => f.package_manager = some(),
            "user" => {
                let (name, since) = v.split_once('\t').unwrap_or((v, ""));
                let u = bounded(name.trim());
                if u.is_empty() {
                    continue;
                }
                if let Ok(secs) = since.trim().parse::<i64>() {
                    let ms = secs.saturating_mul(1000);
                    let earliest = f.user_since_ms.entry(u.clone()).or_insert(ms);
                    *earliest = (*earliest).min(ms);
                }
                if !f.users.contains(&u) {
                    f.users.push(u);
                }
            }
            "container" => container = some(),
            "vm" => vm = some(),
            "chassis" => chassis = some(),
            "pending_reboot" => {
                f.pending_reboot = match v.trim() {
                    "1" => Some(true),
                    "0" => Some(false),
                    _ => None,
                }
            }
            "if" => {
                let (name, mac) = v.split_once('\t').unwrap_or((v, ""));
                let mac = normalize_mac(mac).filter(|m| m != "00:00:00:00:00:00");
                if !name.is_empty() && name != "lo" {
                    f.interfaces.push(Interface { name: bounded(name), mac, addresses: Vec::new() });
                }
            }
            "addr" => {
                if let Some((dev, addr)) = v.split_once('\t')
                    && let Some(i) = f.interfaces.iter_mut().find(|i| i.name == dev)
                {
                    i.addresses.push(bounded(addr.trim()));
                }
            }
            "disk" => {
                let p: Vec<&str> = v.split('\t').collect();
                if let [mount, size, free] = p.as_slice()
                    && let (Ok(size), Ok(free)) = (size.parse::<i64>(), free.parse::<i64>())
                {
                    f.disks.push(Disk {
                        mount: bounded(mount),
                        size_bytes: size.saturating_mul(1024),
                        free_bytes: free.saturating_mul(1024),
                    });
                }
            }
            "pkg" => {
                let p: Vec<&str> = v.splitn(3, '\t').collect();
                if let [status, name, version] = p.as_slice()
                    && *status == "installed"
                    && !name.is_empty()
                {
                    f.software.push(Software { name: bounded(name), version: bounded(version) });
                }
            }
            _ => {}
        }
    }
    // `who` prints no year: a login time past the scan's (read as this year, seen just
    // after New Year) is not kept
    if let Some(now) = now {
        f.user_since_ms.retain(|_, since| *since <= now.saturating_mul(1000) + 60_000);
    }
    if let (Some(up), Some(now)) = (uptime, now) {
        f.last_boot_ms = Some(now * 1000 - (up * 1000.0) as i64);
    }
    // a server unless the lines say otherwise; output without even a kernel line is not a
    // scan's, and tells nothing
    if f.kernel.is_some() {
        f.machine_type = Some(machine_type(container.as_deref(), vm.as_deref(), chassis.as_deref()));
    }
    f.domain = f
        .fqdn
        .as_deref()
        .and_then(|q| q.split_once('.'))
        .map(|(_, d)| d.trim_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty());
    f.software.sort();
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_domain::machine::MachineType;
    use std::collections::BTreeMap;

    #[test]
    fn parses_every_fact_and_keeps_hostile_text_as_is() {
        let out = "hostname=<b>x</b>;rm\nfqdn=web1.corp.example\nos=Debian GNU/Linux 12 (bookworm)\nos_version=12\n\
                   kernel=6.1.0\narch=x86_64\ncpu_model=Intel(R) Xeon\ncpu_count=4\nmem_kb=2048\nuptime=100.5 7.0\n\
                   now=1000\nmachine_id=abc123\nif=lo\t00:00:00:00:00:00\nif=eth0\t02:D0:01:00:00:01\n\
                   addr=lo\t127.0.0.1/8\naddr=eth0\t10.77.1.11/24\ndisk=/\t1000\t400\ndisk=bad\tx\t1\n\
                   user=alice\t960\nuser=alice\t900\nuser=bob\t\nuser=carol\t5000\ncontainer=docker\nvm=kvm\nchassis=3\n\
                   pending_reboot=1\npm=dpkg\npkg=installed\tsudo\t1.9\npkg=config-files\told\t1\n\
                   pkg=installed\t'$(rm -rf /)\t1;2\ngarbage line\n";
        let f = parse_scan(out);
        assert_eq!(f.hostname.as_deref(), Some("<b>x</b>;rm"));
        assert_eq!(f.domain.as_deref(), Some("corp.example"));
        assert_eq!((f.os_version.as_deref(), f.kernel.as_deref()), (Some("12"), Some("6.1.0")));
        assert_eq!((f.cpu_count, f.memory_bytes), (Some(4), Some(2048 * 1024)));
        assert_eq!(f.last_boot_ms, Some(1_000_000 - 100_500));
        assert_eq!(f.machine_id.as_deref(), Some("abc123"));
        assert_eq!(f.interfaces.len(), 1);
        assert_eq!(f.interfaces[0].mac.as_deref(), Some("02:d0:01:00:00:01"));
        assert_eq!(f.interfaces[0].addresses, vec!["10.77.1.11/24"]);
        assert_eq!(f.macs(), vec!["02:d0:01:00:00:01"]);
        assert_eq!(f.disks, vec![Disk { mount: "/".into(), size_bytes: 1_024_000, free_bytes: 409_600 }]);
        assert_eq!(f.users, vec!["alice", "bob", "carol"]);
        assert_eq!(
            f.user_since_ms,
            BTreeMap::from([("alice".to_string(), 900_000)]),
            "the earliest session; none for bob (not told) nor carol (after the scan)"
        );
        assert_eq!((f.machine_type, f.pending_reboot), (Some(MachineType::Container), Some(true)));
        assert_eq!(f.package_manager.as_deref(), Some("dpkg"));
        let names: Vec<&str> = f.software.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["'$(rm -rf /)", "sudo"], "config-files only is not installed; names kept as is");
    }

    /// The real script, through the command line targets get, on this machine.
    #[test]
    fn the_script_runs_here_and_parses() {
        let (line, _) = super::super::remote::command(&scan(), None);
        let out = std::process::Command::new("sh").arg("-c").arg(&line).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let f = parse_scan(&String::from_utf8_lossy(&out.stdout));
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(f.hostname.as_deref(), Some(hostname.trim()));
        assert!(f.kernel.is_some() && f.arch.is_some() && f.cpu_count.unwrap_or(0) >= 1, "{f:?}");
        assert!(f.memory_bytes.unwrap_or(0) > 0 && f.last_boot_ms.is_some(), "{f:?}");
        assert!(f.machine_type.is_some(), "{f:?}");
        if std::path::Path::new("/.dockerenv").exists() {
            assert_eq!(f.machine_type, Some(MachineType::Container), "in a Docker container");
        }
        if std::path::Path::new("/usr/bin/dpkg-query").exists() {
            assert!(f.pending_reboot.is_some(), "dpkg hosts tell");
            assert_eq!(f.package_manager.as_deref(), Some("dpkg"));
            assert!(f.software.iter().any(|s| s.name == "dpkg"), "dpkg lists itself");
        }
    }

    #[test]
    fn the_kind_of_machine_and_a_pending_reboot() {
        let kind = |lines: &str| parse_scan(&format!("kernel=6.1\n{lines}"));
        assert_eq!(kind("vm=kvm\nchassis=1").machine_type, Some(MachineType::Vm));
        assert_eq!(kind("chassis=10").machine_type, Some(MachineType::Desktop));
        let server = kind("chassis=23\npending_reboot=0");
        assert_eq!((server.machine_type, server.pending_reboot), (Some(MachineType::Server), Some(false)));
        assert_eq!(kind("pending_reboot=maybe").pending_reboot, None);
        assert_eq!(parse_scan("garbage\n").machine_type, None, "not a scan's output");
    }

    #[test]
    fn values_are_bounded() {
        let f = parse_scan(&format!("hostname={}\n", "a".repeat(5000)));
        assert_eq!(f.hostname.map(|h| h.len()), Some(MAX_VALUE));
    }
}
