//! Packages written in the console's step editor: single files uploaded to the share for
//! a package being edited, and saving an edited definition as a new package version.

use crate::Engine;
use crate::error::{EngineError, Result};
use crate::packages::Upload;
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::package::{Package, PackageDef, validate};
use drover_proto::JobFile;
use tokio::io::AsyncWriteExt;

/// The longest name of a package file uploaded on its own.
pub const MAX_FILE_NAME: usize = 200;

/// Whether `name` can be a package file's name: one path component, no control
/// characters, not `.` or `..`.
pub fn check_file_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > MAX_FILE_NAME {
        return Err(format!("a file name has 1 to {MAX_FILE_NAME} characters"));
    }
    if name == "." || name == ".." || name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        return Err(format!("'{name}' is not a plain file name (no '/', '\\\\', '..' or control characters)"));
    }
    Ok(())
}

impl Engine {
    /// Puts an uploaded file on the share as the package file `name`, for a package being
    /// edited: returns the file as steps and [`Engine::save_package`] name it. The file
    /// stays on the share until a share clean-up (at start) finds no package listing it.
    pub async fn put_package_file(&self, by: &Executor, name: &str, mut up: Upload) -> Result<JobFile> {
        check_file_name(name).map_err(EngineError::Invalid)?;
        up.file.flush().await?;
        let size = up.written();
        let path = up.path;
        let _share = self.share_lock().lock().await;
        let share = self.share().clone();
        let sha256 = tokio::task::spawn_blocking(move || -> Result<String> {
            use sha2::{Digest, Sha256};
            use std::io::Read;
            let mut file = std::fs::File::open(&path)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            let sha256 = hex::encode(hasher.finalize());
            share.adopt(&path, &sha256)?;
            Ok(sha256)
        })
        .await
        .map_err(|e| EngineError::Internal(format!("package file upload: {e}")))??;
        let detail = format!("file '{name}' ({size} bytes, sha256 {sha256})");
        self.audit_done(by, AuditAction::PackageFileUpload, &detail).await;
        Ok(JobFile { path: name.to_string(), sha256, size })
    }

    /// Stores an edited definition as a new package (or a new version of one) with files
    /// already on the share (uploaded with [`Engine::put_package_file`] or listed by an
    /// existing package). Validated like an imported bundle; a name and version that
    /// exist are refused.
    pub async fn save_package(&self, by: &Executor, def: &PackageDef, files: &[JobFile]) -> Result<Package> {
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        validate(def, &names).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for f in files {
            check_file_name(&f.path).map_err(EngineError::Invalid)?;
            if !seen.insert(f.path.as_str()) {
                return Err(EngineError::Invalid(format!("the file '{}' is listed twice", f.path)));
            }
        }
        if self.store().package_by_name(&def.name, Some(&def.version)).await.is_ok() {
            return Err(EngineError::Conflict(format!(
                "package '{}' version '{}' already exists: give the new one another version, or remove the old one first",
                def.name, def.version
            )));
        }
        // (a file another node's share has is fetched here first; a hash that is none is
        // no file on the share)
        let mut paths = Vec::with_capacity(files.len());
        for f in files {
            paths.push(match self.share_file_path(&f.sha256).await {
                Ok(path) => Some(path),
                Err(EngineError::NotFound(_)) => None,
                Err(e) => return Err(e),
            });
        }
        let _share = self.share_lock().lock().await;
        let mut stored = Vec::with_capacity(files.len());
        for (f, path) in files.iter().zip(paths) {
            // the size is the share's, whatever the form said
            let size = path.and_then(|p| std::fs::metadata(p).ok()).filter(|m| m.is_file());
            let Some(meta) = size else {
                return Err(EngineError::Invalid(format!(
                    "the file '{}' is no longer on the share (the server was restarted since it was uploaded): upload it again",
                    f.path
                )));
            };
            stored.push(JobFile { path: f.path.clone(), sha256: f.sha256.clone(), size: meta.len() });
        }
        let pkg = self.create_package_with_files(def, &stored).await?;
        let detail = format!("package {} '{}' version {}", pkg.id, pkg.def.name, pkg.def.version);
        self.audit_done(by, AuditAction::PackageSave, &detail).await;
        Ok(pkg)
    }
}
