use super::*;

#[test]
fn quotes_single_quotes() {
    assert_eq!(sh_quote("a'b"), r"'a'\''b'");
}

#[test]
fn parses_facts() {
    let out = "uid=1000\nuser=alice\nhostname=h1\narch=x86_64\nos=Debian GNU/Linux 12 (bookworm)\nmac=00:00:00:00:00:00\nmac=02:D0:01:00:00:01\nsession=bob\nsession=bob\nsession=carol\nssd=1\nclient=10.77.1.1\n";
    let f = parse_facts(out);
    assert_eq!(f.uid, Some(1000));
    assert_eq!(f.macs, vec!["02:d0:01:00:00:01"]);
    assert_eq!(f.sessions, vec!["bob", "carol"]);
    assert!(f.start_stop_daemon && !f.systemd);
    assert_eq!(f.client_ip.as_deref(), Some("10.77.1.1"));
    assert_eq!(Launcher::pick(&f, true), Launcher::StartStopDaemon);
    assert!(!f.deployer_in_root_dir && !f.deployer_in_home_dir);
    let f = parse_facts("deployer=home\n");
    assert!(f.deployer_in_home_dir && !f.deployer_in_root_dir);
}

#[test]
fn facts_script_looks_for_this_deployer_in_both_places() {
    let s = facts_script("0123456789abcdef0123");
    assert!(s.contains("[ -x /var/lib/drover/bin/drover-deployer-0123456789abcdef ]"), "{s}");
    assert!(s.contains(r#"[ -x "$HOME/.drover"/bin/drover-deployer-0123456789abcdef ]"#), "{s}");
}

#[test]
fn sudo_password_goes_first_on_stdin() {
    let (cmd, stdin) = wrap("id -u", Some(&Privilege::SudoPassword("pw".into())));
    assert_eq!(cmd, "sudo -S -p '' -- sh -c 'id -u'");
    assert_eq!(stdin, b"pw\n");
    assert!(!format!("{:?}", Privilege::SudoPassword("pw".into())).contains("pw\""));
}

#[test]
fn record_parsing_skips_torn_lines() {
    let line = r#"{"target_id":1,"seq":1,"at_unix_ms":5,"event":{"event":"step_started","index":0,"name":"a"}}"#;
    let out = format!("{line}\n{{\"target_id\":1,\"se\n{ALIVE}\n");
    let (reports, alive) = parse_record(&out);
    assert_eq!(reports.len(), 1);
    assert!(alive);
}
