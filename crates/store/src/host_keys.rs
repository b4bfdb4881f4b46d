//! Pinned SSH host keys, kept per address and port (not per asset row, so removing and
//! adding an asset again keeps them), and the host certificate authorities admins trust.

use crate::error::{corrupt, unique_as};
use crate::sqlite_writer::{Columns, FromRow};
use crate::{Result, Store, StoreError};
use drover_domain::host_key::{HostAuthority, HostKey, PinSource};
use drover_domain::ids::AuthorityId;

impl FromRow for HostKey {
    fn from_row(row: &impl Columns) -> Result<Self> {
        let port: i64 = row.col("port")?;
        let source: String = row.col("source")?;
        Ok(HostKey {
            address: row.col("address")?,
            port: u16::try_from(port).map_err(|_| corrupt("SSH port", port))?,
            key: row.col("key")?,
            fingerprint: row.col("fingerprint")?,
            source: PinSource::parse(&source).ok_or_else(|| corrupt("host key source", &source))?,
            pinned_by: row.col("pinned_by")?,
            pinned_ms: row.col("pinned_ms")?,
        })
    }
}

impl FromRow for HostAuthority {
    fn from_row(row: &impl Columns) -> Result<Self> {
        Ok(HostAuthority {
            id: AuthorityId(row.col("id")?),
            key: row.col("key")?,
            fingerprint: row.col("fingerprint")?,
            hosts: row.col("hosts")?,
            created_ms: row.col("created_ms")?,
        })
    }
}

/// The key type of an OpenSSH key line (`ssh-ed25519`).
fn key_type(key: &str) -> &str {
    key.split_whitespace().next().unwrap_or_default()
}

const KEY_COLUMNS: &str = "address, port, key, fingerprint, source, pinned_by, pinned_ms";

impl Store {
    /// The keys pinned for `address:port` (by key type).
    pub async fn host_keys(&self, address: &str, port: u16) -> Result<Vec<HostKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM host_keys WHERE address = $1 AND port = $2 ORDER BY key_type");
        self.fetch_all(sql, vec![address.to_ascii_lowercase().as_str().into(), i64::from(port).into()]).await
    }

    /// Every pinned key, by address and port.
    pub async fn list_host_keys(&self) -> Result<Vec<HostKey>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM host_keys ORDER BY address, port, key_type"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(HostKey::from_row).collect()
    }

    /// Pins a key for its address and port. `replace_all`: the address's other keys go
    /// (an admin's trust-key or accept-key); else only a key of the same type is replaced
    /// (a known_hosts import may give several types).
    pub async fn pin_host_key(&self, k: &HostKey, replace_all: bool) -> Result<()> {
        let address = k.address.to_ascii_lowercase();
        let mut tx = self.begin().await?;
        let delete = if replace_all {
            "DELETE FROM host_keys WHERE address = $1 AND port = $2"
        } else {
            "DELETE FROM host_keys WHERE address = $1 AND port = $2 AND key_type = $3"
        };
        let mut q = sqlx::query(delete).bind(&address).bind(i64::from(k.port));
        if !replace_all {
            q = q.bind(key_type(&k.key));
        }
        q.execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO host_keys (address, port, key_type, key, fingerprint, source, pinned_by, pinned_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&address)
        .bind(i64::from(k.port))
        .bind(key_type(&k.key))
        .bind(&k.key)
        .bind(&k.fingerprint)
        .bind(k.source.as_str())
        .bind(k.pinned_by.as_deref())
        .bind(k.pinned_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pins a key on first use, only if nothing is pinned for the address yet (a
    /// concurrent admin pin wins). Returns whether it was pinned.
    pub async fn pin_host_key_first_use(&self, k: &HostKey) -> Result<bool> {
        let args = vec![
            k.address.to_ascii_lowercase().as_str().into(),
            i64::from(k.port).into(),
            key_type(&k.key).into(),
            k.key.as_str().into(),
            k.fingerprint.as_str().into(),
            PinSource::FirstUse.as_str().into(),
            k.pinned_ms.into(),
        ];
        let done = self
            .execute(
                "INSERT INTO host_keys (address, port, key_type, key, fingerprint, source, pinned_by, pinned_ms) \
                 SELECT $1, $2, $3, $4, $5, $6, NULL, $7 \
                 WHERE NOT EXISTS (SELECT 1 FROM host_keys WHERE address = $1 AND port = $2)",
                args,
            )
            .await?;
        Ok(done > 0)
    }

    /// Adds a trusted host certificate authority.
    pub async fn add_host_authority(
        &self,
        key: &str,
        fingerprint: &str,
        hosts: &str,
        now_ms: i64,
    ) -> Result<HostAuthority> {
        let row = sqlx::query(
            "INSERT INTO host_authorities (key, fingerprint, hosts, created_ms) VALUES ($1, $2, $3, $4) \
             RETURNING id, key, fingerprint, hosts, created_ms",
        )
        .bind(key)
        .bind(fingerprint)
        .bind(hosts)
        .bind(now_ms)
        .fetch_one(self.writer())
        .await
        .map_err(unique_as(|| format!("the certificate authority {fingerprint} is already trusted")))?;
        HostAuthority::from_row(&row)
    }

    pub async fn list_host_authorities(&self) -> Result<Vec<HostAuthority>> {
        let sql = "SELECT id, key, fingerprint, hosts, created_ms FROM host_authorities ORDER BY id";
        self.fetch_all(sql.to_string(), vec![]).await
    }

    pub async fn delete_host_authority(&self, id: AuthorityId) -> Result<()> {
        let done = sqlx::query("DELETE FROM host_authorities WHERE id = $1").bind(id.0).execute(self.writer()).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("certificate authority {id} not found")));
        }
        Ok(())
    }
}
