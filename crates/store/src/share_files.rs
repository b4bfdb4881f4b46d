//! Package share files kept in the database in chunks, so that every node of one
//! PostgreSQL serves every package's files (the engine writes them on PostgreSQL only).

use crate::{Result, Store, StoreError};
use sqlx::Row;

/// A share file the database holds whole: its size and how many chunks it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredShareFile {
    pub size: u64,
    pub chunks: u32,
}

impl Store {
    /// Stores chunk `seq` of a share file (a chunk stored before is replaced).
    pub async fn put_share_chunk(&self, sha256: &str, seq: u32, bytes: Vec<u8>) -> Result<()> {
        sqlx::query(
            "INSERT INTO share_chunks (sha256, seq, bytes) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256, seq) DO UPDATE SET bytes = excluded.bytes",
        )
        .bind(sha256)
        .bind(i64::from(seq))
        .bind(bytes)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Marks a share file whole, once each of its chunks is stored.
    pub async fn finish_share_file(&self, sha256: &str, file: StoredShareFile, now_ms: i64) -> Result<()> {
        let size =
            i64::try_from(file.size).map_err(|_| StoreError::Refused(format!("share file {sha256} is too large")))?;
        sqlx::query(
            "INSERT INTO share_files (sha256, size, chunks, created_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(size)
        .bind(i64::from(file.chunks))
        .bind(now_ms)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The share file with this hash, if the database holds it whole.
    pub async fn stored_share_file(&self, sha256: &str) -> Result<Option<StoredShareFile>> {
        let row = sqlx::query("SELECT size, chunks FROM share_files WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (size, chunks) = (row.try_get::<i64, _>("size")?, row.try_get::<i64, _>("chunks")?);
        let corrupt = || crate::error::corrupt("share file", sha256);
        Ok(Some(StoredShareFile {
            size: u64::try_from(size).map_err(|_| corrupt())?,
            chunks: u32::try_from(chunks).map_err(|_| corrupt())?,
        }))
    }

    /// Chunk `seq` of a share file.
    pub async fn share_chunk(&self, sha256: &str, seq: u32) -> Result<Vec<u8>> {
        let row = sqlx::query("SELECT bytes FROM share_chunks WHERE sha256 = $1 AND seq = $2")
            .bind(sha256)
            .bind(i64::from(seq))
            .fetch_optional(&self.pool)
            .await?;
        let row = row.ok_or_else(|| StoreError::NotFound(format!("chunk {seq} of share file {sha256} not found")))?;
        Ok(row.try_get::<Vec<u8>, _>("bytes")?)
    }

    /// Removes a share file unless a package lists it (checked in the same statement, so
    /// a package created meanwhile keeps it); returns whether it went.
    pub async fn delete_share_file_if_unused(&self, sha256: &str) -> Result<bool> {
        let unused = "NOT EXISTS (SELECT 1 FROM package_files WHERE sha256 = $1)";
        let mut tx = self.begin().await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM share_files WHERE sha256 = $1 AND {unused}")))
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM share_chunks WHERE sha256 = $1 AND {unused}")))
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The hashes of the share files (whole or not) no package lists, stored before
    /// `before_ms`.
    pub async fn unused_share_files(&self, before_ms: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT c.sha256 AS sha256 FROM share_chunks c LEFT JOIN share_files f ON f.sha256 = c.sha256 \
             WHERE (f.created_ms IS NULL OR f.created_ms < $1) \
             AND NOT EXISTS (SELECT 1 FROM package_files p WHERE p.sha256 = c.sha256)",
        )
        .bind(before_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("sha256")?)).collect()
    }
}
