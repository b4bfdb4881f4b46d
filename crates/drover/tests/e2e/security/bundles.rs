//! Bundles and text fields: expanded size and file count bounded, duplicates refused,
//! nothing on the share when an import is refused, unused share files removed, names
//! that read as ids refused, long texts refused, no server paths in answers.

use super::assert_error;
use crate::harness::{Backend, Server, bundle, sha256};
use serde_json::json;

const PKG: &str = "name = \"p\"\nversion = \"1\"\n[[steps]]\nname = \"copy\"\ntype = \"file-copy\"\nsource = \"{PackageShare}/a.bin\"\ndestination = \"/tmp/a\"\n";

/// Every file on the share.
fn share_files(s: &Server) -> Vec<String> {
    let root = s.data.path().join("share");
    let mut out = Vec::new();
    for d in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            out.push(f.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

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

async fn upload(s: &Server, bytes: Vec<u8>) -> (u16, serde_json::Value) {
    let resp =
        s.http.post(format!("{}/api/v1/packages", s.url)).bearer_auth(&s.token).body(bytes).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn bundles_are_bounded_and_a_refused_import_writes_nothing() {
    let s = Server::start_with(Backend::Sqlite, |c| {
        c.bundle_limits.max_expanded_bytes = 1024 * 1024;
        c.bundle_limits.max_files = 3;
    })
    .await;
    // a small upload that expands past the limit
    let bomb = bundle(PKG, &[("a.bin", &vec![0u8; 4 * 1024 * 1024])]);
    assert!(bomb.len() < 64 * 1024);
    let got = upload(&s, bomb).await;
    assert_error(&got, 422, "invalid");
    assert!(got.1["error"].as_str().unwrap().contains("expand to more than 1 MiB"), "{got:?}");
    assert!(share_files(&s).is_empty(), "{:?}", share_files(&s));
    // too many files
    let many = bundle(PKG, &[("a.bin", b"1"), ("b", b"2"), ("c", b"3"), ("d", b"4")]);
    assert!(upload(&s, many).await.1["error"].as_str().unwrap().contains("more than 3 files"));
    // duplicate entries, two package.toml
    let twice = tar_gz(&[("package.toml", PKG.as_bytes()), ("files/a.bin", b"one"), ("files/a.bin", b"two")]);
    assert!(upload(&s, twice).await.1["error"].as_str().unwrap().contains("appears twice"));
    let two_tomls =
        tar_gz(&[("package.toml", PKG.as_bytes()), ("./package.toml", PKG.as_bytes()), ("files/a.bin", b"x")]);
    assert!(upload(&s, two_tomls).await.1["error"].as_str().unwrap().contains("'package.toml' appears twice"));
    assert!(share_files(&s).is_empty(), "{:?}", share_files(&s));

    // a good import, then a refused duplicate of it with other content: not on the share
    assert_eq!(s.import(PKG, &[("a.bin", b"first")]).await.0, 200);
    let dup = s.import(PKG, &[("a.bin", b"second")]).await;
    assert_error(&dup, 409, "conflict");
    assert_eq!(share_files(&s), vec![sha256(b"first")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn share_files_no_package_uses_are_removed() {
    let s = Server::start(Backend::Sqlite).await;
    let two = PKG.replace("name = \"p\"", "name = \"q\"")
        + "[[steps]]\nname = \"b\"\ntype = \"file-copy\"\nsource = \"{PackageShare}/b.bin\"\ndestination = \"/tmp/b\"\n";
    assert_eq!(s.import(PKG, &[("a.bin", b"shared")]).await.0, 200);
    assert_eq!(s.import(&two, &[("a.bin", b"shared"), ("b.bin", b"own")]).await.0, 200);
    let mut both = vec![sha256(b"shared"), sha256(b"own")];
    both.sort();
    assert_eq!(share_files(&s), both);
    s.ok(reqwest::Method::DELETE, "/packages/p", None).await;
    assert_eq!(share_files(&s), both, "q still uses the shared file");
    s.ok(reqwest::Method::DELETE, "/packages/q", None).await;
    assert!(share_files(&s).is_empty(), "{:?}", share_files(&s));
}

#[tokio::test(flavor = "multi_thread")]
async fn names_that_read_as_ids_and_long_texts_are_refused() {
    let s = Server::start(Backend::Sqlite).await;
    let digits = s.import(&PKG.replace("name = \"p\"", "name = \"123\""), &[("a.bin", b"x")]).await;
    assert_error(&digits, 422, "invalid");
    assert!(digits.1["error"].as_str().unwrap().contains("all digits"), "{digits:?}");
    let asset = s.call(reqwest::Method::POST, "/assets", Some(json!({"name": "123", "address": "192.0.2.1"}))).await;
    assert_error(&asset, 422, "invalid");
    // a 50 MB description compresses to little, and is refused with a clear message
    let huge = format!("description = \"{}\"\n{PKG}", "d".repeat(50 * 1024 * 1024));
    let got = s.import(&huge, &[("a.bin", b"x")]).await;
    assert_error(&got, 422, "invalid");
    assert!(got.1["error"].as_str().unwrap().contains("package.toml is larger than"), "{got:?}");
    let long = format!("description = \"{}\"\n{PKG}", "d".repeat(10_000));
    let got = s.import(&long, &[("a.bin", b"x")]).await;
    assert!(got.1["error"].as_str().unwrap().contains("'description' has 10000 bytes"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_do_not_reveal_server_paths() {
    let s = Server::start(Backend::Sqlite).await;
    assert_eq!(s.import(PKG, &[("a.bin", b"content")]).await.0, 200);
    let sha = sha256(b"content");
    std::fs::remove_file(s.data.path().join("share").join(&sha[..2]).join(&sha)).unwrap();
    let got = s.call(reqwest::Method::GET, "/packages/p/bundle", None).await;
    assert_eq!(got.0, 404, "{got:?}");
    let data = s.data.path().to_string_lossy().into_owned();
    assert!(!got.1.to_string().contains(&data), "the answer names {data}: {got:?}");
}
