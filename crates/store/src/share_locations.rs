//! Share locations: IP ranges whose targets fetch package files from another share.

use crate::error::{corrupt, unique_as};
use crate::sqlite_writer::{Columns, FromRow};
use crate::{Result, Store, StoreError};
use drover_domain::ids::ShareLocationId;
use drover_domain::scope::IpRange;
use drover_domain::share_location::ShareLocation;

impl FromRow for ShareLocation {
    fn from_row(row: &impl Columns) -> Result<Self> {
        let range: String = row.col("ip_range")?;
        Ok(ShareLocation {
            id: ShareLocationId(row.col("id")?),
            range: IpRange::parse(&range).map_err(|_| corrupt("share location range", &range))?,
            url: row.col("url")?,
            cert_sha256: row.col("cert_sha256")?,
            created_ms: row.col("created_ms")?,
        })
    }
}

impl Store {
    /// Adds a share for a range; a range that has one already is a conflict.
    pub async fn add_share_location(
        &self,
        range: &IpRange,
        url: &str,
        cert_sha256: Option<&str>,
        now_ms: i64,
    ) -> Result<ShareLocation> {
        let row = sqlx::query(
            "INSERT INTO share_locations (ip_range, url, cert_sha256, created_ms) VALUES ($1, $2, $3, $4) \
             RETURNING id, ip_range, url, cert_sha256, created_ms",
        )
        .bind(range.to_string())
        .bind(url)
        .bind(cert_sha256)
        .bind(now_ms)
        .fetch_one(self.writer())
        .await
        .map_err(unique_as(|| format!("IP range {range} has a share location already: remove it first")))?;
        ShareLocation::from_row(&row)
    }

    /// Every share location, oldest first.
    pub async fn list_share_locations(&self) -> Result<Vec<ShareLocation>> {
        let sql = "SELECT id, ip_range, url, cert_sha256, created_ms FROM share_locations ORDER BY id";
        self.fetch_all(sql.to_string(), vec![]).await
    }

    pub async fn delete_share_location(&self, id: ShareLocationId) -> Result<()> {
        let done = sqlx::query("DELETE FROM share_locations WHERE id = $1").bind(id.0).execute(self.writer()).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("share location {id} not found")));
        }
        Ok(())
    }
}
