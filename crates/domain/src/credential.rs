//! Scanning credentials: who drover logs in as, and how it becomes root.

use crate::ids::{AssetId, CredentialId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A credential as shown to users: never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub id: CredentialId,
    pub name: String,
    pub username: String,
    pub kind: CredentialKind,
    pub sudo: SudoMode,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Password,
    Key,
}

/// How the credential becomes root when it is not root itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SudoMode {
    /// No sudo: the user is root, or root is not needed.
    #[default]
    None,
    /// `sudo -n` (NOPASSWD).
    NoPassword,
    /// `sudo -S` with the sudo password (the login password unless one is given).
    Password,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Password => "password",
            CredentialKind::Key => "key",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(Self::Password),
            "key" => Some(Self::Key),
            _ => None,
        }
    }
}

impl SudoMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SudoMode::None => "none",
            SudoMode::NoPassword => "no_password",
            SudoMode::Password => "password",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "no_password" => Some(Self::NoPassword),
            "password" => Some(Self::Password),
            _ => None,
        }
    }
}

/// The secret part, encrypted at rest; its `Debug` never prints it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CredentialSecret {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_password: Option<String>,
}

impl fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialSecret(<redacted>)")
    }
}

/// What a user gives to create a credential.
#[derive(Clone, Serialize, Deserialize)]
pub struct NewCredential {
    pub name: String,
    pub username: String,
    #[serde(default)]
    pub sudo: SudoMode,
    #[serde(flatten)]
    pub secret: CredentialSecret,
}

impl fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCredential")
            .field("name", &self.name)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl NewCredential {
    /// Checks the fields and tells which kind the credential is.
    pub fn validate(&self) -> Result<CredentialKind, String> {
        if self.name.trim().is_empty() {
            return Err("credential name must not be empty".into());
        }
        if self.username.trim().is_empty() || self.username.contains(char::is_whitespace) {
            return Err("username must be a non-empty login name without spaces".into());
        }
        let kind = match (&self.secret.password, &self.secret.private_key) {
            (Some(_), None) => CredentialKind::Password,
            (None, Some(k)) => {
                if !k.contains("PRIVATE KEY-----") {
                    return Err(
                        "private_key must be an OpenSSH or PEM private key (-----BEGIN ... PRIVATE KEY-----)".into()
                    );
                }
                CredentialKind::Key
            }
            (Some(_), Some(_)) => {
                return Err("give either password or private_key, not both".into());
            }
            (None, None) => return Err("give a password or a private_key".into()),
        };
        if self.sudo == SudoMode::Password && kind == CredentialKind::Key && self.secret.sudo_password.is_none() {
            return Err("sudo = password with a key credential needs sudo_password".into());
        }
        Ok(kind)
    }
}

/// Where a credential applies. Asset mappings are tried before global ones; within a
/// scope, lower `priority` first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialMapping {
    pub credential_id: CredentialId,
    pub asset_id: Option<AssetId>,
    pub priority: i64,
}

/// The order in which credentials are tried for one asset.
pub fn credential_order(asset: AssetId, mappings: &[CredentialMapping]) -> Vec<CredentialId> {
    let mut relevant: Vec<&CredentialMapping> =
        mappings.iter().filter(|m| m.asset_id.is_none() || m.asset_id == Some(asset)).collect();
    relevant.sort_by_key(|m| (m.asset_id.is_none(), m.priority, m.credential_id));
    let mut out: Vec<CredentialId> = Vec::new();
    for m in relevant {
        if !out.contains(&m.credential_id) {
            out.push(m.credential_id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_mappings_come_before_global_ones() {
        let m = |c, a: Option<i64>, p| CredentialMapping {
            credential_id: CredentialId(c),
            asset_id: a.map(AssetId),
            priority: p,
        };
        let maps = [m(1, None, 0), m(2, Some(5), 1), m(3, Some(5), 0), m(4, Some(6), 0), m(3, None, 1)];
        assert_eq!(credential_order(AssetId(5), &maps), vec![CredentialId(3), CredentialId(2), CredentialId(1)]);
        assert_eq!(credential_order(AssetId(9), &maps), vec![CredentialId(1), CredentialId(3)]);
    }

    #[test]
    fn credential_order_ties_duplicates_and_nothing_mapped() {
        let m = |c, a: Option<i64>, p| CredentialMapping {
            credential_id: CredentialId(c),
            asset_id: a.map(AssetId),
            priority: p,
        };
        assert!(credential_order(AssetId(1), &[]).is_empty());
        assert!(credential_order(AssetId(1), &[m(1, Some(2), 0)]).is_empty(), "another asset's mapping");
        // equal priority: lower credential id first; a credential mapped twice is tried once,
        // at its asset mapping's place
        let maps = [m(7, Some(1), 0), m(4, Some(1), 0), m(7, None, 0), m(2, None, 5)];
        assert_eq!(credential_order(AssetId(1), &maps), vec![CredentialId(4), CredentialId(7), CredentialId(2)]);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = CredentialSecret { password: Some("hunter2".into()), ..Default::default() };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
