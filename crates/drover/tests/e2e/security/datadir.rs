//! The data directory: a missing or different `secret.key` stops the server; files are
//! not created through symlinks; the first admin's password obeys the minimum.

use crate::harness::{Backend, Server, deployer_path};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `drover serve` on `data` (port 0); the child, for the caller to wait on or kill.
fn serve(data: &std::path::Path, admin_password: Option<&str>) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drover"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--deployer")
        .arg(deployer_path())
        .env_remove("DROVER_DATABASE_URL")
        .env_remove("DROVER_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = admin_password {
        cmd.env("DROVER_ADMIN_PASSWORD", p);
    }
    cmd.spawn().expect("start drover serve")
}

/// Waits for the child to end (at most 60 s): (exit code, stderr).
fn ended(child: std::process::Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_different_key_stops_the_server() {
    let s = Server::start(Backend::Sqlite).await;
    s.credential("root", serde_json::json!({"username": "root", "password": "secret"})).await;
    let key = s.data.path().join("secret.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let (code, err) = ended(serve(s.data.path(), None));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("secret.key") && err.contains("restore secret.key from your backup"), "{err}");
    assert!(!key.exists(), "no new key was made");

    std::fs::write(&key, [7u8; 32]).unwrap();
    let (code, err) = ended(serve(s.data.path(), None));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("does not open the check value"), "{err}");
    std::fs::write(&key, saved).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_admin_password_obeys_the_minimum() {
    let data = tempfile::tempdir().unwrap();
    let (code, err) = ended(serve(data.path(), Some("short")));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("DROVER_ADMIN_PASSWORD is refused") && err.contains("at least 8"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_initial_admin_password_is_not_written_through_a_symlink() {
    let data = tempfile::tempdir().unwrap();
    let victim = data.path().join("victim");
    std::fs::write(&victim, "root-only content\n").unwrap();
    let file = data.path().join("initial-admin-password");
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    let mut child = serve(data.path(), None);
    let start = Instant::now();
    while !std::fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_file() && m.len() > 0) {
        assert!(start.elapsed() < Duration::from_secs(60), "no initial-admin-password file");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("drover serve ended: {status}: {}", ended(child).1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root-only content\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
}
