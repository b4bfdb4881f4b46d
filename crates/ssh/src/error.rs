//! SSH failures, each saying what happened and what to do, with a stable code.

#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    #[error("cannot reach {host}:{port} ({reason}): check that the machine is on and its SSH server listens there")]
    Unreachable { host: String, port: u16, reason: String },
    #[error("{what} timed out")]
    Timeout { what: String },
    #[error(
        "the SSH host key of {host} changed: pinned {expected_fingerprint}, presented {presented_fingerprint}; no credentials were sent"
    )]
    HostKeyMismatch { host: String, expected_fingerprint: String, presented_fingerprint: String },
    #[error(
        "the SSH host key of {host} ({fingerprint}) is not pinned by an admin nor vouched for by a trusted certificate authority; nothing was sent"
    )]
    HostKeyUnknown { host: String, fingerprint: String },
    #[error("login as '{user}' on {host} was refused ({method})")]
    AuthFailed { user: String, host: String, method: String },
    #[error("the private key cannot be used: {0}")]
    BadKey(String),
    #[error("SSH error: {0}")]
    Protocol(String),
}

impl SshError {
    /// A stable code a support request can quote.
    pub fn code(&self) -> &'static str {
        match self {
            SshError::Unreachable { .. } => "ssh.unreachable",
            SshError::Timeout { .. } => "ssh.timeout",
            SshError::HostKeyMismatch { .. } => "ssh.host_key_mismatch",
            SshError::HostKeyUnknown { .. } => "ssh.host_key_unknown",
            SshError::AuthFailed { .. } => "ssh.auth_failed",
            SshError::BadKey(_) => "ssh.bad_key",
            SshError::Protocol(_) => "ssh.protocol",
        }
    }
}
