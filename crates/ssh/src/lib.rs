//! drover's SSH transport over russh: one authenticated [`Session`] per target, reused
//! for every command the target needs.
//!
//! The server's host key is checked during the key exchange, before any authentication
//! request: a key that differs from the pinned one ends the connection and is reported as
//! [`SshError::HostKeyMismatch`], so no password or key signature is ever sent to it.

mod error;
mod session;

pub use error::SshError;
pub use session::{Auth, ConnectOptions, ExecOutput, HostKeyPolicy, Session, fingerprint_of, probe};
