//! The share's files in the database, for several nodes: on PostgreSQL every package
//! file is also stored in the database (in 1 MiB chunks) when a package is imported or
//! saved, and a node whose own share lacks a file a package lists (another node imported
//! it) fetches it from there, checks its SHA-256 and keeps it, before serving it. A single
//! SQLite node keeps its files on its own disk only.

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_domain::package::{Package, PackageDef};
use drover_proto::JobFile;
use drover_store::StoredShareFile;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The size of a file's chunks in the database.
const CHUNK: u64 = 1024 * 1024;

/// How long a file stays in the database while no package lists it: a package being
/// imported on another node stores its files before the package itself.
const UNUSED_GRACE_MS: i64 = 60 * 60 * 1000;

impl Engine {
    /// Whether share files are kept in the database too: with PostgreSQL, where several
    /// nodes serve one database.
    fn share_in_store(&self) -> bool {
        self.store().backend() == "postgres"
    }

    /// Stores a file of this node's share in the database, unless it holds it whole
    /// already (a no-op on SQLite).
    pub(crate) async fn replicate_share_file(&self, sha256: &str) -> Result<()> {
        if !self.share_in_store() || self.store().stored_share_file(sha256).await?.is_some() {
            return Ok(());
        }
        let path = self.share().path_of(sha256)?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| EngineError::Internal(format!("cannot read share file {}: {e}", path.display())))?;
        let (mut size, mut chunks) = (0u64, 0u32);
        loop {
            let mut chunk = Vec::with_capacity(CHUNK as usize);
            (&mut file).take(CHUNK).read_to_end(&mut chunk).await?;
            if chunk.is_empty() {
                break;
            }
            size += chunk.len() as u64;
            self.store().put_share_chunk(sha256, chunks, chunk).await?;
            chunks += 1;
        }
        self.store().finish_share_file(sha256, StoredShareFile { size, chunks }, now_ms()).await?;
        Ok(())
    }

    /// Stores each of a package's files in the database (see above).
    async fn replicate_package_files(&self, files: &[JobFile]) -> Result<()> {
        for f in files {
            self.replicate_share_file(&f.sha256).await?;
        }
        Ok(())
    }

    /// Creates a package whose files are on this node's share, with its files stored in
    /// the database first; and again once it exists, since a node's clean-up may have
    /// removed one in between (an error then is logged: the package stands, and this
    /// node stores the file at its next start).
    pub(crate) async fn create_package_with_files(&self, def: &PackageDef, files: &[JobFile]) -> Result<Package> {
        self.replicate_package_files(files).await?;
        let pkg = self.store().create_package(def, files, now_ms()).await?;
        if let Err(e) = self.replicate_package_files(files).await {
            tracing::warn!("cannot store a new package's files in the database: {e}");
        }
        Ok(pkg)
    }

    /// Where the share file with this hash is on this node: one the database holds but
    /// this node's share lacks is fetched first. (A file neither has: its path, which
    /// the caller finds missing.)
    pub async fn share_file_path(&self, sha256: &str) -> Result<PathBuf> {
        let path = self.share().path_of(sha256)?;
        if path.exists() || !self.share_in_store() {
            return Ok(path);
        }
        // one fetch at a time, and none while a clean-up removes files: the targets that
        // asked for the same file meanwhile find it here
        let _share = self.share_lock().lock().await;
        if path.exists() {
            return Ok(path);
        }
        let Some(stored) = self.store().stored_share_file(sha256).await? else {
            return Ok(path);
        };
        let dir = path.parent().map(PathBuf::from).unwrap_or_default();
        std::fs::create_dir_all(&dir)?;
        let temp = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempfile_in(&dir)
            .map_err(|e| EngineError::Internal(format!("cannot create a file in the share {}: {e}", dir.display())))?;
        let mut out = tokio::fs::File::from_std(temp.reopen()?);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        for seq in 0..stored.chunks {
            let chunk = self.store().share_chunk(sha256, seq).await?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.sync_all().await?;
        let got = hex::encode(hasher.finalize());
        if size != stored.size || got != sha256 {
            return Err(EngineError::Internal(format!(
                "share file {sha256} in the database is damaged ({size} bytes with SHA-256 {got}, expected {} bytes): import its package again",
                stored.size
            )));
        }
        temp.persist(&path).map_err(|e| EngineError::Internal(format!("cannot keep share file {sha256}: {e}")))?;
        tracing::info!("share file {sha256} ({size} bytes) fetched from the database");
        Ok(path)
    }

    /// At start: stores in the database the files of this node's share that packages
    /// list but it lacks (a share filled before the database held files), and removes
    /// from it the files no package has listed for an hour.
    pub(crate) async fn sync_share_with_store(&self, in_use: &[String]) -> Result<()> {
        if !self.share_in_store() {
            return Ok(());
        }
        for sha256 in in_use {
            self.replicate_share_file(sha256).await?;
        }
        for sha256 in self.store().unused_share_files(now_ms() - UNUSED_GRACE_MS).await? {
            self.store().delete_share_file_if_unused(&sha256).await?;
        }
        Ok(())
    }

    /// Removes a file from the database unless a package lists it (a no-op on SQLite).
    pub(crate) async fn remove_stored_share_file_if_unused(&self, sha256: &str) -> Result<()> {
        if self.share_in_store() {
            self.store().delete_share_file_if_unused(sha256).await?;
        }
        Ok(())
    }
}
