//! Connecting, verifying the host key, logging in, and running commands.

use crate::SshError;
use crate::host_key::{Decision, HostKeyPolicy, Verified, decide, key_algorithms};
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;

/// How to log in.
#[derive(Clone)]
pub enum Auth {
    Password(String),
    /// An OpenSSH (or PEM) private key, with its passphrase if it is encrypted.
    Key {
        private_key_pem: String,
        passphrase: Option<String>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::Password(_) => "Auth::Password(<redacted>)",
            Auth::Key { .. } => "Auth::Key(<redacted>)",
        })
    }
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
    pub host_key: HostKeyPolicy,
    /// For the TCP connection, and again for the handshake and login.
    pub connect_timeout: Duration,
}

/// What a command left behind.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    /// None when the command was ended by a signal or the channel closed without a status.
    pub exit_status: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The most of each output stream kept (the tail).
const OUTPUT_CAP: usize = 1024 * 1024;

/// An authenticated connection.
pub struct Session {
    pub(crate) link: Link,
    /// `host:port`, for messages.
    pub(crate) host: String,
    pub(crate) host_key: String,
    pub(crate) fingerprint: String,
    pub(crate) verified: Verified,
    /// This end's address (the deployer's way back to the server, unless NATed).
    pub(crate) local_ip: Option<std::net::IpAddr>,
}

/// What a session runs its commands over.
pub(crate) enum Link {
    Ssh(Handle<Client>),
    /// A simulated machine (see [`crate::Transport`]).
    Simulated(Arc<dyn crate::Simulation>),
}

/// What the key exchange saw, shared with the handler that russh owns.
#[derive(Default)]
struct Seen {
    key: Option<(String, String)>,
    verified: Option<Verified>,
    refused: Option<SshError>,
}

pub(crate) struct Client {
    /// The host as connected to (a certificate must name it).
    host: String,
    /// `host:port`, for messages.
    host_port: String,
    policy: HostKeyPolicy,
    seen: Arc<Mutex<Seen>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(c) => PublicKey::from(c.public_key().clone()),
        };
        let line = key.to_openssh().map_err(|e| russh::Error::from(russh::keys::Error::from(e)))?;
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.key = Some((line, fingerprint));
        match decide(&self.policy, &self.host, &self.host_port, server_key) {
            Decision::Accept(v) => {
                seen.verified = Some(v);
                Ok(true)
            }
            Decision::Refuse(e) => {
                // Returning false ends the connection here: authentication never starts.
                seen.refused = Some(e);
                Ok(false)
            }
        }
    }
}

fn config(policy: &HostKeyPolicy) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::default();
    let keys = key_algorithms(policy, &preferred.key);
    if !policy.authorities.is_empty() {
        preferred.host_key_certificates = keys.clone().into();
    }
    preferred.key = keys.into();
    // curve25519 first: about a third of the CPU of the post-quantum hybrids per handshake.
    let mut kex: Vec<russh::kex::Name> = preferred.kex.to_vec();
    kex.sort_by_key(|k| *k != russh::kex::CURVE25519);
    preferred.kex = kex.into();
    Arc::new(client::Config {
        preferred,
        inactivity_timeout: Some(Duration::from_secs(600)),
        nodelay: true,
        ..Default::default()
    })
}

fn protocol(e: russh::Error) -> SshError {
    SshError::Protocol(e.to_string())
}

/// Whether something accepts TCP connections at `host:port` within `timeout`. The
/// connection is kept a few seconds for a [`Session::connect`] to the same address.
pub async fn probe(host: &str, port: u16, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => {
            crate::probed::keep(host, port, stream, crate::probed::KEPT_FOR);
            true
        }
        _ => false,
    }
}

/// The host key `host:port` presents now (OpenSSH line, fingerprint), read from the key
/// exchange; the connection ends before authentication, so nothing is sent to the host.
pub async fn host_key_of(host: &str, port: u16, timeout: Duration) -> Result<(String, String), SshError> {
    let unreachable = |reason: String| SshError::Unreachable { host: host.to_string(), port, reason };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => return Err(unreachable(format!("no answer within {} s", timeout.as_secs()))),
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let policy = HostKeyPolicy::default();
    let handler = Client {
        host: host.to_string(),
        host_port: format!("{host}:{port}"),
        policy: policy.clone(),
        seen: seen.clone(),
    };
    let exchange = client::connect_stream(config(&policy), stream, handler);
    let _ = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| SshError::Timeout { what: format!("SSH key exchange with {host}:{port}") })?;
    let key = seen.lock().unwrap_or_else(|e| e.into_inner()).key.clone();
    key.ok_or_else(|| SshError::Protocol(format!("{host}:{port} presented no host key")))
}

/// `SHA256:…` of an OpenSSH public key line, as `ssh-keygen -lf` prints it.
pub fn fingerprint_of(openssh_public_key_line: &str) -> Result<String, SshError> {
    let key = PublicKey::from_openssh(openssh_public_key_line.trim())
        .map_err(|e| SshError::Protocol(format!("not an OpenSSH public key: {e}")))?;
    Ok(key.fingerprint(HashAlg::Sha256).to_string())
}

impl Session {
    /// Connects (over the connection a probe of the address just opened, when there is
    /// one), checks the host key against `opts.host_key` and logs in.
    pub async fn connect(opts: &ConnectOptions) -> Result<Session, SshError> {
        let (host, port) = (opts.host.as_str(), opts.port);
        if let Some(stream) = crate::probed::take(host, port) {
            match Session::connect_over(stream, opts).await {
                // a kept connection the server closed meanwhile: a new one below
                Err((_, false)) => {}
                done => return done.map_err(|(e, _)| e),
            }
        }
        let unreachable = |reason: String| SshError::Unreachable { host: host.to_string(), port, reason };
        let stream = match tokio::time::timeout(opts.connect_timeout, TcpStream::connect((host, port))).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                return Err(unreachable(format!("no answer within {} s", opts.connect_timeout.as_secs())));
            }
        };
        Session::connect_over(stream, opts).await.map_err(|(e, _)| e)
    }

    /// The key exchange and login over `stream`; an error says whether it is final
    /// (false: the connection ended before the server's host key, no time ran out).
    async fn connect_over(stream: TcpStream, opts: &ConnectOptions) -> Result<Session, (SshError, bool)> {
        let (host, port) = (opts.host.clone(), opts.port);
        let local_ip = stream.local_addr().ok().map(|a| a.ip());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let handler = Client {
            host: host.clone(),
            host_port: format!("{host}:{port}"),
            policy: opts.host_key.clone(),
            seen: seen.clone(),
        };
        let login = async {
            let connected = client::connect_stream(config(&opts.host_key), stream, handler).await;
            let refused = seen.lock().unwrap_or_else(|e| e.into_inner()).refused.take();
            if let Some(e) = refused {
                return Err(e);
            }
            let mut handle = connected.map_err(protocol)?;
            authenticate(&mut handle, opts).await?;
            Ok(handle)
        };
        let handle = tokio::time::timeout(opts.connect_timeout, login)
            .await
            .unwrap_or_else(|_| Err(SshError::Timeout { what: format!("SSH handshake and login at {host}:{port}") }));
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        let handle = handle.map_err(|e| {
            let early = seen.key.is_none() && !matches!(e, SshError::Timeout { .. });
            (e, !early)
        })?;
        let (Some((host_key, fingerprint)), Some(verified)) = (seen.key.clone(), seen.verified.clone()) else {
            return Err((SshError::Protocol("the server presented no host key".into()), true));
        };
        Ok(Session {
            link: Link::Ssh(handle),
            host: format!("{host}:{port}"),
            host_key,
            fingerprint,
            verified,
            local_ip,
        })
    }

    /// How the host key was trusted: pinned, certificate, or first use (pin it then).
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// The server's host key as an OpenSSH public key line.
    pub fn host_key(&self) -> &str {
        &self.host_key
    }

    /// This end's address of the connection: where the host sees the connection come
    /// from, unless a NAT is in between.
    pub fn local_ip(&self) -> Option<std::net::IpAddr> {
        self.local_ip
    }

    pub fn host_key_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Runs `command` without a terminal, writes `stdin` then end-of-file, and collects
    /// the exit status and output (the last MiB of each stream). Both are taken, and let
    /// go once sent: a start's command line is about 11 KB, and a target waiting for its
    /// script's end need not hold it.
    pub async fn exec(&self, command: String, stdin: Vec<u8>, timeout: Duration) -> Result<ExecOutput, SshError> {
        // boxed, as a connection is (see `Transport::connect`)
        tokio::time::timeout(timeout, Box::pin(self.exec_inner(command, stdin))).await.map_err(|_| {
            SshError::Timeout { what: format!("a command on {} (after {} s)", self.host, timeout.as_secs()) }
        })?
    }

    async fn exec_inner(&self, command: String, stdin: Vec<u8>) -> Result<ExecOutput, SshError> {
        let handle = match &self.link {
            Link::Ssh(h) => h,
            Link::Simulated(sim) => return sim.exec(&self.host, command, stdin).await,
        };
        let channel = handle.channel_open_session().await.map_err(protocol)?;
        channel.exec(true, command).await.map_err(protocol)?;
        let (mut read, write) = channel.split();
        let writer = async move {
            if !stdin.is_empty() {
                // in packets as large as the server takes (32 KiB from OpenSSH): an
                // AsyncRead would send 8 KiB ones, four times the server's work
                write.data_bytes(stdin).await?;
            }
            write.eof().await?;
            Ok::<_, russh::Error>(write)
        };
        let reader = async move {
            let mut out = ExecOutput::default();
            while let Some(msg) = read.wait().await {
                match msg {
                    ChannelMsg::Data { data } => append(&mut out.stdout, &data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => append(&mut out.stderr, &data),
                    ChannelMsg::ExitStatus { exit_status } => out.exit_status = Some(exit_status),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            out
        };
        tokio::pin!(writer, reader);
        // A command that exits without reading its input closes the channel under the
        // writer, which may be waiting for window space the peer never gives (a large
        // input): the channel's end ends the writing too. Its output and status are what
        // count.
        let (written, out) = tokio::select! {
            w = &mut writer => {
                let out = (&mut reader).await;
                (w.map(|_| ()), out)
            }
            out = &mut reader => (Ok(()), out),
        };
        if let Err(e) = written
            && out.exit_status.is_none()
        {
            return Err(protocol(e));
        }
        Ok(out)
    }

    pub async fn close(self) {
        let Link::Ssh(handle) = self.link else { return };
        // boxed: russh's disconnect is ~1.8 KB, and callers (a target's driver) would carry it
        let _ = Box::pin(handle.disconnect(Disconnect::ByApplication, "", "en")).await;
    }
}

fn append(buf: &mut Vec<u8>, data: &[u8]) {
    buf.extend_from_slice(data);
    if buf.len() > OUTPUT_CAP {
        let cut = buf.len() - OUTPUT_CAP;
        buf.drain(..cut);
    }
}

async fn authenticate(handle: &mut Handle<Client>, opts: &ConnectOptions) -> Result<(), SshError> {
    let failed = |method: &str| SshError::AuthFailed {
        user: opts.user.clone(),
        host: format!("{}:{}", opts.host, opts.port),
        method: method.into(),
    };
    match &opts.auth {
        Auth::Password(pw) => {
            let r = handle.authenticate_password(opts.user.clone(), pw.clone()).await.map_err(protocol)?;
            if !r.success() {
                return Err(failed("password"));
            }
        }
        Auth::Key { private_key_pem, passphrase } => {
            let key = russh::keys::decode_secret_key(private_key_pem, passphrase.as_deref()).map_err(|e| {
                SshError::BadKey(match passphrase {
                    Some(_) => format!("{e} (is the passphrase right?)"),
                    None => format!("{e} (if the key is encrypted, give its passphrase)"),
                })
            })?;
            let hash = if key.algorithm().is_rsa() {
                handle.best_supported_rsa_hash().await.map_err(protocol)?.flatten()
            } else {
                None
            };
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
            let r = handle.authenticate_publickey(opts.user.clone(), key).await.map_err(protocol)?;
            if !r.success() {
                return Err(failed("public key"));
            }
        }
    }
    Ok(())
}
