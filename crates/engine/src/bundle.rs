//! Package bundles: one `.tar.gz` holding `package.toml` and the package's files under
//! `files/`, the form in which packages are imported, exported and kept in git.

use crate::error::{EngineError, Result};
use drover_domain::package::{PackageDef, parse_package, to_toml};
use std::io::Read;

/// Largest bundle accepted (compressed and uncompressed).
pub const MAX_BUNDLE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// A bundle read into memory: the parsed definition and its files.
#[derive(Debug)]
pub struct Bundle {
    pub def: PackageDef,
    /// (path under files/, content)
    pub files: Vec<(String, Vec<u8>)>,
}

/// Reads and validates a bundle; nothing is stored here.
pub fn read_bundle(tar_gz: &[u8]) -> Result<Bundle> {
    let bad = |m: String| EngineError::Invalid(format!("bundle: {m}"));
    let gz = flate2::read::GzDecoder::new(tar_gz);
    let mut archive = tar::Archive::new(gz.take(MAX_BUNDLE_BYTES));
    let mut toml_text: Option<String> = None;
    let mut files = Vec::new();
    let entries = archive.entries().map_err(|e| bad(format!("not a tar.gz archive ({e})")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("not a readable tar.gz archive ({e})")))?;
        let kind = entry.header().entry_type();
        let path = entry.path().map_err(|e| bad(e.to_string()))?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").to_string();
        if kind.is_dir() || path.is_empty() {
            continue;
        }
        if !kind.is_file() {
            return Err(bad(format!("'{path}' is not a regular file (links are not allowed)")));
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(|e| bad(format!("reading '{path}': {e}")))?;
        if path == "package.toml" {
            toml_text = Some(String::from_utf8(content).map_err(|_| bad("package.toml is not UTF-8".into()))?);
        } else if let Some(rel) = path.strip_prefix("files/") {
            if rel.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
                return Err(bad(format!("'{path}' is not a plain relative path")));
            }
            files.push((rel.to_string(), content));
        } else {
            return Err(bad(format!("unexpected entry '{path}': a bundle holds package.toml and files/ only")));
        }
    }
    let toml_text = toml_text.ok_or_else(|| bad("package.toml is missing".into()))?;
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    let def = parse_package(&toml_text, &names)?;
    Ok(Bundle { def, files })
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
mod tests {
    use super::*;

    const PKG: &str = "name = \"p\"\nversion = \"1\"\n[[steps]]\nname = \"copy\"\ntype = \"file-copy\"\nsource = \"{PackageShare}/a/b.txt\"\ndestination = \"/tmp/b\"\n";

    #[test]
    fn round_trips() {
        let def = parse_package(PKG, &["a/b.txt"]).unwrap();
        let bytes = write_bundle(&def, &[("a/b.txt".into(), b"hello".to_vec())]).unwrap();
        let back = read_bundle(&bytes).unwrap();
        assert_eq!(back.def, def);
        assert_eq!(back.files, vec![("a/b.txt".to_string(), b"hello".to_vec())]);
    }

    #[test]
    fn refuses_missing_files_and_garbage() {
        let def = parse_package(PKG, &["a/b.txt"]).unwrap();
        let bytes = write_bundle(&def, &[]).unwrap();
        let err = read_bundle(&bytes).unwrap_err().to_string();
        assert!(err.contains("which the package does not contain"), "{err}");
        let err = read_bundle(b"not a tarball").unwrap_err().to_string();
        assert!(err.contains("bundle:"), "{err}");
    }
}
