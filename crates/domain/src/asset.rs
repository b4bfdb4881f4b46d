//! Assets: the computers of the inventory and what the first connection pinned.

use crate::ids::AssetId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub id: AssetId,
    pub name: String,
    /// Host name or IP address used to reach the asset.
    pub address: String,
    pub ssh_port: u16,
    /// MAC addresses, lower case `aa:bb:cc:dd:ee:ff`.
    pub macs: Vec<String>,
    /// The SSH host key pinned at the first successful connection (OpenSSH line).
    pub host_key: Option<String>,
    pub host_key_fingerprint: Option<String>,
    /// Facts recorded at the last successful connection.
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub last_seen_ms: Option<i64>,
    pub created_ms: i64,
    /// What inventory scans learnt (empty until the first scan).
    #[serde(flatten)]
    pub facts: crate::inventory::AssetFacts,
}

/// What a user gives to add an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAsset {
    pub name: String,
    pub address: String,
    #[serde(default = "default_ssh_port")]
    pub ssh_port: u16,
    #[serde(default)]
    pub macs: Vec<String>,
}

fn default_ssh_port() -> u16 {
    22
}

/// Facts learnt from a host when connecting to it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostFacts {
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub macs: Vec<String>,
}

impl NewAsset {
    /// Checks what a user typed; the message names the field.
    pub fn validate(&mut self) -> Result<(), String> {
        self.name = self.name.trim().to_string();
        self.address = self.address.trim().to_string();
        if self.name.is_empty() || self.name.len() > 200 {
            return Err("asset name must be 1 to 200 characters".into());
        }
        if crate::package::is_all_digits(&self.name) {
            return Err(format!("asset name '{}' must not be all digits: it would read as an asset id", self.name));
        }
        if self.name.chars().any(char::is_control) {
            return Err("asset name must not hold control characters".into());
        }
        if self.address.is_empty()
            || self.address.len() > 253
            || !self.address.chars().all(|c| c.is_ascii_alphanumeric() || ".-:_[]".contains(c))
        {
            return Err(format!("address '{}' is not a host name or IP address", self.address));
        }
        if self.ssh_port == 0 {
            return Err("ssh_port must be 1 to 65535".into());
        }
        for mac in &mut self.macs {
            *mac = normalize_mac(mac)
                .ok_or_else(|| format!("MAC address '{mac}' is not of the form aa:bb:cc:dd:ee:ff"))?;
        }
        Ok(())
    }
}

/// `AA-BB-CC-DD-EE-FF` or `aa:bb:...` → `aa:bb:cc:dd:ee:ff`.
pub fn normalize_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.trim().split([':', '-']).collect();
    if parts.len() != 6 || !parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit())) {
        return None;
    }
    Some(parts.join(":").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_normalizes() {
        let mut a = NewAsset {
            name: " web1 ".into(),
            address: "10.0.0.5".into(),
            ssh_port: 22,
            macs: vec!["AA-BB-CC-00-11-22".into()],
        };
        a.validate().unwrap();
        assert_eq!(a.name, "web1");
        assert_eq!(a.macs, vec!["aa:bb:cc:00:11:22"]);
        let mut bad = NewAsset { name: "x".into(), address: "a b".into(), ssh_port: 22, macs: vec![] };
        assert!(bad.validate().unwrap_err().contains("'a b'"));
        let mut bad_mac = NewAsset { name: "x".into(), address: "h".into(), ssh_port: 22, macs: vec!["zz".into()] };
        assert!(bad_mac.validate().unwrap_err().contains("'zz'"));
        let mut digits = NewAsset { name: "123".into(), address: "h".into(), ssh_port: 22, macs: vec![] };
        assert!(digits.validate().unwrap_err().contains("must not be all digits"));
        let mut ctl = NewAsset { name: "a\x1b[2J".into(), address: "h".into(), ssh_port: 22, macs: vec![] };
        assert!(ctl.validate().unwrap_err().contains("control characters"));
    }
}
