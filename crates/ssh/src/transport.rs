//! How the engine reaches machines: over SSH ([`Session::connect`], the real transport), or
//! through a [`Simulation`] of in-memory machines, for benchmarks and scale runs only: the
//! engine, store and thread limiter run as they do over SSH, the machines do not exist.
//! A simulated host key still goes through the same host-key decision as a real one.

use crate::host_key::{Decision, decide};
use crate::session::Link;
use crate::{ConnectOptions, ExecOutput, Session, SshError};
use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed future, as the [`Simulation`] trait returns (it is used as a trait object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Simulated machines: what each answers, after the latency the simulation chooses.
pub trait Simulation: Send + Sync + 'static {
    /// Whether the machine at `host:port` answers on its SSH port.
    fn probe<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, bool>;
    /// The key exchange and login: the host key the machine presents (an OpenSSH public
    /// key line), or why the connection or login failed.
    fn handshake<'a>(&'a self, opts: &'a ConnectOptions) -> BoxFuture<'a, Result<String, SshError>>;
    /// Runs `command` on the machine at `host` (as `host:port`) with `stdin`.
    fn exec<'a>(
        &'a self,
        host: &'a str,
        command: String,
        stdin: Vec<u8>,
    ) -> BoxFuture<'a, Result<ExecOutput, SshError>>;
}

/// The way to machines: real SSH (the default), or a simulation.
#[derive(Clone, Default)]
pub enum Transport {
    #[default]
    Ssh,
    Simulated(Arc<dyn Simulation>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Ssh => "Transport::Ssh",
            Transport::Simulated(_) => "Transport::Simulated",
        })
    }
}

impl Transport {
    /// Whether something answers on `host:port` within `timeout`.
    pub async fn probe(&self, host: &str, port: u16, timeout: Duration) -> bool {
        match self {
            Transport::Ssh => crate::probe(host, port, timeout).await,
            Transport::Simulated(sim) => tokio::time::timeout(timeout, sim.probe(host, port)).await.unwrap_or(false),
        }
    }

    /// Connects, checks the host key against `opts.host_key` and logs in.
    pub async fn connect(&self, opts: &ConnectOptions) -> Result<Session, SshError> {
        let sim = match self {
            // boxed: a connection's future is large (the key exchange, the login), and
            // every task that may connect would otherwise carry its size while it waits
            Transport::Ssh => return Box::pin(Session::connect(opts)).await,
            Transport::Simulated(sim) => sim.clone(),
        };
        let host = format!("{}:{}", opts.host, opts.port);
        let line = tokio::time::timeout(opts.connect_timeout, sim.handshake(opts))
            .await
            .map_err(|_| SshError::Timeout { what: format!("SSH handshake and login at {host} (simulated)") })??;
        let key = PublicKey::from_openssh(line.trim())
            .map_err(|e| SshError::Protocol(format!("{host} presented an unreadable host key: {e}")))?;
        let presented = PublicKeyOrCertificate::PublicKey { key: key.clone(), hash_alg: None };
        let verified = match decide(&opts.host_key, &opts.host, &host, &presented) {
            Decision::Accept(v) => v,
            Decision::Refuse(e) => return Err(e),
        };
        Ok(Session {
            link: Link::Simulated(sim),
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            host,
            host_key: line.trim().to_string(),
            verified,
            local_ip: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Auth, HostKeyPolicy, Verified};

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4wtHiAe81mRMWVMRuqUtAgQcMhUvyaPDz5kINMyG5V sim";
    const OTHER: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHmi2woPHCcv/JNhtA7DU3nHA1/MM32Qog0ukoBatGv other";

    /// One simulated machine that echoes the command and its input.
    struct Echo;

    impl Simulation for Echo {
        fn probe<'a>(&'a self, host: &'a str, _port: u16) -> BoxFuture<'a, bool> {
            Box::pin(async move { host != "off" })
        }
        fn handshake<'a>(&'a self, _opts: &'a ConnectOptions) -> BoxFuture<'a, Result<String, SshError>> {
            Box::pin(async { Ok(KEY.to_string()) })
        }
        fn exec<'a>(
            &'a self,
            host: &'a str,
            command: String,
            stdin: Vec<u8>,
        ) -> BoxFuture<'a, Result<ExecOutput, SshError>> {
            Box::pin(async move {
                let stdout = format!("{host} {command} {}", String::from_utf8_lossy(&stdin)).into_bytes();
                Ok(ExecOutput { exit_status: Some(0), stdout, stderr: Vec::new() })
            })
        }
    }

    fn opts(host_key: HostKeyPolicy) -> ConnectOptions {
        ConnectOptions {
            host: "h1".into(),
            port: 22,
            user: "root".into(),
            auth: Auth::Password("x".into()),
            host_key,
            connect_timeout: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn a_simulated_host_key_goes_through_the_host_key_decision() {
        let t = Transport::Simulated(Arc::new(Echo));
        assert!(t.probe("h1", 22, Duration::from_secs(1)).await);
        assert!(!t.probe("off", 22, Duration::from_secs(1)).await);

        let unknown = t.connect(&opts(HostKeyPolicy::default())).await.err();
        assert!(matches!(unknown, Some(SshError::HostKeyUnknown { .. })), "{unknown:?}");
        let pinned_other = HostKeyPolicy { pinned: vec![OTHER.into()], ..Default::default() };
        let mismatch = t.connect(&opts(pinned_other)).await.err();
        assert!(matches!(mismatch, Some(SshError::HostKeyMismatch { .. })), "{mismatch:?}");

        let first = t.connect(&opts(HostKeyPolicy { trust_first_use: true, ..Default::default() })).await.unwrap();
        assert_eq!(first.verified(), &Verified::FirstUse);
        assert_eq!(first.host_key(), KEY);
        let out = first.exec("run".into(), b"in".to_vec(), Duration::from_secs(1)).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "h1:22 run in");
        first.close().await;

        let pinned = HostKeyPolicy { pinned: vec![KEY.into()], ..Default::default() };
        assert_eq!(t.connect(&opts(pinned)).await.unwrap().verified(), &Verified::Pinned);
    }
}
