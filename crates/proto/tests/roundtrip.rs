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
