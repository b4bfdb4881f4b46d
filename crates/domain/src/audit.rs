//! The audit log: who did what, when. Entries are written where the action happens (the
//! engine) and shown to admins.

use crate::executor::Executor;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What was done. Its text form is what the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Login,
    LoginFailed,
    LoginLocked,
    Logout,
    PasswordChanged,
    Deploy,
    Cancel,
    Relaunch,
    PackageImport,
    PackageDelete,
    CredentialAdd,
    CredentialDelete,
    CredentialMap,
    UserAdd,
    ThreadsChange,
    AcceptHostKey,
}

impl AuditAction {
    pub const ALL: [AuditAction; 16] = [
        Self::Login,
        Self::LoginFailed,
        Self::LoginLocked,
        Self::Logout,
        Self::PasswordChanged,
        Self::Deploy,
        Self::Cancel,
        Self::Relaunch,
        Self::PackageImport,
        Self::PackageDelete,
        Self::CredentialAdd,
        Self::CredentialDelete,
        Self::CredentialMap,
        Self::UserAdd,
        Self::ThreadsChange,
        Self::AcceptHostKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::LoginLocked => "login_locked",
            Self::Logout => "logout",
            Self::PasswordChanged => "password_changed",
            Self::Deploy => "deploy",
            Self::Cancel => "cancel",
            Self::Relaunch => "relaunch",
            Self::PackageImport => "package_import",
            Self::PackageDelete => "package_delete",
            Self::CredentialAdd => "credential_add",
            Self::CredentialDelete => "credential_delete",
            Self::CredentialMap => "credential_map",
            Self::UserAdd => "user_add",
            Self::ThreadsChange => "threads_change",
            Self::AcceptHostKey => "accept_host_key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    /// Who acted (`user:<name>` for people, including a name typed at a failed login).
    pub actor: Executor,
    pub action: AuditAction,
    /// What it was done to, in words.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::AuditAction;

    #[test]
    fn actions_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
    }
}
