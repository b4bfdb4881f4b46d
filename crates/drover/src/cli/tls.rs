//! How the CLI trusts the server's TLS certificate: by the SHA-256 pinned at `drover
//! login` (or given), through a certificate authority's PEM file, or through the
//! public authorities; and reading the fingerprint of a server not trusted yet.

use anyhow::{Context, anyhow};
use drover_domain::cert_fingerprint;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::Digest;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
        Trust::Pin(sha) => builder.use_preconfigured_tls(config(Arc::new(Mutex::new(None)), Some(sha.clone()))?),
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
    let seen = Arc::new(Mutex::new(None));
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(config(Arc::clone(&seen), None)?)
        .build()
        .context("cannot create the HTTP client")?;
    let err = match http.get(format!("{url}/healthz")).send().await {
        Ok(_) => anyhow!("the server at {url} accepted a handshake that reads its certificate"),
        Err(e) => anyhow!("cannot reach the drover server at {url} ({e})"),
    };
    let sha = seen.lock().map(|s| s.clone()).unwrap_or_else(|e| e.into_inner().clone());
    sha.ok_or(err)
}

fn config(seen: Arc<Mutex<Option<String>>>, want: Option<String>) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let verifier = Pinned { want, seen, algorithms };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?;
    Ok(builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth())
}

/// Accepts the certificate with the wanted SHA-256 (the handshake's signature checked
/// with it); records what it saw, and accepts nothing when nothing is wanted.
#[derive(Debug)]
struct Pinned {
    want: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = hex::encode(sha2::Sha256::digest(end_entity.as_ref()));
        let ok = self.want.as_deref() == Some(got.as_str());
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(got);
        }
        if ok {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
