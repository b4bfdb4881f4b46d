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
    CredentialUnmap,
    UserDisable,
    UserEnable,
    UserDelete,
    TokensRevoke,
    HostKeyTrust,
    KnownHostsImport,
    HostCaAdd,
    HostCaRemove,
    ScheduleCreate,
    ScheduleUpdate,
    ScheduleDelete,
    ConfigCreate,
    ConfigEnable,
    ConfigDisable,
    ConfigDelete,
    ScanTargetAdd,
    ScanTargetRemove,
    ScanTargetEnable,
    ScanTargetDisable,
    ScanTargetEdit,
    ScanRun,
    GroupCreate,
    GroupDelete,
    GroupMembers,
    ReportCreate,
    ReportDelete,
    PackageSave,
    PackageFileUpload,
    ShareLocationAdd,
    ShareLocationRemove,
}

impl AuditAction {
    pub const ALL: [AuditAction; 47] = [
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
        Self::CredentialUnmap,
        Self::UserDisable,
        Self::UserEnable,
        Self::UserDelete,
        Self::TokensRevoke,
        Self::HostKeyTrust,
        Self::KnownHostsImport,
        Self::HostCaAdd,
        Self::HostCaRemove,
        Self::ScheduleCreate,
        Self::ScheduleUpdate,
        Self::ScheduleDelete,
        Self::ConfigCreate,
        Self::ConfigEnable,
        Self::ConfigDisable,
        Self::ConfigDelete,
        Self::ScanTargetAdd,
        Self::ScanTargetRemove,
        Self::ScanTargetEnable,
        Self::ScanTargetDisable,
        Self::ScanTargetEdit,
        Self::ScanRun,
        Self::GroupCreate,
        Self::GroupDelete,
        Self::GroupMembers,
        Self::ReportCreate,
        Self::ReportDelete,
        Self::PackageSave,
        Self::PackageFileUpload,
        Self::ShareLocationAdd,
        Self::ShareLocationRemove,
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
            Self::CredentialUnmap => "credential_unmap",
            Self::UserDisable => "user_disable",
            Self::UserEnable => "user_enable",
            Self::UserDelete => "user_delete",
            Self::TokensRevoke => "tokens_revoke",
            Self::HostKeyTrust => "host_key_trust",
            Self::KnownHostsImport => "known_hosts_import",
            Self::HostCaAdd => "host_ca_add",
            Self::HostCaRemove => "host_ca_remove",
            Self::ScheduleCreate => "schedule_create",
            Self::ScheduleUpdate => "schedule_update",
            Self::ScheduleDelete => "schedule_delete",
            Self::ConfigCreate => "config_create",
            Self::ConfigEnable => "config_enable",
            Self::ConfigDisable => "config_disable",
            Self::ConfigDelete => "config_delete",
            Self::ScanTargetAdd => "scan_target_add",
            Self::ScanTargetRemove => "scan_target_remove",
            Self::ScanTargetEnable => "scan_target_enable",
            Self::ScanTargetDisable => "scan_target_disable",
            Self::ScanTargetEdit => "scan_target_edit",
            Self::ScanRun => "scan_run",
            Self::GroupCreate => "group_create",
            Self::GroupDelete => "group_delete",
            Self::GroupMembers => "group_members",
            Self::ReportCreate => "report_create",
            Self::ReportDelete => "report_delete",
            Self::PackageSave => "package_save",
            Self::PackageFileUpload => "package_file_upload",
            Self::ShareLocationAdd => "share_location_add",
            Self::ShareLocationRemove => "share_location_remove",
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
