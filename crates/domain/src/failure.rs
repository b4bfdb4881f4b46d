//! Failure codes: the stable code every target that does not succeed ends with, one
//! enum so that each code a user or a support request can see is listed, documented in
//! the README and spelled the same everywhere.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a target ended without success. Stored and shown as [`FailureCode::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// The SSH port did not answer (after waking and retries, when asked for).
    TargetOffline,
    /// The same package still deploys to the same asset in an older deployment.
    TargetOverlap,
    /// No credential is mapped to the asset.
    NoCredential,
    /// The run mode needs root and the credential has no way to it.
    NeedsRoot,
    /// The target's architecture has no deployer build on this server.
    UnsupportedArch,
    /// sudo refused the credential's user (wrong password, no sudo rights).
    SudoFailed,
    /// Run mode logged-on user, and nobody is logged on.
    NobodyLoggedOn,
    /// The deployer stopped without reporting an end.
    TaskVanished,
    /// The task ran past the package's max duration.
    MaxDuration,
    /// A reboot step rebooted the machine and it did not answer again (restarted) within
    /// the package's max duration.
    RebootNotBack,
    /// The machine could not be reached when the target ended: whether its task
    /// succeeded is not known yet (learned when drover reaches it again).
    UnreachableOutcomeUnknown,
    /// Cancelled by a user.
    Cancelled,
    /// A script drover runs on the target (facts, upload, launch) failed.
    RemoteCommandFailed,
    /// The target answers SSH but has no usable `sh`: drover's scripts cannot run.
    NoShell,
    /// The file system of drover's folder on the target is read-only.
    ReadOnly,
    /// No space (or no inodes, or quota) left where drover writes on the target.
    DiskFull,
    /// drover's folder on the target is mounted `noexec`: the deployer cannot run there.
    NoExec,
    /// The server the deployer reached presented a TLS certificate other than the one
    /// its job pins: the deployer sent no token and ran no step.
    ServerCertMismatch,
    /// A fault of the server itself (storage, vault).
    ServerInternal,
    /// The server restarted and cannot follow the target any more.
    ServerRestarted,
    /// The server does not know the address targets reach it at.
    NoPublicUrl,
    /// A step failed and the package stopped with failure.
    StepFailed,
    SshUnreachable,
    SshTimeout,
    SshHostKeyMismatch,
    /// The host's key is not pinned by an admin (nor vouched for by a configured
    /// certificate authority), so no password was sent, and no key credential could pin it.
    SshHostKeyUnknown,
    SshAuthFailed,
    SshBadKey,
    SshProtocol,
}

impl FailureCode {
    /// Every code, in the order the README lists them.
    pub const ALL: [FailureCode; 29] = [
        Self::TargetOffline,
        Self::TargetOverlap,
        Self::NoCredential,
        Self::NeedsRoot,
        Self::UnsupportedArch,
        Self::SudoFailed,
        Self::NobodyLoggedOn,
        Self::TaskVanished,
        Self::MaxDuration,
        Self::RebootNotBack,
        Self::UnreachableOutcomeUnknown,
        Self::Cancelled,
        Self::RemoteCommandFailed,
        Self::NoShell,
        Self::ReadOnly,
        Self::DiskFull,
        Self::NoExec,
        Self::ServerCertMismatch,
        Self::StepFailed,
        Self::SshUnreachable,
        Self::SshTimeout,
        Self::SshHostKeyMismatch,
        Self::SshHostKeyUnknown,
        Self::SshAuthFailed,
        Self::SshBadKey,
        Self::SshProtocol,
        Self::ServerInternal,
        Self::ServerRestarted,
        Self::NoPublicUrl,
    ];

    /// The stable code, e.g. `target.offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TargetOffline => "target.offline",
            Self::TargetOverlap => "target.overlap",
            Self::NoCredential => "target.no_credential",
            Self::NeedsRoot => "target.needs_root",
            Self::UnsupportedArch => "target.unsupported_arch",
            Self::SudoFailed => "target.sudo_failed",
            Self::NobodyLoggedOn => "target.nobody_logged_on",
            Self::TaskVanished => "target.task_vanished",
            Self::RebootNotBack => "target.reboot_not_back",
            Self::MaxDuration => "target.max_duration",
            Self::UnreachableOutcomeUnknown => "target.unreachable_outcome_unknown",
            Self::Cancelled => "target.cancelled",
            Self::RemoteCommandFailed => "target.remote_command_failed",
            Self::NoShell => "target.no_shell",
            Self::ReadOnly => "target.read_only",
            Self::DiskFull => "target.disk_full",
            Self::NoExec => "target.noexec",
            Self::ServerCertMismatch => "target.server_cert_mismatch",
            Self::ServerInternal => "server.internal",
            Self::ServerRestarted => "server.restarted",
            Self::NoPublicUrl => "server.no_public_url",
            Self::StepFailed => "step.failed",
            Self::SshUnreachable => "ssh.unreachable",
            Self::SshTimeout => "ssh.timeout",
            Self::SshHostKeyMismatch => "ssh.host_key_mismatch",
            Self::SshHostKeyUnknown => "ssh.host_key_unknown",
            Self::SshAuthFailed => "ssh.auth_failed",
            Self::SshBadKey => "ssh.bad_key",
            Self::SshProtocol => "ssh.protocol",
        }
    }

    /// The code named by `s`, if it is one.
    pub fn parse(s: &str) -> Option<FailureCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FailureCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FailureCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FailureCode::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown failure code '{s}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let codes: BTreeSet<&str> = FailureCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), FailureCode::ALL.len(), "two variants share a code");
        for c in FailureCode::ALL {
            assert_eq!(FailureCode::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<FailureCode>(&json).ok(), Some(c));
        }
        assert_eq!(FailureCode::parse("target.nope"), None);
    }

    /// The README's list of failure codes (the table after "Failures carry a stable
    /// code") names exactly the codes of this enum.
    #[test]
    fn readme_lists_every_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let start = readme
            .find("Failures carry a stable code")
            .unwrap_or_else(|| panic!("README.md has no paragraph 'Failures carry a stable code'"));
        let section = &readme[start..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        let listed: BTreeSet<&str> = section
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| {
                w.split_once('.').is_some_and(|(a, b)| {
                    ["target", "server", "step", "ssh"].contains(&a)
                        && !b.is_empty()
                        && b.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
            })
            .collect();
        let known: BTreeSet<&str> = FailureCode::ALL.iter().map(|c| c.as_str()).collect();
        let missing: Vec<_> = known.difference(&listed).collect();
        let unknown: Vec<_> = listed.difference(&known).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "README.md's failure codes differ from FailureCode: not in the README {missing:?}; not a FailureCode {unknown:?}"
        );
    }
}
