//! Assets: the inventory and learnt facts. An asset shows the host key pinned for its
//! address and port (`host_keys`), which outlives the asset row.

use crate::deployments::final_states_sql;
use crate::error::{corrupt, unique_as};
use crate::sqlite_writer::{Columns, FromRow};
use crate::{Result, Store, StoreError};
use drover_domain::asset::{Asset, HostFacts, NewAsset};
use drover_domain::ids::{AssetId, CredentialId};
use drover_domain::inventory::AssetFacts;
use drover_domain::machine::MachineType;
use sqlx::Row;

pub(crate) const COLUMNS: &str = "id, name, address, ssh_port, macs, \
     (SELECT k.key FROM host_keys k WHERE k.address = LOWER(assets.address) AND k.port = assets.ssh_port \
      ORDER BY k.key_type LIMIT 1) AS host_key, \
     (SELECT k.fingerprint FROM host_keys k WHERE k.address = LOWER(assets.address) AND k.port = assets.ssh_port \
      ORDER BY k.key_type LIMIT 1) AS host_key_fingerprint, \
     hostname, os, arch, last_seen_ms, created_ms, fqdn, domain, os_version, kernel, cpu_model, cpu_count, \
     memory_bytes, disks, last_boot_ms, logged_on_users, machine_id, first_seen_ms, last_scan_ok_ms, \
     last_scan_error, last_scan_error_ms, machine_type, pending_reboot";

pub(crate) fn macs_json(macs: &[String]) -> Result<String> {
    serde_json::to_string(macs).map_err(|e| StoreError::Other(format!("cannot encode MAC addresses: {e}")))
}

impl FromRow for Asset {
    fn from_row(row: &impl Columns) -> Result<Self> {
        let port: i64 = row.col("ssh_port")?;
        let macs: String = row.col("macs")?;
        Ok(Asset {
            id: AssetId(row.col("id")?),
            name: row.col("name")?,
            address: row.col("address")?,
            ssh_port: u16::try_from(port).map_err(|_| corrupt("SSH port", port))?,
            macs: serde_json::from_str(&macs).map_err(|_| corrupt("MAC address list", &macs))?,
            host_key: row.col("host_key")?,
            host_key_fingerprint: row.col("host_key_fingerprint")?,
            hostname: row.col("hostname")?,
            os: row.col("os")?,
            arch: row.col("arch")?,
            last_seen_ms: row.col("last_seen_ms")?,
            created_ms: row.col("created_ms")?,
            facts: facts_from_row(row)?,
        })
    }
}

fn facts_from_row(row: &impl Columns) -> Result<AssetFacts> {
    let disks: String = row.col("disks")?;
    let users: String = row.col("logged_on_users")?;
    let machine_type: Option<String> = row.col("machine_type")?;
    let machine_type = match machine_type {
        Some(t) => Some(MachineType::parse(&t).ok_or_else(|| corrupt("machine type", &t))?),
        None => None,
    };
    let pending_reboot: Option<i64> = row.col("pending_reboot")?;
    Ok(AssetFacts {
        fqdn: row.col("fqdn")?,
        domain: row.col("domain")?,
        os_version: row.col("os_version")?,
        kernel: row.col("kernel")?,
        cpu_model: row.col("cpu_model")?,
        cpu_count: row.col("cpu_count")?,
        memory_bytes: row.col("memory_bytes")?,
        disks: serde_json::from_str(&disks).map_err(|_| corrupt("disk list", &disks))?,
        last_boot_ms: row.col("last_boot_ms")?,
        logged_on_users: serde_json::from_str(&users).map_err(|_| corrupt("logged-on user list", &users))?,
        machine_id: row.col("machine_id")?,
        machine_type,
        pending_reboot: pending_reboot.map(|p| p != 0),
        first_seen_ms: row.col("first_seen_ms")?,
        last_scan_ok_ms: row.col("last_scan_ok_ms")?,
        last_scan_error: row.col("last_scan_error")?,
        last_scan_error_ms: row.col("last_scan_error_ms")?,
    })
}

pub(crate) fn not_found(id: AssetId) -> StoreError {
    StoreError::NotFound(format!("asset {id} not found"))
}

impl Store {
    /// Adds an asset; the name is unique.
    pub async fn create_asset(&self, a: &NewAsset, now_ms: i64) -> Result<Asset> {
        let row = sqlx::query(
            "INSERT INTO assets (name, address, ssh_port, macs, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&a.name)
        .bind(&a.address)
        .bind(i64::from(a.ssh_port))
        .bind(macs_json(&a.macs)?)
        .bind(now_ms)
        .fetch_one(self.writer())
        .await
        .map_err(unique_as(|| format!("an asset named '{}' already exists", a.name)))?;
        self.asset(AssetId(row.try_get("id")?)).await
    }

    /// All assets, by name.
    pub async fn list_assets(&self) -> Result<Vec<Asset>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM assets ORDER BY name, id")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Asset::from_row).collect()
    }

    pub async fn asset(&self, id: AssetId) -> Result<Asset> {
        let sql = format!("SELECT {COLUMNS} FROM assets WHERE id = $1");
        self.fetch_optional(sql, vec![id.0.into()]).await?.ok_or_else(|| not_found(id))
    }

    pub async fn asset_by_name(&self, name: &str) -> Result<Asset> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM assets WHERE name = $1")))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Asset::from_row(&row.ok_or_else(|| StoreError::NotFound(format!("no asset named '{name}'")))?)
    }

    /// Deletes an asset and its credential mappings. Refused while a deployment target
    /// on it has not reached a final state; its finished targets stay in the log.
    pub async fn delete_asset(&self, id: AssetId) -> Result<()> {
        let mut tx = self.begin().await?;
        // The guarded DELETE comes first so that SQLite takes the write lock at once.
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM assets WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM targets WHERE asset_id = $1 AND state NOT IN {})",
            final_states_sql()
        )))
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let row = sqlx::query("SELECT name FROM assets WHERE id = $1").bind(id.0).fetch_optional(&mut *tx).await?;
            return match row {
                None => Err(not_found(id)),
                Some(row) => {
                    let name: String = row.try_get("name")?;
                    Err(StoreError::Conflict(format!(
                        "asset '{name}' has deployment targets that have not finished: wait for them or cancel them first"
                    )))
                }
            };
        }
        sqlx::query("DELETE FROM credential_mappings WHERE asset_id = $1").bind(id.0).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The credential that last logged in to the asset.
    pub async fn last_credential(&self, id: AssetId) -> Result<Option<CredentialId>> {
        let sql = "SELECT last_credential_id FROM assets WHERE id = $1".to_string();
        let last: LastCredential = self.fetch_optional(sql, vec![id.0.into()]).await?.ok_or_else(|| not_found(id))?;
        Ok(last.0.map(CredentialId))
    }

    /// Remembers the credential that logged in to the asset, to try it first next time.
    pub async fn set_last_credential(&self, id: AssetId, credential: CredentialId) -> Result<()> {
        self.execute("UPDATE assets SET last_credential_id = $1 WHERE id = $2", vec![credential.0.into(), id.0.into()])
            .await?;
        Ok(())
    }

    /// Records what a connection learnt: known facts replace the stored ones, unknown
    /// (`None`) facts keep them, the MACs are replaced only when some were found;
    /// `last_seen_ms` becomes `now_ms`.
    pub async fn record_facts(&self, id: AssetId, facts: &HostFacts, now_ms: i64) -> Result<()> {
        let macs = if facts.macs.is_empty() { None } else { Some(macs_json(&facts.macs)?) };
        let args = vec![
            facts.hostname.as_deref().into(),
            facts.os.as_deref().into(),
            facts.arch.as_deref().into(),
            macs.into(),
            now_ms.into(),
            id.0.into(),
        ];
        let done = self
            .execute(
                "UPDATE assets SET hostname = COALESCE($1, hostname), os = COALESCE($2, os), \
                 arch = COALESCE($3, arch), macs = COALESCE($4, macs), last_seen_ms = $5 WHERE id = $6",
                args,
            )
            .await?;
        if done == 0 { Err(not_found(id)) } else { Ok(()) }
    }
}

struct LastCredential(Option<i64>);

impl FromRow for LastCredential {
    fn from_row(row: &impl Columns) -> Result<Self> {
        Ok(LastCredential(row.col("last_credential_id")?))
    }
}
