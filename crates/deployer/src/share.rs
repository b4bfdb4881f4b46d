//! Package files from the share: downloaded once per job, size and SHA-256 checked.

use drover_proto::{Job, JobFile, PACKAGE_SHARE};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Share<'a> {
    job: &'a Job,
    dir: PathBuf,
    agent: ureq::Agent,
}

impl<'a> Share<'a> {
    pub fn new(job: &'a Job, work_dir: &Path) -> Share<'a> {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Share { job, dir: work_dir.join("files"), agent }
    }

    /// A step path with `{PackageShare}/x` replaced by the local copy of `x`
    /// (downloaded now if needed); other paths unchanged.
    pub fn resolve(&self, path: &str) -> Result<String, String> {
        let Some(rel) = path.strip_prefix(PACKAGE_SHARE).map(|r| r.trim_start_matches('/')) else {
            return Ok(path.to_string());
        };
        let file = self
            .job
            .files
            .iter()
            .find(|f| f.path == rel)
            .ok_or_else(|| format!("'{path}' names '{rel}', which is not a file of the package"))?;
        let local = self.dir.join(rel);
        if !local.exists() {
            self.download(file, &local)?;
        }
        Ok(local.to_string_lossy().into_owned())
    }

    fn download(&self, f: &JobFile, local: &Path) -> Result<(), String> {
        let url = format!("{}/files/{}", self.job.share_url.trim_end_matches('/'), f.sha256);
        let fail = |m: String| format!("downloading '{}' from the share failed: {m}", f.path);
        let resp = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.job.share_token))
            .call()
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {} from {url}", resp.status())));
        }
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
        }
        let tmp = local.with_extension("part");
        let mut out = std::fs::File::create(&tmp).map_err(|e| fail(e.to_string()))?;
        let mut body = resp.into_body();
        let mut reader = body.as_reader();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(|e| fail(e.to_string()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| fail(e.to_string()))?;
            size += n as u64;
        }
        let got = hex::encode(hasher.finalize());
        if size != f.size || got != f.sha256 {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(format!(
                "got {size} bytes with SHA-256 {got}, expected {} bytes with {}",
                f.size, f.sha256
            )));
        }
        std::fs::rename(&tmp, local).map_err(|e| fail(e.to_string()))
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
