//! Importing and exporting packages with their files on the share.

use crate::bundle::{read_bundle, write_bundle};
use crate::error::Result;
use crate::{Engine, now_ms};
use drover_domain::ids::PackageId;
use drover_domain::package::Package;
use drover_proto::JobFile;

impl Engine {
    /// Stores a bundle's files on the share and the package in the store. A bundle that
    /// does not validate stores nothing.
    pub async fn import_bundle(&self, tar_gz: &[u8]) -> Result<Package> {
        let bundle = read_bundle(tar_gz)?;
        let mut files = Vec::new();
        for (path, bytes) in &bundle.files {
            let sha256 = self.share().put(bytes)?;
            files.push(JobFile { path: path.clone(), sha256, size: bytes.len() as u64 });
        }
        Ok(self.store().create_package(&bundle.def, &files, now_ms()).await?)
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
