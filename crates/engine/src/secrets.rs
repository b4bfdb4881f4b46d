//! Random tokens and their hashes: only hashes are stored, the token travels once.

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random token (256 bits, URL-safe base64).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
