//! Scanning credentials: who drover logs in as, and how it becomes root.

use crate::ids::CredentialId;
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

impl Credential {
    /// Whether using it sends a password to the host: a password login, or a sudo
    /// password on `sudo -S`'s standard input. Such a credential goes only to hosts whose
    /// key an admin pinned or a configured certificate authority vouches for.
    pub fn sends_password(&self) -> bool {
        self.kind == CredentialKind::Password || self.sudo == SudoMode::Password
    }
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

pub use crate::scope::{CredentialMapping, Scope, credential_order};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = CredentialSecret { password: Some("hunter2".into()), ..Default::default() };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
