//! Scanning credentials (the secret is an opaque sealed blob) and where they apply.

use crate::error::{corrupt, db_error, unique_as};
use crate::sqlite_writer::{Columns, FromRow};
use crate::{Result, Store, StoreError};
use drover_domain::credential::{Credential, CredentialKind, CredentialMapping, SudoMode};
use drover_domain::ids::{AssetId, CredentialId, MappingId};
use drover_domain::scope::{Domain, IpRange, Scope};
use sqlx::Row;

const COLUMNS: &str = "id, name, username, kind, sudo, created_ms";

impl FromRow for Credential {
    fn from_row(row: &impl Columns) -> Result<Self> {
        let kind: String = row.col("kind")?;
        let sudo: String = row.col("sudo")?;
        Ok(Credential {
            id: CredentialId(row.col("id")?),
            name: row.col("name")?,
            username: row.col("username")?,
            kind: CredentialKind::parse(&kind).ok_or_else(|| corrupt("credential kind", &kind))?,
            sudo: SudoMode::parse(&sudo).ok_or_else(|| corrupt("sudo mode", &sudo))?,
            created_ms: row.col("created_ms")?,
        })
    }
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
        let mut tx = self.begin().await?;
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
        rows.iter().map(Credential::from_row).collect()
    }

    pub async fn credential(&self, id: CredentialId) -> Result<Credential> {
        let sql = format!("SELECT {COLUMNS} FROM credentials WHERE id = $1");
        self.fetch_optional(sql, vec![id.0.into()])
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("credential {id} not found")))
    }

    pub async fn credential_by_name(&self, name: &str) -> Result<Credential> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM credentials WHERE name = $1")))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Credential::from_row(&row.ok_or_else(|| StoreError::NotFound(format!("no credential named '{name}'")))?)
    }

    /// The sealed secret exactly as `seal` returned it.
    pub async fn sealed_secret(&self, id: CredentialId) -> Result<Vec<u8>> {
        let sql = "SELECT secret FROM credentials WHERE id = $1".to_string();
        let sealed: Sealed = self
            .fetch_optional(sql, vec![id.0.into()])
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("credential {id} not found")))?;
        Ok(sealed.0)
    }

    /// Deletes a credential and its mappings.
    pub async fn delete_credential(&self, id: CredentialId) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM credential_mappings WHERE credential_id = $1").bind(id.0).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM credentials WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("credential {id} not found")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a mapping; one per (credential, scope). Returns it with its id.
    pub async fn add_mapping(&self, m: &CredentialMapping) -> Result<CredentialMapping> {
        let (asset, value) = scope_columns(&m.scope);
        let row = sqlx::query(
            "INSERT INTO credential_mappings (credential_id, asset_id, priority, scope, scope_value) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(m.credential_id.0)
        .bind(asset)
        .bind(m.priority)
        .bind(m.scope.kind())
        .bind(value)
        .fetch_one(self.writer())
        .await
        .map_err(|e| {
            db_error(
                e,
                || format!("credential {} is already mapped to {}", m.credential_id, m.scope),
                || format!("credential {} or {} not found", m.credential_id, m.scope),
            )
        })?;
        Ok(CredentialMapping { id: Some(MappingId(row.try_get("id")?)), ..m.clone() })
    }

    /// Every mapping of every credential (the domain decides which apply to an asset).
    pub async fn all_mappings(&self) -> Result<Vec<CredentialMapping>> {
        self.fetch_all(format!("SELECT {MAPPING_COLUMNS} FROM credential_mappings ORDER BY credential_id, id"), vec![])
            .await
    }

    /// The mappings of one credential, oldest first.
    pub async fn mappings_of(&self, credential: CredentialId) -> Result<Vec<CredentialMapping>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MAPPING_COLUMNS} FROM credential_mappings WHERE credential_id = $1 ORDER BY id"
        )))
        .bind(credential.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(CredentialMapping::from_row).collect()
    }

    /// Removes one mapping of the credential.
    pub async fn delete_mapping(&self, credential: CredentialId, id: MappingId) -> Result<()> {
        let done = sqlx::query("DELETE FROM credential_mappings WHERE id = $1 AND credential_id = $2")
            .bind(id.0)
            .bind(credential.0)
            .execute(self.writer())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("credential {credential} has no mapping {id}")));
        }
        Ok(())
    }
}

const MAPPING_COLUMNS: &str = "id, credential_id, asset_id, priority, scope, scope_value";

/// `asset_id` and `scope_value` of a scope.
fn scope_columns(scope: &Scope) -> (Option<i64>, Option<String>) {
    match scope {
        Scope::Asset(a) => (Some(a.0), None),
        Scope::IpRange(r) => (None, Some(r.to_string())),
        Scope::Domain(d) => (None, Some(d.as_str().to_string())),
        Scope::Global => (None, None),
    }
}

impl FromRow for CredentialMapping {
    fn from_row(row: &impl Columns) -> Result<Self> {
        let kind: String = row.col("scope")?;
        let asset: Option<i64> = row.col("asset_id")?;
        let value: Option<String> = row.col("scope_value")?;
        let value = || value.clone().ok_or_else(|| corrupt("mapping scope value", "NULL"));
        let scope = match kind.as_str() {
            "asset" => Scope::Asset(AssetId(asset.ok_or_else(|| corrupt("mapping asset", "NULL"))?)),
            "ip_range" => Scope::IpRange(IpRange::parse(&value()?).map_err(|e| corrupt("mapping IP range", e))?),
            "domain" => Scope::Domain(Domain::parse(&value()?).map_err(|e| corrupt("mapping domain", e))?),
            "global" => Scope::Global,
            other => return Err(corrupt("mapping scope", other)),
        };
        Ok(CredentialMapping {
            id: Some(MappingId(row.col("id")?)),
            credential_id: CredentialId(row.col("credential_id")?),
            scope,
            priority: row.col("priority")?,
        })
    }
}

/// A credential's sealed secret.
struct Sealed(Vec<u8>);

impl FromRow for Sealed {
    fn from_row(row: &impl Columns) -> Result<Self> {
        Ok(Sealed(row.col("secret")?))
    }
}
