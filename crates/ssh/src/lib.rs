//! drover's SSH transport over russh: one authenticated [`Session`] per target, reused
//! for every command the target needs.
//!
//! The server's host key is checked during the key exchange, before any authentication
//! request: a key that differs from the pinned one ends the connection and is reported as
//! [`SshError::HostKeyMismatch`], an unknown one (nothing pinned, no trusted host
//! certificate, no trust on first use) as [`SshError::HostKeyUnknown`], so no password or
//! key signature is ever sent to it.

mod error;
mod host_key;
mod session;

pub use error::SshError;
pub use host_key::{HostKeyPolicy, Verified, check_host_certificate};
pub use session::{Auth, ConnectOptions, ExecOutput, Session, fingerprint_of, host_key_of, probe};
