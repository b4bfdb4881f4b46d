use crate::conformance;
use drover_domain::deploy_config::{ConfigOptions, NewDeployConfig, TargetSelection};
use drover_domain::deployment::{DeployOptions, RunMode};
use drover_domain::ids::{AssetId, DeployConfigId, ScheduleId};
use drover_domain::package::parse_package;
use drover_domain::schedule::{Schedule, ScheduleKind};
use drover_store::{NewDeployment, RunClaim, Store, StoreError};

conformance!(
    schedules_round_trip_and_name_conflicts,
    a_schedule_in_use_is_not_deleted,
    configs_round_trip_and_come_due,
    a_disabled_config_is_never_due,
    concurrent_claims_of_one_run_have_one_winner,
    a_scheduled_deployment_is_created_once,
    a_config_stuck_on_a_claimed_run_moves_on,
);

/// 2026-06-01T00:00:00Z
const JUNE_1: i64 = 1_780_272_000_000;
const HOUR_MS: i64 = 3_600_000;

fn daily(name: &str) -> Schedule {
    let json = format!(
        r#"{{"name":"{name}","start":"2026-01-01T09:00","time_zone":"UTC","kind":{{"type":"daily"}},"missed":"skip"}}"#
    );
    serde_json::from_str(&json).unwrap()
}

fn config(name: &str, schedule: Option<ScheduleId>, enabled: bool) -> NewDeployConfig {
    NewDeployConfig {
        name: name.into(),
        schedule_id: schedule,
        package_name: "hello".into(),
        package_version: None,
        targets: TargetSelection { assets: vec![AssetId(3), AssetId(5)], selection: None },
        options: ConfigOptions {
            run_mode: RunMode::ScanningCredential,
            deploy: DeployOptions { wake_on_lan: true, boot_secs: 90, ..Default::default() },
        },
        trigger_on_scan: true,
        enabled,
    }
}

async fn schedules_round_trip_and_name_conflicts(s: Store) {
    let mut weekly: Schedule = serde_json::from_str(
        r#"{"name":"weekly","start":"2026-01-05T22:30","time_zone":"Europe/Amsterdam",
            "end":{"local":"2027-01-01T00:00"},
            "kind":{"type":"weekly","weekdays":["monday","thursday"],"repeat":{"every_hours":1}},
            "missed":{"run_if_late":{"max_minutes":15}}}"#,
    )
    .unwrap();
    let created = s.create_schedule(&weekly, 10).await.unwrap();
    assert_eq!((created.created_ms, created.updated_ms), (10, 10));
    assert_eq!(s.schedule(created.id).await.unwrap(), created);
    assert_eq!(created.schedule, weekly, "the whole definition survives");
    let dup = s.create_schedule(&weekly, 11).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(ref m) if m.contains("'weekly'")), "{dup:?}");
    let other = s.create_schedule(&daily("a-daily"), 12).await.unwrap();
    let names: Vec<String> = s.list_schedules().await.unwrap().into_iter().map(|r| r.schedule.name).collect();
    assert_eq!(names, ["a-daily", "weekly"]);

    weekly.kind = ScheduleKind::Once;
    weekly.name = "renamed".into();
    let updated = s.update_schedule(created.id, &weekly, 20).await.unwrap();
    assert_eq!((updated.schedule.name.as_str(), updated.created_ms, updated.updated_ms), ("renamed", 10, 20));
    assert_eq!(s.schedule(created.id).await.unwrap().schedule.kind, ScheduleKind::Once);
    let clash = s.update_schedule(other.id, &weekly, 21).await.unwrap_err();
    assert!(matches!(clash, StoreError::Conflict(ref m) if m.contains("'renamed'")), "{clash:?}");
    let missing = s.update_schedule(ScheduleId(999), &daily("x"), 22).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing:?}");
    assert!(matches!(s.schedule(ScheduleId(999)).await.unwrap_err(), StoreError::NotFound(_)));
}

async fn a_schedule_in_use_is_not_deleted(s: Store) {
    let sched = s.create_schedule(&daily("nightly"), 1).await.unwrap();
    let a = s.create_config(&config("web servers", Some(sched.id), true), 2).await.unwrap();
    let b = s.create_config(&config("db servers", Some(sched.id), false), 2).await.unwrap();
    let refused = s.delete_schedule(sched.id).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::Conflict(ref m)
            if m.contains("'nightly'") && m.contains("'db servers', 'web servers'")),
        "{refused:?}"
    );
    s.delete_config(a.id).await.unwrap();
    s.delete_config(b.id).await.unwrap();
    assert!(matches!(s.delete_config(b.id).await.unwrap_err(), StoreError::NotFound(_)));
    s.delete_schedule(sched.id).await.unwrap();
    assert!(matches!(s.delete_schedule(sched.id).await.unwrap_err(), StoreError::NotFound(_)));
    let orphan = s.create_config(&config("orphan", Some(sched.id), true), 3).await.unwrap_err();
    assert!(matches!(orphan, StoreError::NotFound(ref m) if m.contains("schedule")), "{orphan:?}");
}

async fn configs_round_trip_and_come_due(s: Store) {
    let sched = s.create_schedule(&daily("nightly"), 1).await.unwrap();
    let new = config("web servers", Some(sched.id), true);
    let c = s.create_config(&new, JUNE_1).await.unwrap();
    assert_eq!(c.config, new, "targets, options and flags survive");
    assert_eq!((c.last_fire_ms, c.next_fire_ms), (None, Some(JUNE_1 + 9 * HOUR_MS)), "today 09:00 UTC");
    assert_eq!(s.config(c.id).await.unwrap(), c);
    let mut pinned = config("pinned", None, true);
    pinned.package_version = Some("1.2".into());
    let p = s.create_config(&pinned, JUNE_1).await.unwrap();
    assert_eq!((p.config.package_version.as_deref(), p.next_fire_ms), (Some("1.2"), None), "no schedule, no fire");
    let dup = s.create_config(&new, JUNE_1).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(ref m) if m.contains("'web servers'")), "{dup:?}");
    let names: Vec<String> = s.list_configs().await.unwrap().into_iter().map(|c| c.config.name).collect();
    assert_eq!(names, ["pinned", "web servers"]);

    assert!(s.due_configs(JUNE_1 + 9 * HOUR_MS - 1).await.unwrap().is_empty());
    let due = s.due_configs(JUNE_1 + 9 * HOUR_MS).await.unwrap();
    assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), [c.id]);
    assert_eq!(s.due_configs(JUNE_1 + 48 * HOUR_MS).await.unwrap().len(), 1, "still due until claimed");

    // Editing the schedule moves the next fire of its configurations.
    let mut later = daily("nightly");
    later.start = "2026-01-01T18:00".parse().unwrap();
    s.update_schedule(sched.id, &later, JUNE_1 + 10 * HOUR_MS).await.unwrap();
    assert_eq!(s.config(c.id).await.unwrap().next_fire_ms, Some(JUNE_1 + 18 * HOUR_MS));
    assert!(matches!(s.config(DeployConfigId(999)).await.unwrap_err(), StoreError::NotFound(_)));
}

async fn a_disabled_config_is_never_due(s: Store) {
    let sched = s.create_schedule(&daily("nightly"), 1).await.unwrap();
    let off = s.create_config(&config("off", Some(sched.id), false), JUNE_1).await.unwrap();
    assert_eq!(off.next_fire_ms, None);
    let on = s.create_config(&config("on", Some(sched.id), true), JUNE_1).await.unwrap();
    let far = JUNE_1 + 1000 * HOUR_MS;
    assert_eq!(s.due_configs(far).await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), [on.id]);
    let disabled = s.disable_config(on.id, JUNE_1 + HOUR_MS).await.unwrap();
    assert_eq!((disabled.config.enabled, disabled.next_fire_ms), (false, None));
    assert!(s.due_configs(far).await.unwrap().is_empty());
    let claim = RunClaim { config_id: on.id, fire_ms: JUNE_1 + 9 * HOUR_MS, next_fire_ms: None, now_ms: far };
    assert!(!s.claim_run(&claim).await.unwrap(), "a disabled configuration cannot be claimed");
    // Enabled again on 3 June at noon: no catch-up of the runs while it was off.
    let enabled = s.enable_config(on.id, JUNE_1 + 60 * HOUR_MS).await.unwrap();
    assert_eq!((enabled.config.enabled, enabled.next_fire_ms), (true, Some(JUNE_1 + 81 * HOUR_MS)));
    assert!(matches!(s.enable_config(DeployConfigId(999), 1).await.unwrap_err(), StoreError::NotFound(_)));
}

async fn concurrent_claims_of_one_run_have_one_winner(s: Store) {
    let sched = s.create_schedule(&daily("nightly"), 1).await.unwrap();
    let c = s.create_config(&config("web servers", Some(sched.id), true), JUNE_1).await.unwrap();
    let mut fire = c.next_fire_ms.unwrap();
    for day in 0..10 {
        let claim = RunClaim { config_id: c.id, fire_ms: fire, next_fire_ms: Some(fire + 24 * HOUR_MS), now_ms: fire };
        let (a, b) = tokio::join!(s.claim_run(&claim), s.claim_run(&claim));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a ^ b, "day {day}: exactly one claim wins, got {a} and {b}");
        assert!(!s.claim_run(&claim).await.unwrap(), "a third, later claim loses too");
        let after = s.config(c.id).await.unwrap();
        assert_eq!((after.last_fire_ms, after.next_fire_ms), (Some(fire), Some(fire + 24 * HOUR_MS)));
        fire += 24 * HOUR_MS;
    }
    let stale = RunClaim { config_id: c.id, fire_ms: fire - 12 * HOUR_MS, next_fire_ms: None, now_ms: fire };
    assert!(!s.claim_run(&stale).await.unwrap(), "only the configuration's next fire time can be claimed");
    let runs = s.config_runs(c.id).await.unwrap();
    assert_eq!(runs.len(), 10);
    assert!(runs.iter().all(|r| r.deployment_id.is_none()));
    let missing = RunClaim { config_id: DeployConfigId(999), fire_ms: 1, next_fire_ms: None, now_ms: 1 };
    assert!(matches!(s.claim_run(&missing).await.unwrap_err(), StoreError::NotFound(_)));
}

async fn a_scheduled_deployment_is_created_once(s: Store) {
    let def = parse_package(
        "name = \"hello\"\nversion = \"1\"\n[[steps]]\nname = \"a\"\ntype = \"command\"\ncommand = \"true\"\n",
        &[],
    )
    .unwrap();
    let pkg = s.create_package(&def, &[], 1).await.unwrap();
    let sched = s.create_schedule(&daily("nightly"), 1).await.unwrap();
    let c = s.create_config(&config("web servers", Some(sched.id), true), JUNE_1).await.unwrap();
    let fire = c.next_fire_ms.unwrap();
    let new = NewDeployment {
        package_id: pkg.id,
        package_name: "hello".into(),
        package_version: "1".into(),
        executor: drover_domain::deployment::Executor::Config("nightly".into()),
        run_mode: RunMode::System,
        options: DeployOptions::default(),
        targets: vec![],
        selection: None,
    };
    let claim = RunClaim { config_id: c.id, fire_ms: fire, next_fire_ms: Some(fire + 24 * HOUR_MS), now_ms: fire + 5 };
    let (a, b) = tokio::join!(s.create_scheduled_deployment(&claim, &new), s.create_scheduled_deployment(&claim, &new));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_some() ^ b.is_some(), "exactly one node starts the run");
    let (deployment, _) = a.or(b).unwrap();
    assert_eq!((deployment.executor.to_string().as_str(), deployment.created_ms), ("config:nightly", fire + 5));
    assert_eq!(s.list_deployments(10).await.unwrap().len(), 1, "the loser created nothing");
    let runs = s.config_runs(c.id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].fire_ms, runs[0].deployment_id), (fire, Some(deployment.id)));
    assert_eq!(s.config(c.id).await.unwrap().last_fire_ms, Some(fire));
}

async fn a_config_stuck_on_a_claimed_run_moves_on(s: Store) {
    let sched = s.create_schedule(&daily("nightly"), 1).await.unwrap();
    let c = s.create_config(&config("web servers", Some(sched.id), true), JUNE_1).await.unwrap();
    let fire = c.next_fire_ms.unwrap();
    let claim = RunClaim { config_id: c.id, fire_ms: fire, next_fire_ms: Some(fire + 24 * HOUR_MS), now_ms: fire };
    assert!(!s.skip_claimed_run(&claim).await.unwrap(), "a run never claimed is not skipped");
    assert!(s.claim_run(&claim).await.unwrap());
    // A node whose clock is behind edits the schedule: the claimed time is next again.
    s.update_schedule(sched.id, &daily("nightly"), fire - 1).await.unwrap();
    assert_eq!(s.config(c.id).await.unwrap().next_fire_ms, Some(fire));
    assert!(!s.claim_run(&claim).await.unwrap(), "the run is claimed already");
    assert_eq!(s.due_configs(fire).await.unwrap().len(), 1, "stuck: due for a run that cannot be claimed");
    assert!(s.skip_claimed_run(&claim).await.unwrap());
    assert_eq!(s.config(c.id).await.unwrap().next_fire_ms, Some(fire + 24 * HOUR_MS));
    assert!(s.due_configs(fire).await.unwrap().is_empty());
    assert!(!s.skip_claimed_run(&claim).await.unwrap(), "once moved, a second skip changes nothing");
    assert_eq!(s.config_runs(c.id).await.unwrap().len(), 1);
}
