//! `run_account`: which account the task runs as, and how it gets root, per run mode.

use super::*;
use drover_domain::ids::{AssetId, CredentialId};

fn access(user: &str, sudo: SudoMode) -> Access {
    Access {
        asset: Asset {
            id: AssetId(1),
            name: "web1".into(),
            address: "192.0.2.10".into(),
            ssh_port: 22,
            macs: vec![],
            host_key: None,
            host_key_fingerprint: None,
            hostname: None,
            os: None,
            arch: None,
            last_seen_ms: None,
            created_ms: 0,
            facts: Default::default(),
        },
        credential: Credential {
            id: CredentialId(1),
            name: "cred".into(),
            username: user.into(),
            kind: CredentialKind::Password,
            sudo,
            created_ms: 0,
        },
        secret: CredentialSecret { password: Some("login-pw".into()), ..Default::default() },
    }
}

/// Facts with these users logged on at local consoles (tty1, tty2, … in that order).
fn facts(uid: u32, user: &str, sessions: &[&str]) -> Facts {
    let who: Vec<String> =
        sessions.iter().enumerate().map(|(i, u)| format!("who={u} tty{} 2024-05-01 10:0{i}", i + 1)).collect();
    Facts { uid: Some(uid), user: user.into(), ..crate::deploy::remote::parse_facts(&who.join("\n")) }
}

type Account = (Option<String>, Option<Privilege>);

fn account(mode: RunMode, f: &Facts, a: &Access) -> Result<Account, FailureCode> {
    run_account(mode, f, a).map_err(|s| s.code)
}

fn as_user(u: &str) -> Option<String> {
    Some(u.to_string())
}

#[test]
fn system_mode_needs_root() {
    let root = access("root", SudoMode::None);
    assert_eq!(account(RunMode::System, &facts(0, "root", &[]), &root), Ok((None, Some(Privilege::Root))));
    let sudo = access("alice", SudoMode::NoPassword);
    let alice = facts(1000, "alice", &[]);
    assert_eq!(account(RunMode::System, &alice, &sudo), Ok((None, Some(Privilege::SudoNoPassword))));
    // sudo with password: the sudo password, else the login password
    let mut pw = access("alice", SudoMode::Password);
    assert_eq!(account(RunMode::System, &alice, &pw), Ok((None, Some(Privilege::SudoPassword("login-pw".into())))));
    pw.secret.sudo_password = Some("sudo-pw".into());
    assert_eq!(account(RunMode::System, &alice, &pw), Ok((None, Some(Privilege::SudoPassword("sudo-pw".into())))));
    let plain = access("alice", SudoMode::None);
    assert_eq!(account(RunMode::System, &alice, &plain), Err(FailureCode::NeedsRoot));
    let msg = run_account(RunMode::System, &alice, &plain).err().map(|s| s.message).unwrap_or_default();
    assert!(msg.contains("no sudo") && msg.contains("'cred'") && msg.contains("'web1'"), "{msg}");
}

#[test]
fn scanning_credential_runs_as_the_login_user() {
    let alice = facts(1000, "alice", &["bob"]);
    assert_eq!(account(RunMode::ScanningCredential, &alice, &access("alice", SudoMode::None)), Ok((None, None)));
    assert_eq!(
        account(RunMode::ScanningCredential, &facts(0, "root", &[]), &access("root", SudoMode::None)),
        Ok((None, None))
    );
}

#[test]
fn logged_on_user_mode() {
    let plain = access("alice", SudoMode::None);
    let sudo = access("alice", SudoMode::NoPassword);
    // nobody logged on
    assert_eq!(account(RunMode::LoggedOnUser, &facts(1000, "alice", &[]), &sudo), Err(FailureCode::NobodyLoggedOn));
    // the login user itself: no switch, no root needed
    assert_eq!(account(RunMode::LoggedOnUser, &facts(1000, "alice", &["alice"]), &plain), Ok((None, None)));
    // another user: root needed to switch to them
    let bob = facts(1000, "alice", &["bob"]);
    assert_eq!(account(RunMode::LoggedOnUser, &bob, &plain), Err(FailureCode::NeedsRoot));
    assert_eq!(account(RunMode::LoggedOnUser, &bob, &sudo), Ok((as_user("bob"), Some(Privilege::SudoNoPassword))));
    let root = access("root", SudoMode::None);
    assert_eq!(
        account(RunMode::LoggedOnUser, &facts(0, "root", &["bob"]), &root),
        Ok((as_user("bob"), Some(Privilege::Root)))
    );
    // a non-root user is chosen over root, though root logged on later
    let both = facts(0, "root", &["root", "carol"]);
    assert_eq!(account(RunMode::LoggedOnUser, &both, &root), Ok((as_user("carol"), Some(Privilege::Root))));
    // only root logged on: runs as root (no switch), which needs root
    let only_root = facts(1000, "alice", &["root"]);
    assert_eq!(account(RunMode::LoggedOnUser, &only_root, &sudo), Ok((None, Some(Privilege::SudoNoPassword))));
    assert_eq!(account(RunMode::LoggedOnUser, &only_root, &plain), Err(FailureCode::NeedsRoot));
    assert_eq!(account(RunMode::LoggedOnUser, &facts(0, "root", &["root"]), &root), Ok((None, None)));
}

#[test]
fn an_ssh_session_is_not_a_logged_on_user() {
    let root = access("root", SudoMode::None);
    let mut f = facts(0, "root", &[]);
    f.sessions = crate::deploy::remote::parse_facts("who=bob pts/0 2024-05-01 10:00 (192.0.2.7)").sessions;
    assert_eq!(account(RunMode::LoggedOnUser, &f, &root), Err(FailureCode::NobodyLoggedOn));
    let msg = run_account(RunMode::LoggedOnUser, &f, &root).err().map(|s| s.message).unwrap_or_default();
    assert!(msg.contains("nobody is logged on") && msg.contains("an SSH session does not count"), "{msg}");
    assert!(msg.contains("bob"), "{msg}");
    // the console user is chosen over an SSH user listed first
    f.sessions.extend(crate::deploy::remote::parse_facts("who=carol tty1 2024-05-01 09:00").sessions);
    assert_eq!(account(RunMode::LoggedOnUser, &f, &root), Ok((as_user("carol"), Some(Privilege::Root))));
}
