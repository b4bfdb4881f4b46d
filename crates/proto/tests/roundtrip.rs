//! The job and reports survive JSON unchanged, which is all the deployer relies on.

use drover_proto::*;

#[test]
fn job_round_trips_through_json() {
    let step: Step = serde_json::from_str(
        r#"{"name":"copy","type":"file-copy","source":"{PackageShare}/a.conf","destination":"/etc/a.conf","mode":"0644"}"#,
    )
    .unwrap();
    assert_eq!(step.success_codes, vec![0]);
    assert_eq!(step.on_success, Action::Next);
    assert_eq!(step.on_failure, Action::StopFailure);
    assert_eq!(step.kind.share_paths(), vec!["{PackageShare}/a.conf"]);
    let job = Job {
        protocol: PROTOCOL_VERSION,
        target_id: 7,
        deployment_id: 3,
        package_name: "p".into(),
        package_version: "1".into(),
        steps: vec![step],
        files: vec![JobFile { path: "a.conf".into(), sha256: "00".into(), size: 1 }],
        server_url: "http://x".into(),
        report_token: "r".into(),
        share_url: "http://x/share/v1".into(),
        share_token: "s".into(),
        deadline_unix_ms: 1,
        start_at: 0,
        report_until_unix_ms: Some(0),
        server_cert_sha256: None,
        share_cert_sha256: Some("ab".repeat(32)),
        other_servers: vec![drover_proto::OtherServer { url: "https://y".into(), cert_sha256: Some("cd".repeat(32)) }],
    };
    let back: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
    assert_eq!(back, job);
    let report = Report {
        target_id: 7,
        seq: 2,
        at_unix_ms: 5,
        event: Event::Finished {
            status: FinalStatus::Success,
            message: String::new(),
            last_step: Some(0),
            return_code: Some(0),
        },
    };
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains(r#""event":"finished""#), "{text}");
    assert_eq!(serde_json::from_str::<Report>(&text).unwrap(), report);
}

#[test]
fn every_step_kind_round_trips_next_to_the_step_name() {
    let kinds = [
        r#"{"type":"kill-process","process":"nginx","force":true}"#,
        r#"{"type":"installer","path":"{PackageShare}/a.deb","parameters":"--force-confold"}"#,
        r#"{"type":"script","path":"{PackageShare}/a.py","interpreter":"python3"}"#,
        r#"{"type":"uninstall","packages":["x"]}"#,
        r#"{"type":"sleep","seconds":3}"#,
        r#"{"type":"message","text":"hi"}"#,
        r#"{"type":"reboot","delay_secs":5}"#,
        r#"{"type":"condition","criteria":[{"check":"user-logged-on"}]}"#,
    ];
    for kind in kinds {
        let kind: StepKind = serde_json::from_str(kind).unwrap();
        let step = Step {
            name: "the step".into(),
            kind: kind.clone(),
            success_codes: vec![0],
            on_success: Action::Next,
            on_failure: Action::StopFailure,
            timeout_secs: None,
        };
        let text = serde_json::to_string(&step).unwrap();
        let back: Step = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back, step, "{text}");
    }
}
