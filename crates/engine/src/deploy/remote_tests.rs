use super::*;

#[test]
fn quotes_single_quotes() {
    assert_eq!(sh_quote("a'b"), r"'a'\''b'");
}

#[test]
fn parses_facts() {
    let out = "uid=1000\nuser=alice\nhome=/home/alice\nhostname=h1\narch=x86_64\nos=Debian GNU/Linux 12 (bookworm)\nmac=00:00:00:00:00:00\nmac=02:D0:01:00:00:01\nwho=bob pts/0 2024-05-01 10:00 (192.0.2.7)\nwho=carol tty1 2024-05-01 09:00\nclient=10.77.1.1\n";
    let f = parse_facts(out);
    assert_eq!(f.uid, Some(1000));
    assert_eq!(f.home.as_deref(), Some("/home/alice"));
    assert_eq!(f.macs, vec!["02:d0:01:00:00:01"]);
    let users: Vec<(&str, bool)> = f.sessions.iter().map(|s| (s.user.as_str(), s.local)).collect();
    assert_eq!(users, vec![("bob", false), ("carol", true)]);
    assert!(!f.systemd);
    assert_eq!(f.client_ip.as_deref(), Some("10.77.1.1"));
    assert_eq!(Launcher::pick(&f, true), Launcher::Deployer);
    assert_eq!(Launcher::pick(&parse_facts("systemd=1\n"), true), Launcher::SystemdRun);
    assert_eq!(Launcher::pick(&parse_facts("systemd=1\n"), false), Launcher::Deployer);
    assert!(f.deployers_in_root_dir.is_empty() && f.deployers_in_home_dir.is_empty());
    let f = parse_facts("deployer=home:bin/drover-deployer-0123\nhome=\n");
    assert_eq!(f.deployers_in_home_dir, ["bin/drover-deployer-0123"]);
    assert!(f.deployers_in_root_dir.is_empty());
    assert_eq!(f.home, None);
}

#[test]
fn arguments_are_quoted_once_after_the_script() {
    let (cmd, stdin) = command(&check("/home/o'neil/.drover/targets/7"), None);
    let expected_tail = r#" drover-task '/home/o'\''neil/.drover/targets/7' 'job.json' 'pid' 'task.pid' 'record.jsonl' 'deployer.log' 'files' 'check' '__DROVER_TASK_ALIVE__'"#;
    assert!(cmd.starts_with("sh -c '"), "{cmd}");
    assert!(cmd.ends_with(expected_tail), "{cmd}");
    assert!(stdin.is_empty());
}

#[test]
fn work_directories_are_real_paths() {
    let home = base_dir(false, "/home/alice/");
    assert_eq!(home, "/home/alice/.drover");
    assert_eq!(target_dir(&home, TargetId(7)), "/home/alice/.drover/targets/7");
    assert_eq!(
        deployer_path(&base_dir(true, "/root"), "0123456789abcdef0123"),
        "/var/lib/drover/bin/drover-deployer-0123456789abcdef"
    );
    assert!(is_root_dir(&target_dir(&base_dir(true, ""), TargetId(1))));
    assert!(!is_root_dir(&target_dir(&home, TargetId(1))));
    assert!(!is_root_dir("/var/lib/drover-other/targets/1"));
}

#[test]
fn sudo_password_goes_first_on_stdin() {
    let (cmd, stdin) = command(&sudo_check(), Some(&Privilege::SudoPassword("pw".into())));
    assert!(cmd.starts_with("sudo -S -p '' -- sh -c '"), "{cmd}");
    assert!(cmd.ends_with(" drover-sudo-check"), "{cmd}");
    assert_eq!(stdin, b"pw\n");
    assert!(!format!("{:?}", Privilege::SudoPassword("pw".into())).contains("pw\""));
    let (cmd, _) = command(&sudo_check(), Some(&Privilege::SudoNoPassword));
    assert!(cmd.starts_with("sudo -n -- sh -c '"), "{cmd}");
}

#[test]
fn final_action_warns_only_with_a_delay() {
    let f = |action, delay_secs| FinalAction { action, delay_secs };
    assert!(final_action(f(FinalActionKind::None, 5), "p").is_none());
    let c = final_action(f(FinalActionKind::Shutdown, 0), "p").map(|c| c.args).unwrap_or_default();
    assert_eq!(c, vec!["poweroff", "0", ""]);
    let c = final_action(f(FinalActionKind::Logoff, 30), "p").map(|c| c.args).unwrap_or_default();
    assert_eq!(c, vec!["logoff", "30", "drover: this machine logs off its users in 30 s (after package p)"]);
}

#[test]
fn record_parsing_skips_torn_lines() {
    let line = r#"{"target_id":1,"seq":1,"at_unix_ms":5,"event":{"event":"step_started","index":0,"name":"a"}}"#;
    let out = format!("{line}\n{{\"target_id\":1,\"se\n{ALIVE}\n");
    let (reports, alive) = parse_record(&out);
    assert_eq!(reports.len(), 1);
    assert!(alive);
}

#[test]
fn reads_the_failure_a_script_names() {
    let f = parse_failure(
        "drover-fail=disk_full /var/lib/drover/bin\ncannot write the deployer to /var/lib/drover/bin: cat: write error: No space left on device\n",
    );
    assert_eq!(
        f,
        Some(ScriptFailure {
            code: FailureCode::DiskFull,
            path: "/var/lib/drover/bin".into(),
            detail: "cannot write the deployer to /var/lib/drover/bin: cat: write error: No space left on device"
                .into(),
        })
    );
    assert_eq!(parse_failure("drover-fail=noexec /x\n").map(|f| f.code), Some(FailureCode::NoExec));
    assert_eq!(parse_failure("drover-fail=read_only /x").map(|f| f.code), Some(FailureCode::ReadOnly));
    assert_eq!(parse_failure("drover-fail=something_new /x"), None);
    assert_eq!(parse_failure("mkdir: cannot create directory: Permission denied"), None);
}

#[test]
fn a_login_shell_without_sh_is_told_apart() {
    assert!(shell_missing(Some(127), ""));
    assert!(shell_missing(Some(126), ""));
    assert!(shell_missing(Some(0), ""), "an sh that ran nothing");
    assert!(!shell_missing(Some(0), "uid=0\nuser=root\n"));
    assert!(!shell_missing(Some(1), ""));
    assert!(!shell_missing(None, ""));
    assert!(parse_facts("sudo=1\n").sudo);
    assert!(!parse_facts("systemd=1\n").sudo);
    assert!(parse_facts("gzip=1\n").gzip && !parse_facts("sudo=1\n").gzip);
}

#[test]
fn the_start_line_says_what_the_start_script_did() {
    let out = "uid=0\nstart=launched deployer /var/lib/drover/targets/3\npid=42\n";
    let want = Start::Launched { launcher: "deployer".into(), dir: "/var/lib/drover/targets/3".into() };
    assert_eq!(parse_start(out), Some(want));
    assert_eq!(launched_pid(out), Some(42));
    assert_eq!(parse_start("uid=0\nstart=server deployer missing\n"), Some(Start::Server("deployer missing".into())));
    assert_eq!(parse_start("uid=0\n"), None);
    // a home with a space stays whole
    let out = "start=launched deployer /home/a b/.drover/targets/3\n";
    assert!(matches!(parse_start(out), Some(Start::Launched { dir, .. }) if dir == "/home/a b/.drover/targets/3"));
}

#[test]
fn start_passes_the_scripts_and_the_builds_as_arguments() {
    let plan = StartPlan {
        root_base: "/var/lib/drover",
        target: TargetId(5),
        need: Need::Root { sudo: true },
        unit: "drover-target-5",
        resume: true,
        builds: vec![("x86_64", "0123456789abcdef99")],
    };
    let call = start(&plan);
    assert_eq!(call.script.leading.iter().map(|s| s.text).collect::<Vec<_>>(), [FACTS.text, LAUNCH.text]);
    assert_eq!(&call.args[..7], ["/var/lib/drover", ".drover", "root", "1", "targets/5", "drover-target-5", "1"]);
    assert_eq!(call.args.last().map(String::as_str), Some("x86_64=bin/drover-deployer-0123456789abcdef"));
    // the scripts' texts come first on the command line, each quoted, at its exact length
    let (line, _) = command(&call, Some(&Privilege::SudoNoPassword));
    let head = format!(
        "sudo -n -- sh -c {} drover-start {} {} '/var/lib/drover' ",
        sh_quote(START.text),
        sh_quote(FACTS.text),
        sh_quote(LAUNCH.text)
    );
    assert!(line.starts_with(&head), "{line:.300}");
    assert_eq!(line.len(), line.capacity());
}
