//! The tests' side of TLS: clients that trust a test server by the SHA-256 of its
//! certificate (as the deployer and the CLI do), and that hash read from a data directory.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::Digest;
use std::path::Path;
use std::sync::Arc;

/// SHA-256 (hex) of the first certificate of a PEM file: the server's pin.
pub fn pem_sha256(path: &Path) -> String {
    let pem = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let cert = CertificateDer::from_pem_slice(&pem).expect("a PEM certificate");
    hex::encode(sha2::Sha256::digest(cert.as_ref()))
}

/// A rustls client configuration that accepts exactly the certificate with `sha256`.
pub fn pinned_config(sha256: &str) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { sha256: sha256.to_string(), algorithms }))
        .with_no_client_auth()
}

/// A reqwest client builder that trusts only the certificate with `sha256`.
pub fn client_builder(sha256: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(pinned_config(sha256))
}

pub fn client(sha256: &str) -> reqwest::Client {
    client_builder(sha256).build().expect("pinned client")
}

/// A TLS connection to `addr` (`host:port`) that trusts the certificate with `sha256`.
pub async fn connect(addr: &str, sha256: &str) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(pinned_config(sha256)));
    let name = ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await.expect("TLS handshake")
}

#[derive(Debug)]
struct Pinned {
    sha256: String,
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
        if hex::encode(sha2::Sha256::digest(end_entity.as_ref())) == self.sha256 {
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
