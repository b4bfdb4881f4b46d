//! What kind of machine a scan found (`MachineType`: server, desktop, vm, container) and
//! the rule that reads it from the virtualisation and chassis facts the scan script prints.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of machine, as far as its facts tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineType {
    Server,
    Desktop,
    Vm,
    Container,
}

impl MachineType {
    pub const ALL: [MachineType; 4] = [Self::Server, Self::Desktop, Self::Vm, Self::Container];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Desktop => "desktop",
            Self::Vm => "vm",
            Self::Container => "container",
        }
    }

    pub fn parse(s: &str) -> Option<MachineType> {
        Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for MachineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SMBIOS chassis types of desktops and portables (desktop, low-profile desktop, pizza
/// box, mini tower, tower, portable, laptop, notebook, hand held, sub notebook,
/// space-saving, lunch box, all in one, sealed-case PC, tablet, convertible, detachable,
/// mini PC, stick PC).
const DESKTOP_CHASSIS: &[u32] = &[3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 24, 30, 31, 32, 35, 36];

/// The rule: a container when the host says it runs in one (`systemd-detect-virt
/// --container`, else `/.dockerenv`, `/run/.containerenv`, `/run/systemd/container`,
/// `container=` in PID 1's environment); else a VM when a hypervisor is detected
/// (`systemd-detect-virt --vm`, else the CPU's `hypervisor` flag); else a desktop when the
/// SMBIOS chassis type (`/sys/class/dmi/id/chassis_type`) is a desktop or portable one;
/// else a server (rack, blade, other or unknown chassis). `container` and `vm` are the
/// names the script printed (`none` and empty count as absent).
pub fn machine_type(container: Option<&str>, vm: Option<&str>, chassis: Option<&str>) -> MachineType {
    let present = |v: Option<&str>| v.map(str::trim).is_some_and(|v| !v.is_empty() && v != "none");
    if present(container) {
        MachineType::Container
    } else if present(vm) {
        MachineType::Vm
    } else if chassis.and_then(|c| c.trim().parse::<u32>().ok()).is_some_and(|c| DESKTOP_CHASSIS.contains(&c)) {
        MachineType::Desktop
    } else {
        MachineType::Server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_then_vms_then_the_chassis_decide() {
        assert_eq!(machine_type(Some("docker"), Some("kvm"), Some("3")), MachineType::Container);
        assert_eq!(machine_type(Some("none"), Some("kvm"), Some("3")), MachineType::Vm);
        assert_eq!(machine_type(None, Some(" "), Some("3")), MachineType::Desktop);
        assert_eq!(machine_type(None, None, Some("10")), MachineType::Desktop, "a laptop");
        assert_eq!(machine_type(None, None, Some("23")), MachineType::Server, "rack mount");
        assert_eq!(machine_type(None, None, None), MachineType::Server, "nothing known");
        assert_eq!(machine_type(None, None, Some("x")), MachineType::Server);
    }

    #[test]
    fn names_round_trip() {
        for t in MachineType::ALL {
            assert_eq!(MachineType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_string(&t).unwrap_or_default(), format!("\"{t}\""));
        }
        assert_eq!(MachineType::parse("VM"), Some(MachineType::Vm));
        assert_eq!(MachineType::parse("mainframe"), None);
    }
}
