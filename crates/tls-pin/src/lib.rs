//! Trusting a TLS server by the SHA-256 of its certificate (a pin), as the deployer, the
//! CLI and the tests do: only the certificate with that hash is accepted, and the
//! handshake's signature is still checked with it. The hash of the certificate each
//! handshake met is kept, so a caller can say what it saw instead of the pin.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// The SHA-256 (lowercase hex) of the last certificate a handshake met.
#[derive(Debug, Clone, Default)]
pub struct Seen(Arc<Mutex<Option<String>>>);

impl Seen {
    pub fn get(&self) -> Option<String> {
        self.0.lock().map(|s| s.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    fn set(&self, sha256: String) {
        if let Ok(mut s) = self.0.lock() {
            *s = Some(sha256);
        }
    }
}

/// A rustls client configuration (ring) that accepts only the certificate whose SHA-256
/// is `pin` (hex, either case), or no certificate at all without one (to read a
/// server's certificate in a handshake that is then broken off); what it met goes to `seen`.
pub fn pinned_config(pin: Option<&str>, seen: Seen) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Pinned {
        want: pin.map(|p| p.trim().to_ascii_lowercase()),
        seen,
        algorithms: provider.signature_verification_algorithms,
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

#[derive(Debug)]
struct Pinned {
    want: Option<String>,
    seen: Seen,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = hex::encode(Sha256::digest(end_entity.as_ref()));
        let ok = self.want.as_deref() == Some(got.as_str());
        self.seen.set(got);
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
