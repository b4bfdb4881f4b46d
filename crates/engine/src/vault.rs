//! The credential vault: secrets sealed with XChaCha20-Poly1305 under a key file.
//!
//! Each sealed blob is `nonce (24 bytes) || ciphertext`, with the credential id as
//! associated data, so a blob copied to another row does not open.

use crate::error::{EngineError, Result};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use drover_domain::credential::CredentialSecret;
use drover_domain::ids::CredentialId;
use rand::RngCore;
use std::path::Path;

const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct Vault {
    cipher: XChaCha20Poly1305,
    /// A key for MACs (the console's CSRF tokens), derived from the vault key.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<key redacted>)")
    }
}

/// The text sealed as the vault's check value.
const CHECK_TEXT: &[u8] = b"drover vault check";
const CHECK_AAD: &[u8] = b"drover-vault-check";

impl Vault {
    /// A vault over a 32-byte key read from `path` (named in the error).
    pub fn from_key(key: &[u8], path: &Path) -> Result<Vault> {
        let key = Key::try_from(key)
            .map_err(|_| EngineError::Internal(format!("key file {} must hold exactly 32 bytes", path.display())))?;
        let mac_key = crate::sessions::hmac_sha256(key.as_slice(), b"drover mac key");
        Ok(Vault { cipher: XChaCha20Poly1305::new(&key), mac_key })
    }

    /// The key for MACs derived from the vault key.
    pub(crate) fn mac_key(&self) -> &[u8; 32] {
        &self.mac_key
    }

    /// A new random key.
    pub fn new_key() -> Vec<u8> {
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        key
    }

    /// Loads the 32-byte key file, creating it (mode 0600) when it does not exist. The
    /// server opens its key with [`crate::datadir::open_vault`], which also checks it
    /// against the database.
    pub fn open_or_create(path: &Path) -> Result<Vault> {
        let key = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Vault::new_key();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                crate::datadir::write_private(path, &key)?;
                key
            }
            Err(e) => {
                return Err(EngineError::Internal(format!("cannot read key file {}: {e}", path.display())));
            }
        };
        Vault::from_key(&key, path)
    }

    /// The check value: a known text sealed with this key, as base64.
    pub fn seal_check(&self) -> Result<String> {
        use base64::Engine as _;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: CHECK_TEXT, aad: CHECK_AAD })
            .map_err(|_| EngineError::Internal("encryption failed".into()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode([nonce.as_slice(), &sealed].concat()))
    }

    /// Whether this key opens a check value made by [`Vault::seal_check`].
    pub fn opens_check(&self, check: &str) -> bool {
        use base64::Engine as _;
        let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(check) else { return false };
        if blob.len() < NONCE_LEN {
            return false;
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let Ok(nonce) = XNonce::try_from(nonce) else { return false };
        self.cipher.decrypt(&nonce, Payload { msg: sealed, aad: CHECK_AAD }).is_ok_and(|p| p == CHECK_TEXT)
    }

    pub fn seal(&self, id: CredentialId, secret: &CredentialSecret) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(secret).map_err(|e| EngineError::Internal(e.to_string()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = aad(id);
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: &plain, aad: &aad })
            .map_err(|_| EngineError::Internal("encryption failed".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    pub fn open(&self, id: CredentialId, blob: &[u8]) -> Result<CredentialSecret> {
        let fail = || {
            EngineError::Internal(format!(
                "the secret of credential {id} does not decrypt: the key file differs from the one it was saved with"
            ))
        };
        if blob.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| fail())?;
        let aad = aad(id);
        let plain = self.cipher.decrypt(&nonce, Payload { msg: sealed, aad: &aad }).map_err(|_| fail())?;
        serde_json::from_slice(&plain).map_err(|_| fail())
    }
}

fn aad(id: CredentialId) -> Vec<u8> {
    format!("drover-credential:{id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_for_the_same_row_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open_or_create(&dir.path().join("k")).unwrap();
        let s = CredentialSecret { password: Some("pw".into()), ..Default::default() };
        let blob = v.seal(CredentialId(1), &s).unwrap();
        assert!(!blob.windows(2).any(|w| w == b"pw"));
        assert_eq!(v.open(CredentialId(1), &blob).unwrap(), s);
        assert!(v.open(CredentialId(2), &blob).is_err());
        let again = Vault::open_or_create(&dir.path().join("k")).unwrap();
        assert_eq!(again.open(CredentialId(1), &blob).unwrap(), s);
        let other = Vault::open_or_create(&dir.path().join("k2")).unwrap();
        assert!(other.open(CredentialId(1), &blob).is_err());
    }
}
