//! The built-in package share: files stored by their SHA-256 under the data directory.

use crate::error::{EngineError, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Share {
    root: PathBuf,
}

impl Share {
    pub fn open(root: PathBuf) -> Result<Share> {
        std::fs::create_dir_all(&root)?;
        Ok(Share { root })
    }

    /// Stores the bytes (once) and returns their hex SHA-256.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&sha)?;
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension(format!("tmp{}", rand::random::<u32>()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(sha)
    }

    /// Where the file with this hash lives; an error for anything that is not a hash.
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf> {
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
            return Err(EngineError::NotFound(format!("'{sha256}' is not a file hash")));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }

    pub fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self.path_of(sha256)?;
        std::fs::read(&path).map_err(|e| missing(sha256, &path, e))
    }

    /// Moves a staged file (on the same file system) into the share under its hash,
    /// unless the share already has it. Returns whether it was added.
    pub fn adopt(&self, staged: &Path, sha256: &str) -> Result<bool> {
        let path = self.path_of(sha256)?;
        if path.exists() {
            return Ok(false);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::rename(staged, &path)?;
        Ok(true)
    }

    /// Removes a file (gone already is fine).
    pub fn remove(&self, sha256: &str) -> Result<()> {
        match std::fs::remove_file(self.path_of(sha256)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The hashes of every file on the share.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for dir in std::fs::read_dir(&self.root)? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(dir.path())? {
                let name = f?.file_name().to_string_lossy().into_owned();
                if self.path_of(&name).is_ok() {
                    out.push(name);
                }
            }
        }
        Ok(out)
    }
}

/// The server log gets the path; the answer only the hash.
fn missing(sha256: &str, path: &Path, e: std::io::Error) -> EngineError {
    tracing::error!("share file {} is missing: {e}", path.display());
    EngineError::NotFound(format!("share file {sha256} is missing on the server (see its log)"))
}
