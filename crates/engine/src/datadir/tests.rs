//! The vault key against its database: created once, never silently replaced.

#![allow(clippy::unwrap_used)]

use super::*;
use drover_domain::credential::{CredentialKind, CredentialSecret, SudoMode};

async fn store(dir: &Path) -> Store {
    Store::connect(&format!("sqlite://{}?mode=rwc", dir.join("drover.db").display())).await.unwrap()
}

#[tokio::test]
async fn a_new_database_gets_a_key_and_opens_with_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    open_vault(dir.path(), &s).await.unwrap();
    let key = dir.path().join("secret.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    open_vault(dir.path(), &s).await.unwrap();
}

#[tokio::test]
async fn a_missing_key_next_to_a_used_database_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    open_vault(dir.path(), &s).await.unwrap();
    std::fs::remove_file(dir.path().join("secret.key")).unwrap();
    let err = open_vault(dir.path(), &s).await.unwrap_err().to_string();
    assert!(err.contains("is missing") && err.contains("restore secret.key from your backup"), "{err}");
    assert!(!dir.path().join("secret.key").exists(), "no new key was made");
}

#[tokio::test]
async fn a_missing_key_next_to_sealed_credentials_stops_the_start_without_a_check_value() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let v = Vault::open_or_create(&dir.path().join("secret.key")).unwrap();
    let secret = CredentialSecret { password: Some("pw".into()), ..Default::default() };
    s.create_credential("root", "root", CredentialKind::Password, SudoMode::None, |id| v.seal(id, &secret).unwrap(), 1)
        .await
        .unwrap();
    std::fs::remove_file(dir.path().join("secret.key")).unwrap();
    let err = open_vault(dir.path(), &s).await.unwrap_err().to_string();
    assert!(err.contains("1 credential(s)"), "{err}");
}

#[tokio::test]
async fn another_key_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    open_vault(dir.path(), &s).await.unwrap();
    std::fs::remove_file(dir.path().join("secret.key")).unwrap();
    write_private(&dir.path().join("secret.key"), &Vault::new_key()).unwrap();
    let err = open_vault(dir.path(), &s).await.unwrap_err().to_string();
    assert!(err.contains("does not open the check value"), "{err}");
}

#[test]
fn private_files_are_not_written_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::os::unix::fs::symlink(&victim, dir.path().join("secret.key")).unwrap();
    assert!(write_private(&dir.path().join("secret.key"), b"key").is_err());
    assert!(!victim.exists(), "the link's target was not created");
    std::fs::write(&victim, b"root-only").unwrap();
    assert!(write_private(&dir.path().join("secret.key"), b"key").is_err());
    assert_eq!(std::fs::read(&victim).unwrap(), b"root-only");
    assert!(read_private(&dir.path().join("secret.key")).is_err(), "a symlinked key is refused");
}
