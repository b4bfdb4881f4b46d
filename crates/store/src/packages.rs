//! Packages: the definition as the JSON of `PackageDef`, the files in their own table.

use crate::error::unique_as;
use crate::{Result, Store, StoreError};
use drover_domain::ids::PackageId;
use drover_domain::package::{Package, PackageDef};
use drover_proto::JobFile;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use std::collections::HashMap;

const COLUMNS: &str = "id, definition, created_ms";

fn file_from_row(row: &AnyRow) -> Result<(i64, JobFile)> {
    let size: i64 = row.try_get("size")?;
    let file = JobFile {
        path: row.try_get("path")?,
        sha256: row.try_get("sha256")?,
        size: u64::try_from(size).map_err(|_| crate::error::corrupt("file size", size))?,
    };
    Ok((row.try_get("package_id")?, file))
}

/// Builds packages from their rows and the rows of their files (in position order).
fn assemble(rows: &[AnyRow], file_rows: &[AnyRow]) -> Result<Vec<Package>> {
    let mut files: HashMap<i64, Vec<JobFile>> = HashMap::new();
    for row in file_rows {
        let (package_id, file) = file_from_row(row)?;
        files.entry(package_id).or_default().push(file);
    }
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let json: String = row.try_get("definition")?;
            let def: PackageDef = serde_json::from_str(&json)
                .map_err(|e| StoreError::Other(format!("unreadable definition of package {id}: {e}")))?;
            Ok(Package {
                id: PackageId(id),
                def,
                files: files.remove(&id).unwrap_or_default(),
                created_ms: row.try_get("created_ms")?,
            })
        })
        .collect()
}

async fn files_of<'e>(executor: impl Executor<'e, Database = Any>, id: i64) -> Result<Vec<AnyRow>> {
    Ok(sqlx::query("SELECT package_id, path, sha256, size FROM package_files WHERE package_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(executor)
        .await?)
}

impl Store {
    /// Stores a package and its files; (name, version) is unique.
    pub async fn create_package(&self, def: &PackageDef, files: &[JobFile], now_ms: i64) -> Result<Package> {
        let json =
            serde_json::to_string(def).map_err(|e| StoreError::Other(format!("cannot encode the package: {e}")))?;
        let conflict = || format!("package '{}' version '{}' already exists", def.name, def.version);
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO packages (name, version, definition, created_ms) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&def.name)
        .bind(&def.version)
        .bind(json)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(unique_as(conflict))?;
        let id: i64 = row.try_get("id")?;
        for (position, f) in files.iter().enumerate() {
            let size =
                i64::try_from(f.size).map_err(|_| StoreError::Other(format!("file '{}' is too large", f.path)))?;
            sqlx::query(
                "INSERT INTO package_files (package_id, position, path, sha256, size) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(&f.path)
            .bind(&f.sha256)
            .bind(size)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Package { id: PackageId(id), def: def.clone(), files: files.to_vec(), created_ms: now_ms })
    }

    /// All packages, by name, newest version first.
    pub async fn list_packages(&self) -> Result<Vec<Package>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM packages ORDER BY name, created_ms DESC, id DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        let files =
            sqlx::query("SELECT package_id, path, sha256, size FROM package_files ORDER BY package_id, position")
                .fetch_all(&self.pool)
                .await?;
        assemble(&rows, &files)
    }

    pub async fn package(&self, id: PackageId) -> Result<Package> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM packages WHERE id = $1")))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("package {id} not found")))?;
        self.with_files(row).await
    }

    /// The package of that name and version; without a version, the newest created.
    pub async fn package_by_name(&self, name: &str, version: Option<&str>) -> Result<Package> {
        let row = match version {
            Some(v) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM packages WHERE name = $1 AND version = $2"
            )))
            .bind(name)
            .bind(v)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("package '{name}' version '{v}' not found")))?,
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM packages WHERE name = $1 ORDER BY created_ms DESC, id DESC LIMIT 1"
            )))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no package named '{name}'")))?,
        };
        self.with_files(row).await
    }

    async fn with_files(&self, row: AnyRow) -> Result<Package> {
        let files = files_of(&self.pool, row.try_get("id")?).await?;
        let mut packages = assemble(std::slice::from_ref(&row), &files)?;
        packages.pop().ok_or_else(|| StoreError::Other("package row vanished".into()))
    }

    /// Deletes a package and its file list (not the files on the share: see
    /// [`Store::file_in_use`]). Refused while a deployment of it is unfinished.
    pub async fn delete_package(&self, id: PackageId) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "DELETE FROM packages WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM deployments WHERE package_id = $1 AND finished_ms IS NULL)",
        )
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let row = sqlx::query("SELECT name, version FROM packages WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
            return match row {
                None => Err(StoreError::NotFound(format!("package {id} not found"))),
                Some(row) => {
                    let (name, version): (String, String) = (row.try_get("name")?, row.try_get("version")?);
                    Err(StoreError::Conflict(format!(
                        "package '{name}' version '{version}' has a deployment that has not finished: wait for it or cancel it first"
                    )))
                }
            };
        }
        sqlx::query("DELETE FROM package_files WHERE package_id = $1").bind(id.0).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether any stored package still lists a file with this content.
    pub async fn file_in_use(&self, sha256: &str) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM package_files WHERE sha256 = $1")
            .bind(sha256)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}
