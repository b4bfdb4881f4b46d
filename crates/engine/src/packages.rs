//! Importing and exporting packages with their files on the share, and removing share
//! files no package uses any more.

use crate::Engine;
use crate::bundle::{Staged, unpack, write_bundle};
use crate::error::{EngineError, Result};
use drover_api::packages::PackageRef;
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::ids::PackageId;
use drover_domain::package::Package;
use drover_proto::JobFile;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// A bundle being uploaded: a temporary file in the data directory, bounded by the
/// configured upload size; removed when dropped.
pub struct Upload {
    pub(crate) file: tokio::fs::File,
    pub(crate) path: tempfile::TempPath,
    written: u64,
    max: u64,
}

impl Upload {
    /// Appends a chunk; refused once the upload passes its limit.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.written += chunk.len() as u64;
        if self.written > self.max {
            return Err(EngineError::Invalid(format!(
                "the upload is larger than {} MiB (the server's --max-bundle-mb)",
                self.max.div_ceil(1024 * 1024)
            )));
        }
        Ok(self.file.write_all(chunk).await?)
    }

    /// How many bytes were written so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl Engine {
    pub async fn list_packages(&self) -> Result<Vec<Package>> {
        Ok(self.store().list_packages().await?)
    }

    /// A package by id, or by name and version (else its newest version).
    pub async fn resolve_package(&self, r: &PackageRef, version: Option<&str>) -> Result<Package> {
        Ok(match r {
            PackageRef::Id(id) => self.store().package(PackageId(*id)).await?,
            PackageRef::Name(name) => self.store().package_by_name(name, version).await?,
        })
    }

    /// Deletes a package, and the share files no other package uses; returns it as it
    /// was.
    pub async fn delete_package(&self, by: &Executor, r: &PackageRef) -> Result<Package> {
        let pkg = self.resolve_package(r, None).await?;
        let _share = self.share_lock().lock().await;
        self.store().delete_package(pkg.id).await?;
        for f in &pkg.files {
            self.remove_if_unused(&f.sha256).await?;
        }
        let detail = format!("package {} '{}' version {}", pkg.id, pkg.def.name, pkg.def.version);
        self.audit_done(by, AuditAction::PackageDelete, &detail).await;
        Ok(pkg)
    }

    pub(crate) async fn remove_if_unused(&self, sha256: &str) -> Result<bool> {
        if self.store().file_in_use(sha256).await? {
            return Ok(false);
        }
        self.share().remove(sha256)?;
        self.remove_stored_share_file_if_unused(sha256).await?;
        Ok(true)
    }

    /// Removes every share file no package lists; returns how many went. With
    /// PostgreSQL, also brings the database's copy of the share in step (see
    /// `share_replica`).
    pub async fn gc_share(&self) -> Result<usize> {
        let _share = self.share_lock().lock().await;
        let (mut removed, mut in_use) = (0, Vec::new());
        for sha256 in self.share().list()? {
            if self.remove_if_unused(&sha256).await? {
                removed += 1;
            } else {
                in_use.push(sha256);
            }
        }
        self.sync_share_with_store(&in_use).await?;
        Ok(removed)
    }

    fn uploads_dir(&self) -> PathBuf {
        self.config().data_dir.join("tmp")
    }

    /// Removes uploads and staging folders a previous run left behind.
    pub(crate) fn clean_uploads(&self) {
        let dir = self.uploads_dir();
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
    }

    /// A new upload in the data directory, for [`Engine::import_upload`].
    pub async fn begin_upload(&self) -> Result<Upload> {
        let dir = self.uploads_dir();
        std::fs::create_dir_all(&dir)?;
        let (file, path) = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&dir)
            .map_err(|e| EngineError::Internal(format!("cannot create an upload file: {e}")))?
            .into_parts();
        Ok(Upload {
            file: tokio::fs::File::from_std(file),
            path,
            written: 0,
            max: self.config().bundle_limits.max_upload_bytes,
        })
    }

    /// Imports an uploaded bundle: it is expanded and validated off the async workers,
    /// and only a bundle that validates and is not a duplicate reaches the share and the
    /// store. A refused import writes nothing to the share.
    pub async fn import_upload(&self, by: &Executor, mut up: Upload) -> Result<Package> {
        up.file.flush().await?;
        let (path, staging, limits) = (up.path, self.uploads_dir(), self.config().bundle_limits);
        let staged = tokio::task::spawn_blocking(move || -> Result<Staged> {
            let file = std::fs::File::open(&path)?;
            let staged = unpack(file, &staging, &limits);
            drop(path);
            staged
        })
        .await
        .map_err(|e| EngineError::Internal(format!("bundle import: {e}")))??;
        let pkg = self.store_staged(staged).await?;
        let detail = format!("package {} '{}' version {}", pkg.id, pkg.def.name, pkg.def.version);
        self.audit_done(by, AuditAction::PackageImport, &detail).await;
        Ok(pkg)
    }

    /// Imports a bundle held in memory (see [`Engine::import_upload`]).
    pub async fn import_bundle(&self, by: &Executor, tar_gz: &[u8]) -> Result<Package> {
        let mut up = self.begin_upload().await?;
        up.write(tar_gz).await?;
        self.import_upload(by, up).await
    }

    async fn store_staged(&self, staged: Staged) -> Result<Package> {
        let def = &staged.def;
        if self.store().package_by_name(&def.name, Some(&def.version)).await.is_ok() {
            return Err(EngineError::Conflict(format!(
                "package '{}' version '{}' already exists: give the new one another version, or remove the old one first",
                def.name, def.version
            )));
        }
        let _share = self.share_lock().lock().await;
        let share = self.share().clone();
        let moves: Vec<(PathBuf, String)> = staged.files.iter().map(|f| (f.staged.clone(), f.sha256.clone())).collect();
        let added = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mut added = Vec::new();
            for (from, sha256) in moves {
                if share.adopt(&from, &sha256)? {
                    added.push(sha256);
                }
            }
            Ok(added)
        })
        .await
        .map_err(|e| EngineError::Internal(format!("bundle import: {e}")))??;
        let files: Vec<JobFile> = staged
            .files
            .iter()
            .map(|f| JobFile { path: f.path.clone(), sha256: f.sha256.clone(), size: f.size })
            .collect();
        match self.create_package_with_files(def, &files).await {
            Ok(pkg) => Ok(pkg),
            Err(e) => {
                for sha256 in &added {
                    self.remove_if_unused(sha256).await?;
                }
                Err(e)
            }
        }
    }

    pub async fn export_bundle(&self, id: PackageId) -> Result<(Package, Vec<u8>)> {
        let pkg = self.store().package(id).await?;
        let mut files = Vec::new();
        for f in &pkg.files {
            self.share_file_path(&f.sha256).await?;
            files.push((f.path.clone(), self.share().read(&f.sha256)?));
        }
        let bytes = write_bundle(&pkg.def, &files)?;
        Ok((pkg, bytes))
    }
}
