//! The deployer builds this server puts on targets, one per architecture: a single
//! executable, or a folder of them (`drover-deployer-*`, e.g. a static x86_64 build and
//! an aarch64 build made elsewhere). Each file's architecture is read from its ELF
//! header, so a file cannot be put on a machine it does not run on.

use crate::error::{EngineError, Result};
use crate::secrets::sha256_hex;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One deployer build.
#[derive(Debug)]
pub(crate) struct DeployerBinary {
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// The bytes gzip-compressed (made at the first upload that can use them): what is
    /// sent to a target that has `gzip`, less than half the bytes through SSH.
    gzipped: std::sync::OnceLock<Vec<u8>>,
}

impl DeployerBinary {
    fn new(bytes: Vec<u8>) -> DeployerBinary {
        DeployerBinary { sha256: sha256_hex(&bytes), bytes, gzipped: Default::default() }
    }

    /// Makes the gzip copy on a blocking thread if it is not made yet (about 0.2 s of
    /// CPU for a 4 MB build: not on the runtime's workers, where the first uploads
    /// would wait on it).
    pub async fn compress_once(self: &Arc<Self>) {
        if self.gzipped.get().is_none() {
            let build = Arc::clone(self);
            // a panic there (none is possible) leaves gzipped() to make it
            let _ = tokio::task::spawn_blocking(move || {
                build.gzipped();
            })
            .await;
        }
    }

    pub fn gzipped(&self) -> &[u8] {
        self.gzipped.get_or_init(|| {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            // writing to memory cannot fail
            let _ = gz.write_all(&self.bytes);
            gz.finish().unwrap_or_default()
        })
    }
}

/// The deployers by architecture, as `uname -m` names it on a target.
#[derive(Debug, Default)]
pub(crate) struct Deployers {
    by_arch: BTreeMap<&'static str, Arc<DeployerBinary>>,
}

impl Deployers {
    /// Reads the executable at `path`, or every `drover-deployer*` file in the folder
    /// at `path`.
    pub fn load(path: &Path) -> Result<Deployers> {
        let unreadable = |e: std::io::Error| {
            EngineError::Internal(format!(
                "cannot read the deployer {} ({e}): build it with `RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --profile deployer -p drover-deployer --target x86_64-unknown-linux-gnu`, or pass --deployer FILE|FOLDER",
                path.display()
            ))
        };
        let mut files = Vec::new();
        if path.is_dir() {
            for entry in std::fs::read_dir(path).map_err(unreadable)? {
                let entry = entry.map_err(unreadable)?;
                if entry.file_name().to_string_lossy().starts_with("drover-deployer") && entry.path().is_file() {
                    files.push(entry.path());
                }
            }
            files.sort();
        } else {
            files.push(path.to_path_buf());
        }
        let mut d = Deployers::default();
        for file in files {
            let bytes = std::fs::read(&file).map_err(unreadable)?;
            let arch = elf_arch(&bytes).ok_or_else(|| {
                EngineError::Internal(format!(
                    "{} is not a Linux executable drover knows the architecture of (an ELF file for x86_64, aarch64, armv7l, i686, riscv64, ppc64le or s390x)",
                    file.display()
                ))
            })?;
            if d.by_arch.contains_key(arch) {
                return Err(EngineError::Internal(format!("two deployers for {arch} in {}: keep one", path.display())));
            }
            d.by_arch.insert(arch, Arc::new(DeployerBinary::new(bytes)));
        }
        if d.by_arch.is_empty() {
            return Err(EngineError::Internal(format!(
                "no drover-deployer file in {}: put the deployer build of each architecture there",
                path.display()
            )));
        }
        Ok(d)
    }

    /// The build for a target whose `uname -m` is `arch`.
    pub fn for_arch(&self, arch: &str) -> Option<&Arc<DeployerBinary>> {
        let arch = match arch {
            "amd64" => "x86_64",
            "arm64" | "aarch64_be" => "aarch64",
            "armv6l" | "armv8l" => "armv7l",
            "i386" | "i586" => "i686",
            other => other,
        };
        self.by_arch.get(arch)
    }

    /// The architectures there is a deployer for.
    pub fn arches(&self) -> Vec<&'static str> {
        self.by_arch.keys().copied().collect()
    }

    /// Every build's architecture and hash (the start script picks the target's).
    pub fn builds(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_arch.iter().map(|(arch, b)| (*arch, b.sha256.as_str()))
    }

    /// Every build's hash (the facts script looks for each on a target).
    pub fn hashes(&self) -> impl Iterator<Item = &str> {
        self.by_arch.values().map(|b| b.sha256.as_str())
    }
}

/// The architecture of a little-endian ELF executable, as `uname -m` says it.
fn elf_arch(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" || bytes[5] != 1 {
        return None;
    }
    let class64 = bytes[4] == 2;
    Some(match (u16::from_le_bytes([bytes[18], bytes[19]]), class64) {
        (0x3e, true) => "x86_64",
        (0xb7, true) => "aarch64",
        (0x28, false) => "armv7l",
        (0x03, false) => "i686",
        (0xf3, true) => "riscv64",
        (0x15, true) => "ppc64le",
        (0x16, true) => "s390x",
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A build of these bytes (as `load` makes one).
    pub(crate) fn build(bytes: Vec<u8>) -> DeployerBinary {
        DeployerBinary::new(bytes)
    }

    /// The first 20 bytes of an ELF header: class, little-endian, machine.
    pub(crate) fn elf(class64: bool, machine: u16) -> Vec<u8> {
        let mut h = b"\x7fELF".to_vec();
        h.extend([if class64 { 2 } else { 1 }, 1, 1, 0]);
        h.extend([0; 8]);
        h.extend([2, 0]);
        h.extend(machine.to_le_bytes());
        h
    }

    #[tokio::test]
    async fn the_compressed_build_is_smaller_and_made_once() {
        let b = Arc::new(build(b"#!/bin/sh\n".iter().copied().cycle().take(100_000).collect()));
        b.compress_once().await;
        let first = b.gzipped().as_ptr();
        b.compress_once().await;
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b.gzipped()), &mut back)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, b.bytes);
        assert!(b.gzipped().len() < b.bytes.len() / 10);
        assert_eq!(b.gzipped().as_ptr(), first);
    }

    #[test]
    fn reads_the_architecture_from_the_elf_header() {
        assert_eq!(elf_arch(&elf(true, 0x3e)), Some("x86_64"));
        assert_eq!(elf_arch(&elf(true, 0xb7)), Some("aarch64"));
        assert_eq!(elf_arch(&elf(false, 0x28)), Some("armv7l"));
        assert_eq!(elf_arch(&elf(false, 0x3e)), None);
        assert_eq!(elf_arch(b"#!/bin/sh\necho not an executable we know\n"), None);
    }

    #[test]
    fn a_folder_holds_one_build_per_architecture() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let write =
            |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap_or_else(|e| panic!("{e}"));
        write("drover-deployer-x86_64", &elf(true, 0x3e));
        write("drover-deployer-arm64", &elf(true, 0xb7));
        write("README", b"ignored");
        let d = Deployers::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.arches(), ["aarch64", "x86_64"]);
        assert!(d.for_arch("x86_64").is_some() && d.for_arch("arm64").is_some());
        assert!(d.for_arch("riscv64").is_none());
        write("drover-deployer-copy", &elf(true, 0x3e));
        let err = Deployers::load(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("two deployers for x86_64"), "{err}");
        let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(Deployers::load(empty.path()).is_err());
    }
}
