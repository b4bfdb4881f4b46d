use crate::conformance;
use drover_domain::ids::PackageId;
use drover_domain::package::parse_package;
use drover_proto::JobFile;
use drover_store::{Store, StoreError};

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
