//! How the CLI trusts the server's TLS certificate: by the SHA-256 pinned at `drover
//! login` (or given), through a certificate authority's PEM file, or through the
//! public authorities; and reading the fingerprint of a server not trusted yet.

use anyhow::{Context, anyhow};
use drover_domain::cert_fingerprint;
use drover_tls_pin::{Seen, pinned_config};
use std::path::PathBuf;

/// What the CLI trusts the server's certificate by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Only the certificate with this SHA-256 (lowercase hex).
    Pin(String),
    /// Certificates issued by the authority in this PEM file (or the public ones).
    Ca(PathBuf),
    /// The public certificate authorities.
    Public,
}

/// A fingerprint as given (`AB:CD:…`, hex, `SHA256:` prefix) as lowercase hex.
pub fn parse_fingerprint(text: &str) -> anyhow::Result<String> {
    cert_fingerprint::parse(text).map_err(|e| anyhow!(e))
}

/// The HTTP client for `trust`.
pub fn http_client(trust: &Trust) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder();
    let builder = match trust {
        Trust::Pin(sha) => builder.use_preconfigured_tls(config(Some(sha.as_str()), Seen::default())?),
        Trust::Ca(path) => {
            let pem =
                std::fs::read(path).with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
            let ca = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            builder.add_root_certificate(ca)
        }
        Trust::Public => builder,
    };
    builder.build().context("cannot create the HTTP client")
}

/// The SHA-256 of the certificate the server at `url` presents, read in a handshake
/// that is then broken off: nothing is sent to the server.
pub async fn peek(url: &str) -> anyhow::Result<String> {
    let seen = Seen::default();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(config(None, seen.clone())?)
        .build()
        .context("cannot create the HTTP client")?;
    let err = match http.get(format!("{url}/healthz")).send().await {
        Ok(_) => anyhow!("the server at {url} accepted a handshake that reads its certificate"),
        Err(e) => anyhow!("cannot reach the drover server at {url} ({e})"),
    };
    seen.get().ok_or(err)
}

fn config(pin: Option<&str>, seen: Seen) -> anyhow::Result<rustls::ClientConfig> {
    pinned_config(pin, seen).context("cannot set up TLS")
}
