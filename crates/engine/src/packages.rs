//! Importing and exporting packages with their files on the share.

use crate::bundle::{read_bundle, write_bundle};
use crate::error::Result;
use crate::{Engine, now_ms};
use drover_api::packages::PackageRef;
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::ids::PackageId;
use drover_domain::package::Package;
use drover_proto::JobFile;

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

    /// Deletes a package (its files stay on the share); returns it as it was.
    pub async fn delete_package(&self, by: &Executor, r: &PackageRef) -> Result<Package> {
        let pkg = self.resolve_package(r, None).await?;
        self.store().delete_package(pkg.id).await?;
        let detail = format!("package {} '{}' version {}", pkg.id, pkg.def.name, pkg.def.version);
        self.audit_done(by, AuditAction::PackageDelete, &detail).await;
        Ok(pkg)
    }

    /// Stores a bundle's files on the share and the package in the store. A bundle that
    /// does not validate stores nothing.
    pub async fn import_bundle(&self, by: &Executor, tar_gz: &[u8]) -> Result<Package> {
        let bundle = read_bundle(tar_gz)?;
        let mut files = Vec::new();
        for (path, bytes) in &bundle.files {
            let sha256 = self.share().put(bytes)?;
            files.push(JobFile { path: path.clone(), sha256, size: bytes.len() as u64 });
        }
        let pkg = self.store().create_package(&bundle.def, &files, now_ms()).await?;
        let detail = format!("package {} '{}' version {}", pkg.id, pkg.def.name, pkg.def.version);
        self.audit_done(by, AuditAction::PackageImport, &detail).await;
        Ok(pkg)
    }

    pub async fn export_bundle(&self, id: PackageId) -> Result<(Package, Vec<u8>)> {
        let pkg = self.store().package(id).await?;
        let mut files = Vec::new();
        for f in &pkg.files {
            files.push((f.path.clone(), self.share().read(&f.sha256)?));
        }
        let bytes = write_bundle(&pkg.def, &files)?;
        Ok((pkg, bytes))
    }
}
