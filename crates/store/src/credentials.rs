//! Scanning credentials (the secret is an opaque sealed blob) and where they apply.

use crate::error::{corrupt, db_error, unique_as};
use crate::{Result, Store, StoreError};
use drover_domain::credential::{Credential, CredentialKind, CredentialMapping, SudoMode};
use drover_domain::ids::{AssetId, CredentialId};
use sqlx::Row;
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, name, username, kind, sudo, created_ms";

fn credential_from_row(row: &AnyRow) -> Result<Credential> {
    let kind: String = row.try_get("kind")?;
    let sudo: String = row.try_get("sudo")?;
    Ok(Credential {
        id: CredentialId(row.try_get("id")?),
        name: row.try_get("name")?,
        username: row.try_get("username")?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| corrupt("credential kind", &kind))?,
        sudo: SudoMode::parse(&sudo).ok_or_else(|| corrupt("sudo mode", &sudo))?,
        created_ms: row.try_get("created_ms")?,
    })
}

impl Store {
    /// Adds a credential. `seal` encrypts the secret given the new row's id (the AEAD's
    /// associated data); the row and its sealed secret are written in one transaction.
    pub async fn create_credential(
        &self,
        name: &str,
        username: &str,
        kind: CredentialKind,
        sudo: SudoMode,
        seal: impl FnOnce(CredentialId) -> Vec<u8> + Send,
        now_ms: i64,
    ) -> Result<Credential> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO credentials (name, username, kind, sudo, secret, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(name)
        .bind(username)
        .bind(kind.as_str())
        .bind(sudo.as_str())
        .bind(Vec::<u8>::new())
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(unique_as(|| format!("a credential named '{name}' already exists")))?;
        let id = CredentialId(row.try_get("id")?);
        let sealed = seal(id);
        sqlx::query("UPDATE credentials SET secret = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Credential { id, name: name.to_string(), username: username.to_string(), kind, sudo, created_ms: now_ms })
    }

    /// All credentials, by name.
    pub async fn list_credentials(&self) -> Result<Vec<Credential>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM credentials ORDER BY name, id")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(credential_from_row).collect()
    }

    pub async fn credential(&self, id: CredentialId) -> Result<Credential> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM credentials WHERE id = $1")))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        credential_from_row(&row.ok_or_else(|| StoreError::NotFound(format!("credential {id} not found")))?)
    }

    pub async fn credential_by_name(&self, name: &str) -> Result<Credential> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM credentials WHERE name = $1")))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        credential_from_row(&row.ok_or_else(|| StoreError::NotFound(format!("no credential named '{name}'")))?)
    }

    /// The sealed secret exactly as `seal` returned it.
    pub async fn sealed_secret(&self, id: CredentialId) -> Result<Vec<u8>> {
        let row = sqlx::query("SELECT secret FROM credentials WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("credential {id} not found")))?;
        Ok(row.try_get("secret")?)
    }

    /// Deletes a credential and its mappings.
    pub async fn delete_credential(&self, id: CredentialId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM credential_mappings WHERE credential_id = $1").bind(id.0).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM credentials WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("credential {id} not found")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Maps a credential to an asset, or globally (`asset_id = None`). One mapping per
    /// (credential, asset).
    pub async fn add_mapping(&self, m: &CredentialMapping) -> Result<()> {
        let scope = || match m.asset_id {
            Some(a) => format!("asset {a}"),
            None => "all assets".to_string(),
        };
        sqlx::query("INSERT INTO credential_mappings (credential_id, asset_id, priority) VALUES ($1, $2, $3)")
            .bind(m.credential_id.0)
            .bind(m.asset_id.map(|a| a.0))
            .bind(m.priority)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                db_error(
                    e,
                    || format!("credential {} is already mapped to {}", m.credential_id, scope()),
                    || format!("credential {} or {} not found", m.credential_id, scope()),
                )
            })?;
        Ok(())
    }

    /// The asset's own mappings, then the global ones; by priority, then credential id
    /// within each (the order `credential_order` uses).
    pub async fn mappings_for(&self, asset: AssetId) -> Result<Vec<CredentialMapping>> {
        let rows = sqlx::query(
            "SELECT credential_id, asset_id, priority FROM credential_mappings \
             WHERE asset_id = $1 OR asset_id IS NULL \
             ORDER BY CASE WHEN asset_id IS NULL THEN 1 ELSE 0 END, priority, credential_id",
        )
        .bind(asset.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CredentialMapping {
                    credential_id: CredentialId(row.try_get("credential_id")?),
                    asset_id: row.try_get::<Option<i64>, _>("asset_id")?.map(AssetId),
                    priority: row.try_get("priority")?,
                })
            })
            .collect()
    }
}
