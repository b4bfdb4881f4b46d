//! The tests' side of TLS: clients that trust a test server by the SHA-256 of its
//! certificate (as the deployer and the CLI do), and that hash read from a data directory.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
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
    drover_tls_pin::pinned_config(Some(sha256), Default::default()).expect("TLS versions")
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
