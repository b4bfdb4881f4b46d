//! drover's SSH transport over russh: one authenticated [`Session`] per target, reused
//! for every command the target needs; and a [`Transport`] that is either it or a
//! simulation of machines (benchmarks and scale runs only).
//!
//! The server's host key is checked during the key exchange, before any authentication
//! request: a key that differs from the pinned one ends the connection and is reported as
//! [`SshError::HostKeyMismatch`], an unknown one (nothing pinned, no trusted host
//! certificate, no trust on first use) as [`SshError::HostKeyUnknown`], so no password or
//! key signature is ever sent to it.

mod error;
mod host_key;
mod probed;
mod session;
mod transport;

pub use error::SshError;
pub use host_key::{HostKeyPolicy, Verified, check_host_certificate};
pub use session::{Auth, ConnectOptions, ExecOutput, Session, fingerprint_of, host_key_of, probe};
pub use transport::{BoxFuture, Simulation, Transport};
