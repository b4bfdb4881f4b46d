//! HTTPS to the server: when the job pins the server's certificate (its SHA-256), every
//! connection is verified against that pin alone (the handshake's signature still
//! checked), so no token or file goes to any other server; a mismatch is remembered
//! and told by [`ServerAgent::mismatch`]. Without a pin, `https://` is verified through
//! the bundled public roots and `http://` is plain (a server run with `--insecure-http`).

use drover_proto::{Job, OtherServer};
use drover_tls_pin::{Seen, pinned_config};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::sync::Arc;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector, Transport, TransportAdapter,
};

/// An HTTP agent for the server, and what it saw when the server was not the pinned one.
pub struct ServerAgent {
    pub agent: ureq::Agent,
    pin: Option<String>,
    seen: Seen,
}

impl ServerAgent {
    /// An agent with `config` that trusts only the certificate whose SHA-256 (hex) is
    /// `pin`, when there is one.
    pub fn new(config: ureq::config::Config, pin: Option<&str>) -> ServerAgent {
        let seen = Seen::default();
        let Some(pin) = pin.map(|p| p.trim().to_ascii_lowercase()) else {
            return ServerAgent { agent: ureq::Agent::new_with_config(config), pin: None, seen };
        };
        let tls = pinned_config(Some(&pin), seen.clone()).ok().map(Arc::new);
        let connector = ().chain(TcpConnector::default()).chain(PinnedTls { config: tls });
        ServerAgent {
            agent: ureq::Agent::with_parts(config, connector, DefaultResolver::default()),
            pin: Some(pin),
            seen,
        }
    }

    /// The agent a task's reports go through, and the check before them: 5 s a request,
    /// an HTTP error status as an answer.
    pub fn for_reports(pin: Option<&str>) -> ServerAgent {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .http_status_as_error(false)
            .build();
        ServerAgent::new(config, pin)
    }

    /// Why the server is not trusted, when a connection met another certificate than the
    /// pinned one.
    pub fn mismatch(&self, url: &str) -> Option<String> {
        let seen = self.seen.get().filter(|s| Some(s) != self.pin.as_ref())?;
        Some(format!(
            "the server at {url} presented a TLS certificate with SHA-256 {seen}, but the job pins {}: \
             it is not the drover server that started this task (a machine in the middle, or the server's certificate changed), \
             so no token and no report was sent to it",
            self.pin.as_deref().unwrap_or("")
        ))
    }
}

/// The other nodes a job names that may be sent its tokens: where the job pins its
/// server, only `https://` ones with a pin of their own.
pub fn other_servers(job: &Job) -> impl Iterator<Item = &OtherServer> {
    let pinned = job.server_cert_sha256.is_some();
    job.other_servers.iter().filter(move |o| !pinned || (o.url.starts_with("https://") && o.cert_sha256.is_some()))
}

/// Reads an answer to its end (at most 64 KiB): only then ureq puts its connection back in
/// the agent's pool for the next request; otherwise the next one is a new TCP and TLS
/// handshake on both ends.
pub fn finish_answer(answer: &mut ureq::http::Response<ureq::Body>) {
    let _ = answer.body_mut().with_config().limit(64 * 1024).read_to_vec();
}

/// Whether the job's server may be sent its tokens: with a pin, the server must answer
/// a TLS handshake (an unauthenticated `GET /healthz`) with the pinned certificate. A
/// server that cannot be reached now passes (reports are tried again later, each over
/// a pinned connection). The connection stays in `server`'s pool for the first report.
/// Err: why nothing may be sent.
pub fn check_server(server: &ServerAgent, server_url: &str) -> Result<(), String> {
    if server.pin.is_none() {
        return Ok(());
    }
    if !server_url.starts_with("https://") {
        return Err(format!(
            "the job pins the server's TLS certificate but names the plain-HTTP address {server_url}: \
             refusing to send its tokens in clear (give the server an https:// --public-url)"
        ));
    }
    let url = format!("{}/healthz", server_url.trim_end_matches('/'));
    match server.agent.get(&url).call() {
        Ok(mut answer) => {
            finish_answer(&mut answer);
            Ok(())
        }
        Err(e) => match server.mismatch(server_url) {
            Some(why) => Err(why),
            None => {
                eprintln!("drover-deployer: cannot reach the server at {url} yet ({e}); reports will be tried again");
                Ok(())
            }
        },
    }
}

/// ureq's TLS step with the pinning configuration (None: it could not be built, and
/// every `https://` connection fails).
#[derive(Debug)]
struct PinnedTls {
    config: Option<Arc<ClientConfig>>,
}

impl<In: Transport> Connector<In> for PinnedTls {
    type Out = Either<In, TlsTransport>;

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let config = self.config.clone().ok_or(ureq::Error::Tls("no TLS configuration for the pinned server"))?;
        let host = details.uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ureq::Error::Tls("the server's host name is not valid for TLS"))?;
        let mut conn = ClientConnection::new(config, name).map_err(|_| ureq::Error::Tls("cannot start TLS"))?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport { buffers, stream: StreamOwned { conn, sock } })))
    }
}

pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
