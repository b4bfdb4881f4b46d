use crate::conformance;
use drover_domain::ids::PackageId;
use drover_domain::package::parse_package;
use drover_proto::JobFile;
use drover_store::{Store, StoreError, StoredShareFile};

conformance!(packages_round_trip);

const PKG: &str = r#"
name = "hello"
version = "1.0"
run_mode = "ask"
max_duration_secs = 60
[[steps]]
name = "copy"
type = "file-copy"
source = "{PackageShare}/a/b.conf"
destination = "/etc/b.conf"
mode = "0600"
[[steps]]
name = "check"
type = "condition"
criteria = [{ check = "software-version", name = "openssh-server", op = ">=", version = "1:9.2" }]
on_failure = "goto 1"
"#;

async fn packages_round_trip(s: Store) {
    let def = parse_package(PKG, &["a/b.conf"]).unwrap();
    let files = vec![JobFile { path: "a/b.conf".into(), sha256: "ab".repeat(32), size: 12 }];
    let p = s.create_package(&def, &files, 9).await.unwrap();
    let back = s.package(p.id).await.unwrap();
    assert_eq!(back.def, def, "steps, actions and criteria survive");
    assert_eq!(back.files, files);
    assert!(s.file_in_use(&"ab".repeat(32)).await.unwrap());
    assert!(!s.file_in_use(&"cd".repeat(32)).await.unwrap());
    let dup = s.create_package(&def, &files, 10).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(ref m) if m.contains("'hello'") && m.contains("'1.0'")), "{dup:?}");
    let mut v2 = def.clone();
    v2.version = "2.0".into();
    let p2 = s.create_package(&v2, &[], 11).await.unwrap();
    assert_eq!(s.package_by_name("hello", None).await.unwrap().id, p2.id, "newest first");
    assert_eq!(s.package_by_name("hello", Some("1.0")).await.unwrap().id, p.id);
    assert!(matches!(s.package_by_name("hello", Some("3")).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.list_packages().await.unwrap().len(), 2);
    s.delete_package(p2.id).await.unwrap();
    assert!(matches!(s.package(p2.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.package(PackageId(999)).await, Err(StoreError::NotFound(_))));
}

conformance!(share_files_in_chunks);

async fn share_files_in_chunks(s: Store) {
    let (used, unused) = ("ab".repeat(32), "cd".repeat(32));
    for sha in [&used, &unused] {
        assert_eq!(s.stored_share_file(sha).await.unwrap(), None);
        s.put_share_chunk(sha, 0, b"first ".to_vec()).await.unwrap();
        s.put_share_chunk(sha, 1, b"stale".to_vec()).await.unwrap();
        s.put_share_chunk(sha, 1, b"second".to_vec()).await.unwrap();
    }
    // chunks alone are not a file yet
    assert_eq!(s.stored_share_file(&used).await.unwrap(), None);
    let whole = StoredShareFile { size: 12, chunks: 2 };
    s.finish_share_file(&used, whole, 100).await.unwrap();
    s.finish_share_file(&used, whole, 200).await.unwrap();
    assert_eq!(s.stored_share_file(&used).await.unwrap(), Some(whole));
    assert_eq!(s.share_chunk(&used, 0).await.unwrap(), b"first ");
    assert_eq!(s.share_chunk(&used, 1).await.unwrap(), b"second", "a chunk stored again is replaced");
    assert!(matches!(s.share_chunk(&used, 2).await, Err(StoreError::NotFound(_))));

    let def = parse_package(PKG, &["a/b.conf"]).unwrap();
    let p = s
        .create_package(&def, &[JobFile { path: "a/b.conf".into(), sha256: used.clone(), size: 12 }], 9)
        .await
        .unwrap();
    // unfinished chunks are unused whatever their age; a whole file only once older
    assert_eq!(s.unused_share_files(150).await.unwrap(), vec![unused.clone()]);
    s.finish_share_file(&unused, whole, 100).await.unwrap();
    assert_eq!(s.unused_share_files(100).await.unwrap(), Vec::<String>::new());
    assert_eq!(s.unused_share_files(101).await.unwrap(), vec![unused.clone()]);
    assert!(!s.delete_share_file_if_unused(&used).await.unwrap(), "a package lists it");
    assert_eq!(s.share_chunk(&used, 0).await.unwrap(), b"first ");
    assert!(s.delete_share_file_if_unused(&unused).await.unwrap());
    assert_eq!(s.stored_share_file(&unused).await.unwrap(), None);
    assert!(matches!(s.share_chunk(&unused, 0).await, Err(StoreError::NotFound(_))));
    s.delete_package(p.id).await.unwrap();
    assert!(s.delete_share_file_if_unused(&used).await.unwrap());
    assert_eq!(s.unused_share_files(i64::MAX).await.unwrap(), Vec::<String>::new());
}
