use crate::conformance;
use drover_domain::asset::NewAsset;
use drover_domain::deployment::{DeployOptions, Executor, RunMode, StepRecord, TargetState};
use drover_domain::ids::{DeploymentId, TargetId};
use drover_domain::package::parse_package;
use drover_store::{LogFilter, NewDeployment, Store, StoreError, TargetUpdate};

conformance!(
    deployment_and_targets,
    transitions_and_tokens,
    steps_logs_and_retention,
    events_at_one_instant_keep_their_order,
    one_final_state_wins_a_race,
    an_unknown_outcome_is_learned_once,
    tokens_come_back_only_when_set_again,
    finished_targets_free_assets_and_packages,
    listing_and_empty_deployments,
    missing_targets_and_deployments_are_not_found,
    options_attempts_and_the_retry_queue,
    settings_outlive_the_connection,
    a_reboot_report_is_taken_once,
    a_scan_trigger_starts_one_deployment_however_many_race,
    calls_at_once_each_keep_their_own_outcome,
);

struct World {
    s: Store,
    d: drover_domain::deployment::Deployment,
    targets: Vec<drover_domain::deployment::Target>,
}

async fn world(s: Store, assets: &[&str]) -> World {
    let def = parse_package(
        "name = \"p\"\nversion = \"1\"\n[[steps]]\nname = \"a\"\ntype = \"command\"\ncommand = \"true\"\n",
        &[],
    )
    .unwrap();
    let pkg = s.create_package(&def, &[], 1).await.unwrap();
    let mut targets = Vec::new();
    for name in assets {
        let a = s
            .create_asset(&NewAsset { name: (*name).into(), address: "h".into(), ssh_port: 22, macs: vec![] }, 1)
            .await
            .unwrap();
        targets.push((a.id, a.name));
    }
    let new = NewDeployment {
        package_id: pkg.id,
        package_name: "p".into(),
        package_version: "1".into(),
        executor: Executor::user("admin"),
        run_mode: RunMode::LoggedOnUser,
        options: DeployOptions { wake_on_lan: true, boot_secs: 30, ..Default::default() },
        targets,
        selection: Some(drover_domain::selection::Selection::Group { group: "web servers".into() }),
    };
    let (d, targets) = s.create_deployment(&new, 100).await.unwrap();
    assert_eq!(s.deployment(d.id).await.unwrap().selection, new.selection, "the selection is recorded");
    World { s, d, targets }
}

async fn deployment_and_targets(s: Store) {
    let w = world(s, &["a", "b"]).await;
    assert_eq!(
        (w.d.executor.to_string().as_str(), w.d.run_mode, w.d.created_ms, w.d.finished_ms),
        ("user:admin", RunMode::LoggedOnUser, 100, None)
    );
    assert_eq!(w.targets.len(), 2);
    for t in &w.targets {
        assert_eq!((t.state, t.run_mode, t.deployment_id), (TargetState::Queued, RunMode::LoggedOnUser, w.d.id));
        let ev = w.s.events_of(t.id).await.unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].state, ev[0].at_ms), (TargetState::Queued, 100));
    }
    assert_eq!(w.s.deployment(w.d.id).await.unwrap(), w.d);
    assert_eq!(w.s.list_deployments(10).await.unwrap()[0].id, w.d.id);
    let mut got = w.s.targets_of(w.d.id).await.unwrap();
    got.sort_by_key(|t| t.id);
    assert_eq!(got, w.targets);
    let u = TargetUpdate {
        credential: Some("root".into()),
        server: Some("node-1".into()),
        deployer_version: Some("0.1.0".into()),
        return_code: Some(3),
        pid: Some(77),
        ..Default::default()
    };
    w.s.update_target(w.targets[0].id, &u, 150).await.unwrap();
    let t = w.s.target(w.targets[0].id).await.unwrap();
    assert_eq!(
        (t.credential.as_deref(), t.server.as_deref(), t.return_code, t.updated_ms),
        (Some("root"), Some("node-1"), Some(3), 150)
    );
    assert_eq!(t.last_step, None, "fields not given stay");
    let busy = w.s.delete_asset(w.targets[0].asset_id).await.unwrap_err();
    assert!(matches!(busy, StoreError::Conflict(_)), "an asset with a running target stays: {busy:?}");
    let busy = w.s.delete_package(w.d.package_id).await.unwrap_err();
    assert!(matches!(busy, StoreError::Conflict(_)), "{busy:?}");
}

async fn transitions_and_tokens(s: Store) {
    let w = world(s, &["a"]).await;
    let (s, id) = (&w.s, w.targets[0].id);
    assert!(
        s.transition(id, TargetState::Running, "skip", None, 101).await.unwrap().is_none(),
        "queued cannot jump to running"
    );
    let t = s.transition(id, TargetState::Connecting, "connecting", None, 102).await.unwrap().unwrap();
    assert_eq!(t.state, TargetState::Connecting);
    s.set_tokens(id, "rep-hash", "share-hash").await.unwrap();
    assert_eq!(s.target_by_report_token("rep-hash").await.unwrap(), Some(id));
    assert_eq!(s.target_by_share_token("share-hash").await.unwrap(), Some((id, w.d.package_id)));
    assert_eq!(s.target_by_report_token("share-hash").await.unwrap(), None, "tokens are not interchangeable");
    s.transition(id, TargetState::Running, "running", None, 103).await.unwrap().unwrap();
    let done = s.transition(id, TargetState::Failed, "step 1 failed", Some("step.failed"), 104).await.unwrap().unwrap();
    assert_eq!(
        (done.finished_ms, done.error_code.as_deref(), done.message.as_str()),
        (Some(104), Some("step.failed"), "step 1 failed")
    );
    assert!(s.transition(id, TargetState::Success, "late", None, 105).await.unwrap().is_none(), "final stays final");
    assert_eq!(s.target(id).await.unwrap().state, TargetState::Failed);
    assert_eq!(s.target_by_report_token("rep-hash").await.unwrap(), None, "no token once final");
    assert_eq!(s.target_by_share_token("share-hash").await.unwrap(), None);
    let states: Vec<TargetState> = s.events_of(id).await.unwrap().into_iter().map(|e| e.state).collect();
    assert_eq!(states, [TargetState::Queued, TargetState::Connecting, TargetState::Running, TargetState::Failed]);
    assert!(s.finish_deployment_if_done(w.d.id, 110).await.unwrap());
    assert_eq!(s.deployment(w.d.id).await.unwrap().finished_ms, Some(110));

    let w2 = world_again(s).await;
    let id2 = w2.targets[0].id;
    s.set_tokens(id2, "r2", "s2").await.unwrap();
    s.revoke_tokens(id2).await.unwrap();
    assert_eq!(s.target_by_report_token("r2").await.unwrap(), None, "revoked while running");
    assert!(!s.finish_deployment_if_done(w2.d.id, 120).await.unwrap(), "a queued target remains");
    assert_eq!(s.unfinished_targets().await.unwrap().iter().map(|t| t.id).collect::<Vec<_>>(), vec![id2]);
}

/// A second deployment of the same package in the same store.
async fn world_again(s: &Store) -> World {
    let pkg = s.package_by_name("p", None).await.unwrap();
    let a = s
        .create_asset(&NewAsset { name: "second".into(), address: "h".into(), ssh_port: 22, macs: vec![] }, 1)
        .await
        .unwrap();
    let new = NewDeployment {
        package_id: pkg.id,
        package_name: "p".into(),
        package_version: "1".into(),
        executor: Executor::Config("nightly".into()),
        run_mode: RunMode::System,
        options: DeployOptions::default(),
        targets: vec![(a.id, a.name)],
        selection: None,
    };
    let (d, targets) = s.create_deployment(&new, 200).await.unwrap();
    World { s: s.clone(), d, targets }
}

async fn steps_logs_and_retention(s: Store) {
    let w = world(s, &["a", "b"]).await;
    let s = &w.s;
    let id = w.targets[0].id;
    let rec = |seq: i64, index: i64, code: Option<i32>| StepRecord {
        target_id: id,
        seq,
        index,
        name: format!("step{index}"),
        exit_code: code,
        success: code == Some(0),
        duration_ms: 12,
        output_tail: "out ü\n".into(),
        message: String::new(),
        at_ms: 100 + seq,
    };
    assert!(s.record_step(&rec(3, 0, Some(0)), 210).await.unwrap());
    assert!(!s.record_step(&rec(3, 0, Some(0)), 211).await.unwrap(), "same seq twice is applied once");
    let t = s.target(id).await.unwrap();
    assert_eq!((t.last_step.as_deref(), t.return_code, t.updated_ms), (Some("step0"), Some(0), 210), "{t:?}");
    assert!(s.record_step(&rec(5, 1, None), 212).await.unwrap());
    let t = s.target(id).await.unwrap();
    assert_eq!((t.last_step.as_deref(), t.return_code), (Some("step1"), Some(0)), "no exit code keeps the last one");
    assert!(s.record_step(&rec(4, 0, Some(2)), 213).await.unwrap());
    let steps = s.steps_of(id).await.unwrap();
    assert_eq!(steps.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4, 5], "by sequence");
    assert_eq!(steps[2], rec(5, 1, None));

    let all = s.log(&LogFilter { deployment: Some(w.d.id), asset: None, package: None, limit: 10 }).await.unwrap();
    assert_eq!(all.len(), 2);
    let one = s
        .log(&LogFilter { deployment: None, asset: Some(w.targets[1].asset_id), package: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(one.iter().map(|t| t.id).collect::<Vec<_>>(), [w.targets[1].id]);
    let by_pkg =
        s.log(&LogFilter { deployment: None, asset: None, package: Some(w.d.package_id), limit: 1 }).await.unwrap();
    assert_eq!(by_pkg.len(), 1, "limit applies");

    for t in &w.targets {
        s.transition(t.id, TargetState::Offline, "off", Some("target.offline"), 300).await.unwrap().unwrap();
    }
    assert!(s.finish_deployment_if_done(w.d.id, 300).await.unwrap());
    assert_eq!(s.delete_logs_before(300).await.unwrap(), 0, "finished at the cutoff: kept");
    assert_eq!(s.delete_logs_before(301).await.unwrap(), 1);
    assert!(matches!(s.deployment(w.d.id).await, Err(StoreError::NotFound(_))));
    assert!(s.steps_of(id).await.unwrap().is_empty());
    assert!(s.events_of(id).await.unwrap().is_empty());
}

async fn events_at_one_instant_keep_their_order(s: Store) {
    let w = world(s, &["a"]).await;
    let (s, id) = (&w.s, w.targets[0].id);
    for state in [TargetState::Waking, TargetState::Connecting, TargetState::Running, TargetState::Success] {
        s.transition(id, state, state.as_str(), None, 100).await.unwrap().unwrap();
    }
    let events = s.events_of(id).await.unwrap();
    let got: Vec<(TargetState, &str, i64)> = events.iter().map(|e| (e.state, e.message.as_str(), e.at_ms)).collect();
    assert_eq!(
        got,
        [
            (TargetState::Queued, "queued", 100),
            (TargetState::Waking, "waking", 100),
            (TargetState::Connecting, "connecting", 100),
            (TargetState::Running, "running", 100),
            (TargetState::Success, "success", 100),
        ],
        "same instant: insertion order"
    );
    assert!(events.iter().all(|e| e.target_id == id));
    let t = s.target(id).await.unwrap();
    assert_eq!((t.state, t.finished_ms, t.error_code), (TargetState::Success, Some(100), None));
}

async fn one_final_state_wins_a_race(s: Store) {
    let w = world(s, &["a"]).await;
    let id = w.targets[0].id;
    let finals = [
        TargetState::Success,
        TargetState::Failed,
        TargetState::TimedOut,
        TargetState::Offline,
        TargetState::Cancelled,
    ];
    let mut tasks = Vec::new();
    for (i, state) in finals.into_iter().cycle().take(10).enumerate() {
        let s = w.s.clone();
        tasks.push(tokio::spawn(
            async move { s.transition(id, state, &format!("racer {i}"), None, 200 + i as i64).await },
        ));
    }
    let mut winners = Vec::new();
    for t in tasks {
        if let Some(target) = t.await.unwrap().unwrap() {
            winners.push(target);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one transition out of Queued to a final state: {winners:?}");
    let stored = w.s.target(id).await.unwrap();
    assert_eq!((stored.state, &stored.message), (winners[0].state, &winners[0].message));
    assert_eq!(w.s.events_of(id).await.unwrap().len(), 2, "queued and the winner's event only");
}

async fn tokens_come_back_only_when_set_again(s: Store) {
    let w = world(s, &["a"]).await;
    let (s, id) = (&w.s, w.targets[0].id);
    assert_eq!(s.target_by_report_token("r1").await.unwrap(), None, "no tokens before they are set");
    s.set_tokens(id, "r1", "s1").await.unwrap();
    s.revoke_tokens(id).await.unwrap();
    assert_eq!(s.target_by_share_token("s1").await.unwrap(), None, "revoked");
    s.set_tokens(id, "r2", "s2").await.unwrap();
    assert_eq!(s.target_by_report_token("r1").await.unwrap(), None, "the old tokens are gone");
    assert_eq!(s.target_by_report_token("r2").await.unwrap(), Some(id), "new tokens are valid");
    assert_eq!(s.target_by_share_token("s2").await.unwrap(), Some((id, w.d.package_id)));
    s.transition(id, TargetState::Cancelled, "cancelled", Some("cancelled"), 300).await.unwrap().unwrap();
    assert_eq!(s.target_by_report_token("r2").await.unwrap(), None, "final without revoking: invalid anyway");
    assert_eq!(s.target_by_share_token("s2").await.unwrap(), None);
}

async fn finished_targets_free_assets_and_packages(s: Store) {
    let w = world(s, &["a", "b"]).await;
    let s = &w.s;
    let (first, second) = (&w.targets[0], &w.targets[1]);
    s.transition(first.id, TargetState::Success, "done", None, 150).await.unwrap().unwrap();
    let busy = s.delete_package(w.d.package_id).await.unwrap_err();
    assert_eq!(
        busy,
        StoreError::Conflict(
            "package 'p' version '1' has a deployment that has not finished: wait for it or cancel it first".into()
        )
    );
    s.delete_asset(first.asset_id).await.unwrap();
    let busy = s.delete_asset(second.asset_id).await.unwrap_err();
    assert!(matches!(busy, StoreError::Conflict(ref m) if m.contains("'b'")), "{busy:?}");
    s.transition(second.id, TargetState::Failed, "no", Some("step.failed"), 160).await.unwrap().unwrap();
    assert!(s.finish_deployment_if_done(w.d.id, 165).await.unwrap(), "every target is final");
    assert!(!s.finish_deployment_if_done(w.d.id, 170).await.unwrap(), "finished by the call before");
    assert_eq!(s.deployment(w.d.id).await.unwrap().finished_ms, Some(165));
    s.delete_asset(second.asset_id).await.unwrap();
    s.delete_package(w.d.package_id).await.unwrap();
    let log =
        s.log(&LogFilter { deployment: None, asset: Some(first.asset_id), package: None, limit: 10 }).await.unwrap();
    assert_eq!(log.len(), 1, "the log outlives the asset");
    assert_eq!((log[0].asset_name.as_str(), log[0].state), ("a", TargetState::Success));
    let d = s.deployment(w.d.id).await.unwrap();
    assert_eq!((d.package_name.as_str(), d.package_version.as_str()), ("p", "1"), "and the package");
}

async fn listing_and_empty_deployments(s: Store) {
    let w = world(s, &["a"]).await;
    let s = &w.s;
    let empty = NewDeployment {
        package_id: w.d.package_id,
        package_name: "p".into(),
        package_version: "1".into(),
        executor: Executor::Scan,
        run_mode: RunMode::ScanningCredential,
        options: DeployOptions::default(),
        targets: vec![],
        selection: None,
    };
    let (d2, targets) = s.create_deployment(&empty, 500).await.unwrap();
    assert!(targets.is_empty());
    assert_eq!(d2.finished_ms, Some(500), "nothing to do: finished at once");
    let (d3, _) = s.create_deployment(&empty, 400).await.unwrap();
    let ids: Vec<DeploymentId> = s.list_deployments(10).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(ids, [d2.id, d3.id, w.d.id], "newest first");
    assert_eq!(s.list_deployments(1).await.unwrap()[0].id, d2.id);
    assert_eq!(s.deployment(d3.id).await.unwrap().run_mode, RunMode::ScanningCredential);

    let t = w.targets[0].id;
    let u = TargetUpdate { work_dir: Some("/var/tmp/drover/t1".into()), pid: Some(4242), ..Default::default() };
    s.update_target(t, &u, 120).await.unwrap();
    let u = TargetUpdate { last_step: Some("a".into()), return_code: Some(-1), ..Default::default() };
    s.update_target(t, &u, 130).await.unwrap();
    let got = s.target(t).await.unwrap();
    assert_eq!(
        (got.work_dir.as_deref(), got.pid, got.last_step.as_deref(), got.return_code, got.updated_ms),
        (Some("/var/tmp/drover/t1"), Some(4242), Some("a"), Some(-1), 130)
    );
    assert_eq!(s.unfinished_targets().await.unwrap(), vec![got], "what a restarted server needs to pick up");
}

async fn missing_targets_and_deployments_are_not_found(s: Store) {
    let nf = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let (t, d) = (TargetId(404), DeploymentId(404));
    nf(s.target(t).await.map(drop));
    nf(s.transition(t, TargetState::Failed, "x", None, 1).await.map(drop));
    nf(s.transition(t, TargetState::Running, "x", None, 1).await.map(drop));
    nf(s.update_target(t, &TargetUpdate::default(), 1).await);
    nf(s.set_tokens(t, "r", "s").await);
    nf(s.revoke_tokens(t).await);
    nf(s.deployment(d).await.map(drop));
    nf(s.finish_deployment_if_done(d, 1).await.map(drop));
    nf(s.record_step(&first_step(t, "a"), 1).await.map(drop));
    assert!(s.targets_of(d).await.unwrap().is_empty());
    assert!(s.unfinished_targets().await.unwrap().is_empty());
    assert_eq!(s.delete_logs_before(i64::MAX).await.unwrap(), 0);
}

async fn options_attempts_and_the_retry_queue(s: Store) {
    let w = world(s, &["a"]).await;
    assert_eq!(w.d.options, DeployOptions { wake_on_lan: true, boot_secs: 30, ..Default::default() });
    assert_eq!(w.s.deployment(w.d.id).await.unwrap().options, w.d.options);
    let id = w.targets[0].id;
    assert_eq!((w.targets[0].attempts, w.targets[0].next_attempt_ms), (0, None));
    w.s.transition(id, TargetState::Connecting, "probe", None, 110).await.unwrap().unwrap();
    let t = w.s.queue_retry(id, 5_000, "offline; next attempt", 120).await.unwrap().unwrap();
    assert_eq!((t.state, t.attempts, t.next_attempt_ms), (TargetState::WaitingRetry, 1, Some(5_000)));
    assert_eq!(w.s.unfinished_targets().await.unwrap()[0].next_attempt_ms, Some(5_000));
    // a new attempt counts and clears the next attempt time
    let t = w.s.transition(id, TargetState::Connecting, "retry", None, 5_000).await.unwrap().unwrap();
    assert_eq!((t.attempts, t.next_attempt_ms), (2, None));
    let t = w.s.transition(id, TargetState::Waking, "wol", None, 5_001).await.unwrap().unwrap();
    assert_eq!(t.attempts, 2);
    w.s.transition(id, TargetState::Offline, "gone", Some("target.offline"), 6_000).await.unwrap().unwrap();
    // a final target never goes back to the queue, and notes keep its state
    assert!(w.s.queue_retry(id, 9_000, "again", 6_001).await.unwrap().is_none());
    w.s.note(id, "expired", 6_002).await.unwrap();
    let ev = w.s.events_of(id).await.unwrap();
    let states: Vec<_> = ev.iter().map(|e| (e.state, e.message.as_str())).collect();
    assert_eq!(
        states,
        [
            (TargetState::Queued, "queued"),
            (TargetState::Connecting, "probe"),
            (TargetState::WaitingRetry, "offline; next attempt"),
            (TargetState::Connecting, "retry"),
            (TargetState::Waking, "wol"),
            (TargetState::Offline, "gone"),
            (TargetState::Offline, "expired"),
        ]
    );
    assert!(matches!(w.s.note(TargetId(9_999), "x", 1).await, Err(StoreError::NotFound(_))));
}

async fn settings_outlive_the_connection(s: Store) {
    assert_eq!(s.setting("threads:n1").await.unwrap(), None);
    s.set_setting("threads:n1", "5").await.unwrap();
    s.set_setting("threads:n1", "7").await.unwrap();
    s.set_setting("threads:n2", "9").await.unwrap();
    assert_eq!(s.setting("threads:n1").await.unwrap().as_deref(), Some("7"));
    assert_eq!(s.setting("threads:n2").await.unwrap().as_deref(), Some("9"));
}

/// A target that ended with its outcome unknown may become what its task did, once; its
/// report token stays valid until then; the reconciler finds it.
async fn an_unknown_outcome_is_learned_once(s: Store) {
    let w = world(s, &["a", "b"]).await;
    let (id, known) = (w.targets[0].id, w.targets[1].id);
    let unknown = Some(drover_domain::FailureCode::UnreachableOutcomeUnknown.as_str());
    w.s.set_tokens(id, "rt-unknown", "st-unknown").await.unwrap();
    w.s.transition(id, TargetState::TimedOut, "unreachable", unknown, 200).await.unwrap().unwrap();
    w.s.transition(known, TargetState::TimedOut, "killed", Some("target.max_duration"), 200).await.unwrap().unwrap();
    assert_eq!(w.s.target_by_report_token("rt-unknown").await.unwrap(), Some(id));
    assert_eq!(w.s.target_by_share_token("st-unknown").await.unwrap(), None, "no share token past the end");
    let found: Vec<_> = w.s.outcome_unknown_targets(150).await.unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(found, [id]);
    assert!(w.s.outcome_unknown_targets(201).await.unwrap().is_empty(), "outside the window");
    let of_a: Vec<_> =
        w.s.outcome_unknown_targets_of(w.targets[0].asset_id).await.unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(of_a, [id], "by asset");
    assert!(w.s.outcome_unknown_targets_of(w.targets[1].asset_id).await.unwrap().is_empty(), "b's ended known");
    // a known timed_out never changes; nor does an unknown one become offline
    assert!(w.s.transition(known, TargetState::Success, "late", None, 300).await.unwrap().is_none());
    assert!(w.s.transition(id, TargetState::Offline, "no", None, 300).await.unwrap().is_none());
    let learned = w.s.transition(id, TargetState::Success, "all steps done", None, 300).await.unwrap().unwrap();
    assert_eq!((learned.state, learned.error_code), (TargetState::Success, None));
    assert!(w.s.transition(id, TargetState::Failed, "again", None, 400).await.unwrap().is_none(), "learned once");
    assert!(w.s.outcome_unknown_targets(0).await.unwrap().is_empty());
}

async fn a_reboot_report_is_taken_once(s: Store) {
    let w = world(s, &["a"]).await;
    let (s, id) = (&w.s, w.targets[0].id);
    assert!(s.mark_rebooting(id, 3, "too early", 100).await.unwrap().is_none(), "a queued target does not reboot");
    s.transition(id, TargetState::Connecting, "connecting", None, 101).await.unwrap().unwrap();
    let u = TargetUpdate { boot_marker: Some("boot-1".into()), ..Default::default() };
    s.update_target(id, &u, 102).await.unwrap();
    s.transition(id, TargetState::Running, "running", None, 103).await.unwrap().unwrap();
    let t = s.mark_rebooting(id, 3, "rebooting after step 1", 104).await.unwrap().unwrap();
    assert_eq!((t.state, t.reboot_seq, t.boot_marker.as_deref()), (TargetState::Rebooting, Some(3), Some("boot-1")));
    assert!(s.mark_rebooting(id, 3, "again", 105).await.unwrap().is_none(), "not twice");
    s.transition(id, TargetState::Running, "resumed", None, 106).await.unwrap().unwrap();
    // the resumed task's record still holds report 3: it does not reboot the target again
    assert!(s.mark_rebooting(id, 3, "from the record", 107).await.unwrap().is_none());
    let u = TargetUpdate { boot_marker: Some("boot-2".into()), ..Default::default() };
    s.update_target(id, &u, 108).await.unwrap();
    let t = s.mark_rebooting(id, 9, "a second reboot step", 109).await.unwrap().unwrap();
    assert_eq!((t.reboot_seq, t.boot_marker.as_deref()), (Some(9), Some("boot-2")));
    let states: Vec<TargetState> = s.events_of(id).await.unwrap().into_iter().map(|e| e.state).collect();
    use TargetState::*;
    assert_eq!(states, [Queued, Connecting, Running, Rebooting, Running, Rebooting]);
    assert_eq!(s.unfinished_targets().await.unwrap().iter().map(|t| t.id).collect::<Vec<_>>(), vec![id]);
}

/// The guard of scan-triggered deployments: concurrent calls create one deployment; a
/// running or succeeded target blocks another, a failed one does not.
async fn a_scan_trigger_starts_one_deployment_however_many_race(s: Store) {
    let w = world(s, &["a"]).await;
    // the world's deployment of p 1 to "a": make it fail, so that only the race decides
    w.s.transition(w.targets[0].id, TargetState::Failed, "failed before", None, 150).await.unwrap().unwrap();
    let (asset, name) = (w.targets[0].asset_id, w.targets[0].asset_name.clone());
    let new = NewDeployment {
        package_id: w.d.package_id,
        package_name: "p".into(),
        package_version: "1".into(),
        executor: Executor::Config("on scan".into()),
        run_mode: RunMode::LoggedOnUser,
        options: DeployOptions::default(),
        targets: vec![(asset, name)],
        selection: None,
    };
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (s, new) = (w.s.clone(), new.clone());
        tasks.push(tokio::spawn(async move { s.create_deployment_unless_done_or_running(asset, &new, 200 + i).await }));
    }
    let mut created = Vec::new();
    for t in tasks {
        if let Some((d, targets)) = t.await.unwrap().unwrap() {
            created.push((d, targets));
        }
    }
    assert_eq!(created.len(), 1, "one of 8 racing scans deploys: {created:?}");
    let target = created[0].1[0].id;
    assert!(w.s.create_deployment_unless_done_or_running(asset, &new, 300).await.unwrap().is_none(), "it runs");
    w.s.transition(target, TargetState::Success, "done", None, 310).await.unwrap().unwrap();
    assert!(w.s.create_deployment_unless_done_or_running(asset, &new, 320).await.unwrap().is_none(), "it succeeded");
    let other = NewDeployment { package_version: "2".into(), ..new.clone() };
    assert!(
        w.s.create_deployment_unless_done_or_running(asset, &other, 330).await.unwrap().is_some(),
        "another version"
    );
    let gone = drover_domain::ids::AssetId(999_999);
    assert!(matches!(
        w.s.create_deployment_unless_done_or_running(gone, &new, 340).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Many calls at once (on SQLite they share group-commit transactions): each call's
/// outcome is its own. A failing call (a missing target, a token another target holds)
/// leaves nothing behind and takes nothing of the others with it.
async fn calls_at_once_each_keep_their_own_outcome(s: Store) {
    let names: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
    let w = world(s, &names.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let mut calls = tokio::task::JoinSet::new();
    for (i, t) in w.targets.iter().enumerate() {
        let (s, id) = (w.s.clone(), t.id);
        calls.spawn(async move {
            let recorded = s.record_step(&first_step(id, "s1"), 5).await.map(|_| ());
            let missing = s.record_step(&first_step(TargetId(id.0 + 10_000), "s1"), 5).await.map(|_| ());
            // pairs of targets race for one token: one wins, the other is told it is taken
            let token = s.set_tokens(id, &format!("shared-{}", i / 2), &format!("share-{i}")).await;
            let moved = s.transition(id, TargetState::Connecting, "go", None, 6).await.map(|t| t.is_some());
            (id, recorded, missing, token, moved)
        });
    }
    let mut token_winners = 0;
    while let Some(done) = calls.join_next().await {
        let (id, recorded, missing, token, moved) = done.unwrap();
        assert_eq!(recorded, Ok(()), "target {id}");
        assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
        match token {
            Ok(()) => token_winners += 1,
            Err(StoreError::Conflict(m)) => assert!(m.contains("already in use"), "{m}"),
            other => panic!("target {id}: {other:?}"),
        }
        assert_eq!(moved, Ok(true), "target {id}");
    }
    assert_eq!(token_winners, 20, "one target of each pair holds the token");
    for t in &w.targets {
        let steps = w.s.steps_of(t.id).await.unwrap();
        assert_eq!(steps.len(), 1, "target {}: {steps:?}", t.id);
        let now = w.s.target(t.id).await.unwrap();
        assert_eq!((now.state, now.last_step.as_deref(), now.attempts), (TargetState::Connecting, Some("s1"), 1));
    }
}

/// A successful first step `name` (report 1) of `target_id`.
fn first_step(target_id: TargetId, name: &str) -> StepRecord {
    StepRecord {
        target_id,
        seq: 1,
        index: 0,
        name: name.into(),
        exit_code: Some(0),
        success: true,
        duration_ms: 1,
        output_tail: String::new(),
        message: String::new(),
        at_ms: 1,
    }
}
