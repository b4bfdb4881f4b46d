//! The step editor's engine calls over a real SQLite store and share: a file uploaded on
//! its own, then a definition saved with it as a new package version.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use drover_domain::deployment::Executor;
use drover_domain::package::parse_package;
use drover_engine::{Engine, EngineConfig, EngineError};
use drover_proto::JobFile;
use drover_store::Store;

async fn engine(dir: &std::path::Path) -> Engine {
    let deployer = dir.join("deployer");
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
    elf.extend(0x3e_u16.to_le_bytes());
    std::fs::write(&deployer, elf).unwrap();
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", dir.join("drover.db").display())).await.unwrap();
    Engine::open(store, EngineConfig::new(dir.join("data"), deployer)).await.unwrap()
}

const TOML: &str = r#"
name = "edited"
version = "1"
[[steps]]
name = "copy"
type = "file-copy"
source = "{PackageShare}/note.txt"
destination = "/tmp/note.txt"
"#;

#[tokio::test]
async fn an_uploaded_file_is_saved_with_the_package_and_the_share_decides_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    let by = Executor::user("admin");
    let mut up = e.begin_upload().await.unwrap();
    up.write(b"hello ").await.unwrap();
    up.write(b"note\n").await.unwrap();
    let f = e.put_package_file(&by, "note.txt", up).await.unwrap();
    assert_eq!(f.size, 11);
    assert_eq!(e.share().read(&f.sha256).unwrap(), b"hello note\n");

    let def = parse_package(TOML, &["note.txt"]).unwrap();
    // a size the form made up is replaced by the share's
    let forged = JobFile { size: 999, ..f.clone() };
    let pkg = e.save_package(&by, &def, &[forged]).await.unwrap();
    assert_eq!(pkg.files, vec![f.clone()]);

    // the same name and version again: refused
    let again = e.save_package(&by, &def, std::slice::from_ref(&f)).await.unwrap_err();
    assert!(matches!(again, EngineError::Conflict(ref m) if m.contains("already exists")), "{again:?}");

    // a file that is not on the share, a step naming a file the package lacks
    let mut v2 = def.clone();
    v2.version = "2".into();
    let gone = JobFile { sha256: "ab".repeat(32), ..f.clone() };
    let err = e.save_package(&by, &v2, &[gone]).await.unwrap_err();
    assert!(matches!(err, EngineError::Invalid(ref m) if m.contains("upload it again")), "{err:?}");
    let err = e.save_package(&by, &v2, &[]).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Invalid(ref m) if m.contains("step 1 'copy'") && m.contains("note.txt")),
        "{err:?}"
    );

    // a name that is not a plain file name
    let up = e.begin_upload().await.unwrap();
    assert!(matches!(e.put_package_file(&by, "../x", up).await, Err(EngineError::Invalid(_))));

    let (_, log) = e.audit_page(0, 10).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["package_save", "package_file_upload"]);
}
