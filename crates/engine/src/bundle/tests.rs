//! Bundles: what is staged, and every way a bundle is refused.

#![allow(clippy::unwrap_used)]

use super::*;

const PKG: &str = "name = \"p\"\nversion = \"1\"\n[[steps]]\nname = \"copy\"\ntype = \"file-copy\"\nsource = \"{PackageShare}/a/b.txt\"\ndestination = \"/tmp/b\"\n";

fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (path, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, *bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn unpack_err(bytes: &[u8], limits: &Limits) -> String {
    let dir = tempfile::tempdir().unwrap();
    let err = unpack(bytes, dir.path(), limits).unwrap_err().to_string();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the staging folder is gone");
    err
}

#[test]
fn round_trips_through_the_staging_folder() {
    let def = parse_package(PKG, &["a/b.txt"]).unwrap();
    let bytes = write_bundle(&def, &[("a/b.txt".into(), b"hello".to_vec())]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let staged = unpack(bytes.as_slice(), dir.path(), &Limits::default()).unwrap();
    assert_eq!(staged.def, def);
    assert_eq!(staged.files.len(), 1);
    let f = &staged.files[0];
    assert_eq!((f.path.as_str(), f.size), ("a/b.txt", 5));
    assert_eq!(f.sha256, crate::secrets::sha256_hex(b"hello"));
    assert_eq!(std::fs::read(&f.staged).unwrap(), b"hello");
    drop(staged);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn refuses_missing_files_and_garbage() {
    let def = parse_package(PKG, &["a/b.txt"]).unwrap();
    let bytes = write_bundle(&def, &[]).unwrap();
    let err = unpack_err(&bytes, &Limits::default());
    assert!(err.contains("which the package does not contain"), "{err}");
    let err = unpack_err(b"not a tarball", &Limits::default());
    assert!(err.contains("bundle:"), "{err}");
}

#[test]
fn refuses_duplicates_and_a_second_package_toml() {
    let err = unpack_err(
        &tar_gz(&[("package.toml", PKG.as_bytes()), ("./package.toml", b"name = \"q\"")]),
        &Limits::default(),
    );
    assert!(err.contains("'package.toml' appears twice"), "{err}");
    let err = unpack_err(
        &tar_gz(&[("package.toml", PKG.as_bytes()), ("files/a/b.txt", b"one"), ("files/a/b.txt", b"two")]),
        &Limits::default(),
    );
    assert!(err.contains("'files/a/b.txt' appears twice"), "{err}");
}

#[test]
fn refuses_bundles_past_the_limits() {
    let big = vec![0u8; 3 * 1024 * 1024];
    let bytes = tar_gz(&[("package.toml", PKG.as_bytes()), ("files/a/b.txt", &big)]);
    assert!(bytes.len() < 100 * 1024, "compresses well: {}", bytes.len());
    let limits = Limits { max_expanded_bytes: 2 * 1024 * 1024, ..Limits::default() };
    let err = unpack_err(&bytes, &limits);
    assert!(err.contains("expand to more than 2 MiB"), "{err}");
    let bytes =
        tar_gz(&[("package.toml", PKG.as_bytes()), ("files/a/b.txt", b"x"), ("files/c", b"y"), ("files/d", b"z")]);
    let err = unpack_err(&bytes, &Limits { max_files: 2, ..Limits::default() });
    assert!(err.contains("more than 2 files"), "{err}");
    let huge_toml = format!("description = \"{}\"\n{PKG}", "d".repeat(2 * 1024 * 1024));
    let err = unpack_err(&tar_gz(&[("package.toml", huge_toml.as_bytes())]), &Limits::default());
    assert!(err.contains("package.toml is larger than 1024 KiB"), "{err}");
}
