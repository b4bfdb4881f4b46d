//! Package files from the share: `{PackageShare}/rel/path` is looked up in the job's
//! files, downloaded once per job into `<work_dir>/files/rel/path` (streamed to disk,
//! size and SHA-256 checked) and replaced by that local path. The folders are made and
//! the file written through directory handles, never through a symlink (`safefs`).

use crate::process::Limits;
use crate::safefs::{Dir, name_str};
use crate::tls::ServerAgent;
use drover_proto::{Criterion, Job, JobFile, PACKAGE_SHARE, StepKind};
use rustix::fs::FileType;
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

pub struct Share<'a> {
    job: &'a Job,
    work_dir: PathBuf,
    /// The share's base URL and agent; when the share is the server's own, then those of
    /// the other nodes of its database, tried in turn when one cannot be reached.
    servers: Vec<(String, ServerAgent)>,
    /// The one that answered last.
    at: Cell<usize>,
}

impl<'a> Share<'a> {
    pub fn new(job: &'a Job, work_dir: &Path) -> Share<'a> {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build();
        let base = |url: &str| url.trim_end_matches('/').to_string();
        let own = base(&job.share_url) == format!("{}/share/v1", base(&job.server_url));
        let others = crate::tls::other_servers(job).filter(|_| own).map(|o| {
            (format!("{}/share/v1", base(&o.url)), ServerAgent::new(config.clone(), o.cert_sha256.as_deref()))
        });
        let servers =
            std::iter::once((base(&job.share_url), ServerAgent::new(config.clone(), job.share_cert_sha256.as_deref())))
                .chain(others)
                .collect();
        Share { job, work_dir: work_dir.to_path_buf(), servers, at: Cell::new(0) }
    }

    /// `path` with `{PackageShare}/x` replaced by the local copy of `x` (downloaded now
    /// unless this job already did); any other path is returned unchanged.
    pub fn resolve(&self, path: &str, limits: &Limits) -> Result<String, String> {
        match self.file(path)? {
            Some(file) => self.local(file, limits),
            None => Ok(path.to_string()),
        }
    }

    /// The local copy of a package file, downloaded now unless this job already did.
    fn local(&self, file: &JobFile, limits: &Limits) -> Result<String, String> {
        let rel = Path::new(&file.path);
        let (Some(name), parent) = (rel.file_name(), rel.parent().unwrap_or(Path::new(""))) else {
            return Err(format!("the package file path '{}' names no file", rel.display()));
        };
        let files = drover_proto::workdir::FILES;
        let dir = Dir::open(&self.work_dir)
            .and_then(|w| w.child_or_create(OsStr::new(files)))
            .and_then(|f| f.descend(parent))
            .map_err(|e| {
                format!("cannot make the folder of '{}' under {files}/ in the work directory: {e}", rel.display())
            })?;
        let local = dir.path().join(name);
        if !is_regular_file(&dir, name) {
            self.download(file, &dir, name, limits)?;
        }
        Ok(local.to_string_lossy().into_owned())
    }

    /// The package file `path` names (`{PackageShare}/x`), or None for any other path.
    fn file(&self, path: &str) -> Result<Option<&'a JobFile>, String> {
        let Some(rel) = path.strip_prefix(PACKAGE_SHARE).map(|r| r.trim_start_matches('/')) else {
            return Ok(None);
        };
        let file = self.job.files.iter().find(|f| f.path == rel).ok_or_else(|| {
            format!("'{path}' names '{rel}', which is not one of the package's files (the job lists {})", self.listed())
        })?;
        let safe = Path::new(rel).components().all(|c| matches!(c, Component::Normal(_)));
        if rel.is_empty() || !safe {
            return Err(format!("the package file path '{rel}' is not a plain relative path"));
        }
        Ok(Some(file))
    }

    /// Where a file-copy step gets its bytes: a package file that no other step of the
    /// job names comes from the share straight into the copy, so that its bytes are
    /// written once (a step that runs again downloads again); any other source is a local
    /// file (a package file downloaded into the work directory once for all its steps).
    pub fn copy_source<'s>(&'s self, source: &str, limits: &'s Limits) -> Result<CopySource<'s>, String> {
        let Some(file) = self.file(source)? else {
            return Ok(CopySource::Local(source.to_string()));
        };
        if self.job.steps.iter().filter(|s| share_path(&s.kind) == Some(source)).count() > 1 {
            return self.local(file, limits).map(CopySource::Local);
        }
        Ok(CopySource::Fetch { share: self, file, limits })
    }

    /// Whether a condition of the job checks a file's SHA-256.
    fn checks_hashes(&self) -> bool {
        self.job.steps.iter().any(|s| match &s.kind {
            StepKind::Condition { criteria } => criteria.iter().any(|c| matches!(c, Criterion::FileHash { .. })),
            _ => false,
        })
    }

    fn listed(&self) -> String {
        if self.job.files.is_empty() {
            return "no files".into();
        }
        self.job.files.iter().map(|f| format!("'{}'", f.path)).collect::<Vec<_>>().join(", ")
    }

    fn download(&self, f: &JobFile, dir: &Dir, name: &OsStr, limits: &Limits) -> Result<(), String> {
        let (mut out, part) = dir.temp(&name_str(name)).map_err(|e| {
            format!(
                "downloading package file '{}' failed: cannot create a file in {}: {e}",
                f.path,
                dir.path().display()
            )
        })?;
        let done = self.fetch(f, &mut out, limits).and_then(|()| {
            dir.rename(&part, name).map_err(|e| format!("downloading package file '{}' failed: {e}", f.path))
        });
        if done.is_err() {
            let _ = dir.remove(OsStr::new(&part));
        }
        done
    }

    /// Downloads `f` into `out` (an empty file), checking its size and SHA-256: from the
    /// share that answered last, else from the next one that answers.
    fn fetch(&self, f: &JobFile, out: &mut File, limits: &Limits) -> Result<(), String> {
        let fail = |m: String| failed(f, &m);
        let mut unreachable = Vec::new();
        for i in 0..self.servers.len() {
            let k = (self.at.get() + i) % self.servers.len();
            let (base, agent) = &self.servers[k];
            let url = format!("{base}/files/{}", f.sha256);
            let left = limits.remaining();
            if left.is_zero() {
                return Err(fail("no time left before the step's timeout or the package's max duration".into()));
            }
            // the share token never crosses the network in clear, unless the server itself
            // is plain HTTP (asked for): a plain web server holding the files needs none
            let mut get = agent.agent.get(&url);
            if url.starts_with("https://") || self.job.server_cert_sha256.is_none() {
                get = get.header("Authorization", &format!("Bearer {}", self.job.share_token));
            }
            match get.config().timeout_global(Some(left)).build().call() {
                Ok(resp) => {
                    self.at.set(k);
                    return take(f, resp, &url, out);
                }
                Err(e) => unreachable.push(agent.mismatch(&url).unwrap_or_else(|| format!("{url}: {e}"))),
            }
        }
        Err(fail(unreachable.join("; ")))
    }
}

fn failed(f: &JobFile, why: &str) -> String {
    format!("downloading package file '{}' from the share failed: {why}", f.path)
}

/// Writes the answer to a download of `f` from `url` into `out`, checking its size and
/// SHA-256.
fn take(f: &JobFile, mut resp: ureq::http::Response<ureq::Body>, url: &str, out: &mut File) -> Result<(), String> {
    if !resp.status().is_success() {
        let mut detail = String::new();
        let _ = resp.body_mut().as_reader().take(300).read_to_string(&mut detail);
        let detail = if detail.trim().is_empty() { String::new() } else { format!(": {}", detail.trim()) };
        return Err(failed(f, &format!("HTTP {} from {url}{detail}", resp.status())));
    }
    let (size, sha) = stream(resp.body_mut().as_reader(), out, f.size).map_err(|m| failed(f, &m))?;
    if size == f.size && sha.eq_ignore_ascii_case(&f.sha256) {
        return Ok(());
    }
    Err(failed(
        f,
        &format!(
            "expected {} bytes with SHA-256 {}, got {}{size} bytes with SHA-256 {sha}",
            f.size,
            f.sha256,
            if size > f.size { "more than " } else { "" },
        ),
    ))
}

/// The bytes of a file-copy step (`Share::copy_source`).
pub enum CopySource<'a> {
    /// A file on this machine (a package file already downloaded, or any other path).
    Local(String),
    /// A package file, downloaded into the copy itself.
    Fetch { share: &'a Share<'a>, file: &'a JobFile, limits: &'a Limits },
}

impl CopySource<'_> {
    /// The file name a copy into a directory takes.
    pub fn name(&self) -> &str {
        match self {
            CopySource::Local(path) => path,
            CopySource::Fetch { file, .. } => &file.path,
        }
    }

    /// The SHA-256 the copy's bytes are known to have, where a later file-hash criterion
    /// may ask for it (`known`): a package file fetched into the copy was hashed as it
    /// was written.
    pub fn known_sha256(&self) -> Option<&str> {
        match self {
            CopySource::Fetch { share, file, .. } if share.checks_hashes() => Some(&file.sha256),
            _ => None,
        }
    }

    /// Writes the bytes into `out`, an empty file.
    pub fn write_into(&self, out: &mut File) -> Result<(), String> {
        match self {
            CopySource::Local(path) => {
                let mut from = File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                std::io::copy(&mut from, out).map(drop).map_err(|e| format!("cannot copy {path}: {e}"))
            }
            CopySource::Fetch { share, file, limits } => share.fetch(file, out, limits),
        }
    }
}

fn is_regular_file(dir: &Dir, name: &OsStr) -> bool {
    dir.entry(name).ok().flatten().is_some_and(|e| e.kind == FileType::RegularFile)
}

/// The `{PackageShare}/...` path (or any path) a step reads a file from, if it reads one.
fn share_path(kind: &StepKind) -> Option<&str> {
    match kind {
        StepKind::Installer { path, .. } | StepKind::Script { path, .. } => Some(path),
        StepKind::FileCopy { source, .. } => Some(source),
        _ => None,
    }
}

/// Copies `body` into `out`, hashing as it goes; stops past `want`. (Not synced: the
/// copy is this task's; a reboot step syncs before the machine goes down.)
fn stream(mut body: impl Read, out: &mut File, want: u64) -> Result<(u64, String), String> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    while size <= want {
        let n = fill(&mut body, &mut buf).map_err(|e| format!("reading the download: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| format!("writing the download: {e}"))?;
        size += n as u64;
    }
    out.flush().map_err(|e| format!("writing the download: {e}"))?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Reads until `buf` is full or `body` ends: the download arrives a TLS record (16 KiB)
/// per read, and one write per record cost 640 system calls for 10 MiB.
fn fill(body: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match body.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let (size, sha) = stream(&b"abc"[..], &mut std::fs::File::create(&p).unwrap(), 3).unwrap();
        assert_eq!(size, 3);
        assert_eq!(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_file(&p).unwrap(), sha);
        // a body longer than announced is cut short, so it cannot fill the disk
        let big = vec![7u8; 300_000];
        let (size, _) = stream(&big[..], &mut std::fs::File::create(&p).unwrap(), 10).unwrap();
        assert!(size > 10 && size < 300_000);
    }

    /// A body that arrives in pieces, with interrupted reads between them, is copied whole.
    #[test]
    fn streams_a_body_that_arrives_in_pieces() {
        struct Pieces<'a>(&'a [u8], bool);
        impl Read for Pieces<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.1 = !self.1;
                if self.1 {
                    return Err(std::io::ErrorKind::Interrupted.into());
                }
                let n = buf.len().min(self.0.len()).min(1000);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let body: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let (size, sha) = stream(Pieces(&body, false), &mut std::fs::File::create(&p).unwrap(), 600_000).unwrap();
        assert_eq!(size, 600_000);
        assert_eq!(std::fs::read(&p).unwrap(), body);
        assert_eq!(sha, sha256_file(&p).unwrap());
    }
}
