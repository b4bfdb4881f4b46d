//! Package bundles: one `.tar.gz` holding `package.toml` and the package's files under
//! `files/`, the form in which packages are imported, exported and kept in git.

use crate::error::{EngineError, Result};
use drover_domain::package::{PackageDef, parse_package, to_toml};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The longest `package.toml`.
pub const MAX_TOML_BYTES: u64 = 1024 * 1024;

/// What a bundle may hold; the server's `--max-bundle-mb` and `--max-bundle-files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The uploaded (compressed) bundle.
    pub max_upload_bytes: u64,
    /// All its files once expanded.
    pub max_expanded_bytes: u64,
    /// Its files.
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_upload_bytes: 2 << 30, max_expanded_bytes: 2 << 30, max_files: 10_000 }
    }
}

/// One file of a bundle, expanded into the staging folder and hashed.
#[derive(Debug)]
pub struct StagedFile {
    /// Path under files/.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// Where its content waits, in the staging folder.
    pub staged: PathBuf,
}

/// A bundle that validated: its definition and its files, in a staging folder that is
/// removed when this drops. Nothing is on the share yet.
#[derive(Debug)]
pub struct Staged {
    pub def: PackageDef,
    pub files: Vec<StagedFile>,
    pub dir: tempfile::TempDir,
}

/// Reads and validates a bundle (a `.tar.gz` stream), expanding its files into a new
/// folder under `staging_root`, within `limits`. Blocking: run it off the async workers.
/// Refused: a bundle past a limit, entries other than package.toml and regular files
/// under files/, an entry twice (two package.toml too), a package that does not validate.
pub fn unpack(tar_gz: impl Read, staging_root: &Path, limits: &Limits) -> Result<Staged> {
    let bad = |m: String| EngineError::Invalid(format!("bundle: {m}"));
    let mib = |b: u64| b.div_ceil(1024 * 1024);
    let dir = tempfile::Builder::new()
        .prefix("bundle-")
        .tempdir_in(staging_root)
        .map_err(|e| EngineError::Internal(format!("cannot create a staging folder: {e}")))?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(tar_gz));
    // headers and padding on top of the files' bytes: a bound on the whole stream
    let overhead = (limits.max_files as u64 + 2) * 2048 + MAX_TOML_BYTES;
    let mut archive = tar::Archive::new(gz.take(limits.max_expanded_bytes.saturating_add(overhead)));
    let mut toml_text: Option<String> = None;
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut expanded = 0u64;
    let mut entries_seen = 0usize;
    let entries = archive.entries().map_err(|e| bad(format!("not a tar.gz archive ({e})")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("not a readable tar.gz archive ({e})")))?;
        entries_seen += 1;
        if entries_seen > limits.max_files.saturating_mul(2) + 2 {
            return Err(bad(format!("more than {} entries", limits.max_files.saturating_mul(2) + 2)));
        }
        let kind = entry.header().entry_type();
        let path = entry.path().map_err(|e| bad(e.to_string()))?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").to_string();
        if kind.is_dir() || path.is_empty() {
            continue;
        }
        if !kind.is_file() {
            return Err(bad(format!("'{path}' is not a regular file (links are not allowed)")));
        }
        if !seen.insert(path.clone()) {
            return Err(bad(format!("'{path}' appears twice: a bundle holds each file once")));
        }
        if path == "package.toml" {
            let mut content = Vec::new();
            (&mut entry)
                .take(MAX_TOML_BYTES + 1)
                .read_to_end(&mut content)
                .map_err(|e| bad(format!("reading '{path}': {e}")))?;
            if content.len() as u64 > MAX_TOML_BYTES {
                return Err(bad(format!("package.toml is larger than {} KiB", MAX_TOML_BYTES / 1024)));
            }
            toml_text = Some(String::from_utf8(content).map_err(|_| bad("package.toml is not UTF-8".into()))?);
        } else if let Some(rel) = path.strip_prefix("files/") {
            if rel.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
                return Err(bad(format!("'{path}' is not a plain relative path")));
            }
            if files.len() >= limits.max_files {
                return Err(bad(format!("more than {} files (the server's --max-bundle-files)", limits.max_files)));
            }
            let staged = dir.path().join(files.len().to_string());
            let room = limits.max_expanded_bytes - expanded;
            let (sha256, size) = stage(&mut entry, &staged, room).map_err(|e| match e {
                StageError::TooLarge => bad(format!(
                    "its files expand to more than {} MiB (the server's --max-bundle-mb)",
                    mib(limits.max_expanded_bytes)
                )),
                StageError::Read(e) => bad(format!("reading '{path}': {e}")),
                StageError::Write(e) => EngineError::Internal(format!("cannot stage '{path}': {e}")),
            })?;
            expanded += size;
            files.push(StagedFile { path: rel.to_string(), sha256, size, staged });
        } else {
            return Err(bad(format!("unexpected entry '{path}': a bundle holds package.toml and files/ only")));
        }
    }
    let toml_text = toml_text.ok_or_else(|| bad("package.toml is missing".into()))?;
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let def = parse_package(&toml_text, &names)?;
    Ok(Staged { def, files, dir })
}

enum StageError {
    TooLarge,
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies one entry to `to`, hashing it; at most `room` bytes.
fn stage(from: &mut impl Read, to: &Path, room: u64) -> std::result::Result<(String, u64), StageError> {
    use sha2::{Digest, Sha256};
    use std::io::Write;
    let mut out = std::fs::File::create(to).map_err(StageError::Write)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = from.read(&mut buf).map_err(StageError::Read)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > room {
            return Err(StageError::TooLarge);
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(StageError::Write)?;
    }
    out.sync_all().map_err(StageError::Write)?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// Writes a bundle.
pub fn write_bundle(def: &PackageDef, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| EngineError::Internal(format!("writing bundle: {e}"));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut add = |path: &str, bytes: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes)
    };
    add("package.toml", to_toml(def)?.as_bytes()).map_err(io)?;
    for (path, bytes) in files {
        add(&format!("files/{path}"), bytes).map_err(io)?;
    }
    tar.into_inner().map_err(io)?.finish().map_err(io)
}

#[cfg(test)]
mod tests;
