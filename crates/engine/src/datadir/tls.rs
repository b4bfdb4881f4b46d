//! The server's TLS certificate: made on first start (`tls-cert.pem`, and its key
//! `tls-key.pem` with mode 0600, in the data directory) or read from files an admin
//! gives; and its SHA-256, which jobs carry so deployers pin it.

use super::{read_private, write_private};
use crate::error::{EngineError, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The certificate made on first start, in the data directory.
pub const CERT_FILE: &str = "tls-cert.pem";
/// Its private key (mode 0600).
pub const KEY_FILE: &str = "tls-key.pem";

/// A certificate chain (leaf first) with its key.
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the leaf certificate (DER), lowercase hex: what deployers pin.
    pub sha256: String,
    /// Where the certificate is, to show an admin.
    pub cert_path: PathBuf,
    /// Made just now (first start).
    pub created: bool,
}

impl std::fmt::Debug for ServerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCert").field("sha256", &self.sha256).field("cert_path", &self.cert_path).finish()
    }
}

/// SHA-256 of a certificate's DER, lowercase hex.
pub fn sha256_hex(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The certificate of `data_dir`, made now (self-signed, for `names`: host names and IP
/// addresses) when there is none yet.
pub fn load_or_create(data_dir: &Path, names: &[String]) -> Result<ServerCert> {
    let cert_path = data_dir.join(CERT_FILE);
    let key_path = data_dir.join(KEY_FILE);
    match (read_private(&cert_path)?, read_private(&key_path)?) {
        (Some(cert), Some(key)) => parse(&cert, &cert_path, &key, &key_path, false),
        (None, None) => {
            let (cert, key) = generate(names)?;
            write_private(&key_path, key.as_bytes())?;
            write_private(&cert_path, cert.as_bytes())?;
            parse(cert.as_bytes(), &cert_path, key.as_bytes(), &key_path, true)
        }
        (Some(_), None) | (None, Some(_)) => Err(EngineError::Internal(format!(
            "of the server's TLS certificate {} and its key {}, only one is there: restore the other from your backup, \
             or remove both to make a new certificate (deployers then pin the new one; CLI users log in again)",
            cert_path.display(),
            key_path.display()
        ))),
    }
}

/// A certificate chain and key from PEM files an admin gives.
pub fn from_files(cert_path: &Path, key_path: &Path) -> Result<ServerCert> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| EngineError::Internal(format!("cannot read the TLS file {} ({e})", p.display())))
    };
    parse(&read(cert_path)?, cert_path, &read(key_path)?, key_path, false)
}

/// A self-signed certificate for `names` and its key, as PEM.
pub fn generate(names: &[String]) -> Result<(String, String)> {
    let fail = |e: rcgen::Error| EngineError::Internal(format!("cannot make the server's TLS certificate ({e})"));
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(fail)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "drover server");
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn parse(cert: &[u8], cert_path: &Path, key: &[u8], key_path: &Path, created: bool) -> Result<ServerCert> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| EngineError::Internal(format!("{} is not a PEM certificate chain ({e})", cert_path.display())))?;
    let Some(leaf) = chain.first() else {
        return Err(EngineError::Internal(format!("{} holds no certificate (PEM)", cert_path.display())));
    };
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| {
        EngineError::Internal(format!("{} is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}", key_path.display()))
    })?;
    Ok(ServerCert { sha256: sha256_hex(leaf), chain, key, cert_path: cert_path.to_path_buf(), created })
}

/// The names a self-signed certificate is made for: `localhost`, the loopback addresses,
/// this machine's host name and the host of each given address or URL (the listen
/// address unless it is a wildcard, the public URL).
pub fn default_names(addresses: &[&str]) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(h.trim().to_string());
    }
    for a in addresses {
        let rest = a.split_once("://").map_or(*a, |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        names.push(host.to_string());
    }
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !n.is_empty() && n != "0.0.0.0" && n != "::" && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_read_back_with_the_same_pin() {
        let dir = tempfile::tempdir().unwrap();
        let names = default_names(&["0.0.0.0:8080", "https://drover.example:8443/", "[fd00::1]:80"]);
        assert!(names.contains(&"drover.example".to_string()) && names.contains(&"fd00::1".to_string()));
        assert!(!names.contains(&"0.0.0.0".to_string()));
        let first = load_or_create(dir.path(), &names).unwrap();
        assert!(first.created);
        assert_eq!(first.sha256, sha256_hex(&first.chain[0]));
        let again = load_or_create(dir.path(), &names).unwrap();
        assert!(!again.created);
        assert_eq!(again.sha256, first.sha256);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let given = from_files(&dir.path().join(CERT_FILE), &dir.path().join(KEY_FILE)).unwrap();
        assert_eq!(given.sha256, first.sha256);
        // a lone key is not silently replaced
        std::fs::remove_file(dir.path().join(CERT_FILE)).unwrap();
        let err = load_or_create(dir.path(), &names).unwrap_err().to_string();
        assert!(err.contains("only one is there"), "{err}");
    }
}
