//! The built-in package share: files stored by their SHA-256 under the data directory.
//! The files served lately are kept in memory (`hot`): a deployment sends the same file
//! to hundreds of targets at once, and from memory each answer costs no disk read, no
//! copy and no trip to the blocking pool.

use crate::error::{EngineError, Result};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Files up to this size are kept in memory once served ...
pub const HOT_FILE_MAX: u64 = 32 << 20;
/// ... up to this much in all (the least lately served go first).
pub const HOT_TOTAL_MAX: u64 = 128 << 20;

#[derive(Debug, Clone)]
pub struct Share {
    root: PathBuf,
    hot: Arc<Mutex<Hot>>,
}

/// The files in memory, by hash: each read from disk once (the first answer reads it,
/// those at the same time wait for it), with when it was last served.
#[derive(Debug, Default)]
struct Hot {
    files: HashMap<String, (Arc<OnceCell<Bytes>>, u64, u64)>,
    tick: u64,
}

impl Share {
    pub fn open(root: PathBuf) -> Result<Share> {
        std::fs::create_dir_all(&root)?;
        Ok(Share { root, hot: Default::default() })
    }

    /// The file's bytes from memory, read from disk first if they are not there; None
    /// for a file larger than [`HOT_FILE_MAX`] (streamed from disk instead).
    pub async fn hot(&self, sha256: &str, size: u64) -> Result<Option<Bytes>> {
        if size > HOT_FILE_MAX {
            return Ok(None);
        }
        let cell = {
            let mut hot = self.hot.lock().unwrap_or_else(|e| e.into_inner());
            hot.tick += 1;
            let tick = hot.tick;
            let entry = hot.files.entry(sha256.to_string()).or_insert_with(|| (Default::default(), 0, size));
            entry.1 = tick;
            let cell = Arc::clone(&entry.0);
            hot.evict_beyond(HOT_TOTAL_MAX);
            cell
        };
        let path = self.path_of(sha256)?;
        let read = cell
            .get_or_try_init(|| async {
                let read = tokio::task::spawn_blocking(move || std::fs::read(&path).map_err(|e| (path, e))).await;
                match read {
                    Ok(Ok(b)) => Ok(Bytes::from(b)),
                    Ok(Err((path, e))) => Err(missing(sha256, &path, e)),
                    Err(e) => Err(EngineError::Internal(format!("reading share file {sha256}: {e}"))),
                }
            })
            .await;
        match read {
            Ok(bytes) => Ok(Some(bytes.clone())),
            Err(e) => {
                let mut hot = self.hot.lock().unwrap_or_else(|e| e.into_inner());
                if hot.files.get(sha256).is_some_and(|f| Arc::ptr_eq(&f.0, &cell)) {
                    hot.files.remove(sha256);
                }
                Err(e)
            }
        }
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
        self.hot.lock().unwrap_or_else(|e| e.into_inner()).files.remove(sha256);
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

impl Hot {
    /// Drops the least lately served files until those kept take at most `max` bytes.
    fn evict_beyond(&mut self, max: u64) {
        while self.files.values().map(|f| f.2).sum::<u64>() > max {
            let Some(oldest) = self.files.iter().min_by_key(|(_, f)| f.1).map(|(k, _)| k.clone()) else { return };
            self.files.remove(&oldest);
        }
    }
}

/// The server log gets the path; the answer only the hash.
fn missing(sha256: &str, path: &Path, e: std::io::Error) -> EngineError {
    tracing::error!("share file {} is missing: {e}", path.display());
    EngineError::NotFound(format!("share file {sha256} is missing on the server (see its log)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn served_files_are_kept_in_memory_within_bounds() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let share = Share::open(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
        let a = share.put(b"first file").unwrap_or_else(|e| panic!("{e}"));
        let b = share.put(b"second").unwrap_or_else(|e| panic!("{e}"));
        let got = share.hot(&a, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.as_deref(), Some(&b"first file"[..]));
        // from memory now: the file on disk is not read again
        std::fs::remove_file(share.path_of(&a).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(share.hot(&a, 10).await.ok().flatten().as_deref(), Some(&b"first file"[..]));
        // too large for memory: None, streamed from disk by the caller
        assert_eq!(share.hot(&b, HOT_FILE_MAX + 1).await.ok().flatten(), None);
        // a file that is missing is an error, and nothing is kept for it
        let missing = "0".repeat(64);
        assert!(share.hot(&missing, 1).await.is_err());
        // beyond the bound, the least lately served go first
        assert!(share.hot(&b, 6).await.ok().flatten().is_some());
        let mut hot = share.hot.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!hot.files.contains_key(&missing));
        hot.evict_beyond(6);
        assert_eq!(hot.files.keys().collect::<Vec<_>>(), [&b]);
        drop(hot);
        share.remove(&b).unwrap_or_else(|e| panic!("{e}"));
        assert!(share.hot.lock().unwrap_or_else(|e| e.into_inner()).files.is_empty());
    }
}
