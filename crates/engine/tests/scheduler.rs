//! The scheduler's `tick(now)` over a real SQLite store, at chosen instants, without
//! SSH: the assets are 127.0.0.1 on a port nothing listens on, so their targets end
//! `offline` at once; what is checked is which deployments the ticks create.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use drover_api::assets::AssetRef;
use drover_api::deployments::OptionsRequest;
use drover_api::schedules::ConfigRequest;
use drover_domain::asset::NewAsset;
use drover_domain::deployment::Executor;
use drover_domain::package::parse_package;
use drover_domain::schedule::Schedule;
use drover_engine::{Engine, EngineConfig, EngineError};
use drover_store::Store;
use std::path::Path;
use std::time::Duration;

/// Who acts in these tests, for the audit log.
fn by() -> Executor {
    Executor::user("admin")
}

const MINUTE: i64 = 60_000;

/// An engine over the SQLite database in `dir` (opened again by a restart).
async fn engine(dir: &Path) -> Engine {
    let deployer = dir.join("deployer");
    if !deployer.exists() {
        // never run (no target is reached): an x86_64 ELF header is all the engine reads
        let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
        elf.extend(0x3e_u16.to_le_bytes());
        std::fs::write(&deployer, elf).unwrap();
    }
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", dir.join("drover.db").display())).await.unwrap();
    let mut cfg = EngineConfig::new(dir.join("data"), deployer);
    cfg.node_name = "test-node".into();
    cfg.probe_timeout = Duration::from_millis(300);
    Engine::open(store, cfg).await.unwrap()
}

/// A package `hello` and two assets nothing answers on.
async fn fixtures(e: &Engine) {
    let def = parse_package(
        "name = \"hello\"\nversion = \"1\"\n[[steps]]\nname = \"a\"\ntype = \"command\"\ncommand = \"true\"\n",
        &[],
    )
    .unwrap();
    e.import_bundle(&by(), &drover_engine::bundle::write_bundle(&def, &[]).unwrap()).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for name in ["a1", "a2"] {
        let asset = NewAsset { name: name.into(), address: "127.0.0.1".into(), ssh_port: port, macs: vec![] };
        e.add_asset(asset, None).await.unwrap();
    }
}

fn schedule(name: &str, every_minutes: u32, missed: &str) -> Schedule {
    serde_json::from_value(serde_json::json!({
        "name": name, "start": "2026-01-01T00:00", "time_zone": "Europe/Amsterdam",
        "kind": {"type": "interval", "every": every_minutes, "unit": "minutes"}, "missed": missed_json(missed)
    }))
    .unwrap()
}

fn missed_json(missed: &str) -> serde_json::Value {
    match missed.strip_prefix("late:") {
        Some(n) => serde_json::json!({"run_if_late": {"max_minutes": n.parse::<u32>().unwrap()}}),
        None => serde_json::json!(missed),
    }
}

fn config(name: &str, schedule: &str, enabled: bool) -> ConfigRequest {
    ConfigRequest {
        name: name.into(),
        schedule: Some(schedule.into()),
        package: "hello".into(),
        version: None,
        assets: vec![AssetRef::Name("a1".into()), AssetRef::Name("a2".into())],
        run_mode: None,
        options: OptionsRequest::default(),
        trigger_on_scan: false,
        enabled,
        selection: None,
    }
}

/// The config's first fire time (the schedule's first run after its creation).
async fn first_fire(e: &Engine, config: &str) -> i64 {
    e.show_config(config).await.unwrap().config.next_fire_ms.expect("an enabled config has a next fire")
}

/// (fire time, has a deployment) of each run, oldest first.
async fn runs(e: &Engine, config: &str) -> Vec<(i64, bool)> {
    let mut r: Vec<(i64, bool)> =
        e.config_runs(config).await.unwrap().iter().map(|r| (r.fire_ms, r.deployment_id.is_some())).collect();
    r.reverse();
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn a_minute_schedule_fires_once_per_fire_time() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    fixtures(&e).await;
    e.create_schedule(&by(), schedule("every minute", 1, "skip")).await.unwrap();
    e.create_config(&by(), config("web", "every minute", true)).await.unwrap();
    let t0 = first_fire(&e, "web").await;

    assert!(e.tick(t0 - 1).await.unwrap().started.is_empty(), "not yet due");
    let mut started = Vec::new();
    for minute in 0..3 {
        let at = t0 + minute * MINUTE + 1500;
        let first = e.tick(at).await.unwrap();
        assert_eq!(first.started.len(), 1, "minute {minute}: {first:?}");
        started.extend(first.started);
        let again = e.tick(at).await.unwrap();
        assert!(again.started.is_empty() && again.lost == 0, "the same instant again fires nothing: {again:?}");
    }
    assert_eq!(runs(&e, "web").await, [(t0, true), (t0 + MINUTE, true), (t0 + 2 * MINUTE, true)]);
    for id in &started {
        let view = e.deployment_view(*id).await.unwrap();
        assert_eq!(view.deployment.executor, Executor::Config("web".into()));
        assert_eq!(view.targets.len(), 2);
    }
    assert_eq!(first_fire(&e, "web").await, t0 + 3 * MINUTE);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_ticks_and_two_engines_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = engine(dir.path()).await;
    fixtures(&a).await;
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("deployer"), other.path().join("deployer")).unwrap();
    // a second node over the same database
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("drover.db").display())).await.unwrap();
    // nodes share the database and so the key that seals credentials
    std::fs::create_dir_all(other.path().join("data")).unwrap();
    std::fs::copy(dir.path().join("data/secret.key"), other.path().join("data/secret.key")).unwrap();
    let b =
        Engine::open(store, EngineConfig::new(other.path().join("data"), other.path().join("deployer"))).await.unwrap();
    a.create_schedule(&by(), schedule("every minute", 1, "run_once")).await.unwrap();
    a.create_config(&by(), config("web", "every minute", true)).await.unwrap();
    let t0 = first_fire(&a, "web").await;
    for minute in 0..3 {
        let at = t0 + minute * MINUTE + 200;
        let (x, y, z) = tokio::join!(a.tick(at), b.tick(at), a.tick(at));
        let n = [x.unwrap(), y.unwrap(), z.unwrap()].iter().map(|r| r.started.len()).sum::<usize>();
        assert_eq!(n, 1, "minute {minute}: exactly one deployment");
    }
    assert_eq!(runs(&a, "web").await.len(), 3);
    assert_eq!(a.list_deployments(&Default::default()).await.unwrap().len(), 3);
}

/// Fires at t0, then is down over 3 fire times (every 10 minutes: t0+10, +20, +30) and
/// restarts 5 minutes after the last one.
async fn down_over_three_runs(missed: &str) -> (Vec<(i64, bool)>, i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    let t0 = {
        let e = engine(dir.path()).await;
        fixtures(&e).await;
        e.create_schedule(&by(), schedule("ten", 10, missed)).await.unwrap();
        e.create_config(&by(), config("web", "ten", true)).await.unwrap();
        let t0 = first_fire(&e, "web").await;
        assert_eq!(e.tick(t0 + 1000).await.unwrap().started.len(), 1);
        t0
    };
    let e = engine(dir.path()).await; // the restart: a new engine over the same store
    let back = t0 + 35 * MINUTE;
    let first = e.tick(back).await.unwrap();
    let again = e.tick(back + 1000).await.unwrap();
    assert!(again.started.is_empty(), "{missed}: never a burst of catch-up runs: {again:?}");
    assert_eq!(first_fire(&e, "web").await, t0 + 40 * MINUTE, "{missed}: next run after the restart");
    (runs(&e, "web").await, t0, first.started.len() as i64)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_over_three_runs_follows_the_missed_run_policy() {
    let (r, t0, n) = down_over_three_runs("run_once").await;
    assert_eq!(n, 1, "run-once: exactly one catch-up");
    assert_eq!(r, [(t0, true), (t0 + 10 * MINUTE, true)], "keyed by the first missed run");

    let (r, t0, n) = down_over_three_runs("skip").await;
    assert_eq!(n, 0, "skip: no catch-up");
    assert_eq!(r, [(t0, true), (t0 + 10 * MINUTE, false)], "the skip is recorded without a deployment");

    let (r, t0, n) = down_over_three_runs("late:10").await;
    assert_eq!(n, 1, "late:10, 5 minutes late: one catch-up");
    assert_eq!(r, [(t0, true), (t0 + 10 * MINUTE, true)]);

    let (r, t0, n) = down_over_three_runs("late:2").await;
    assert_eq!(n, 0, "late:2, 5 minutes late: skipped");
    assert_eq!(r, [(t0, true), (t0 + 10 * MINUTE, false)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_config_never_fires() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    fixtures(&e).await;
    e.create_schedule(&by(), schedule("every minute", 1, "run_once")).await.unwrap();
    let off = e.create_config(&by(), config("off", "every minute", false)).await.unwrap();
    assert_eq!(off.config.next_fire_ms, None);
    e.create_config(&by(), config("on", "every minute", true)).await.unwrap();
    let t0 = first_fire(&e, "on").await;
    e.disable_config(&by(), "on").await.unwrap();
    for minute in 0..5 {
        assert_eq!(e.tick(t0 + minute * MINUTE).await.unwrap(), Default::default());
    }
    assert!(e.list_deployments(&Default::default()).await.unwrap().is_empty());
    assert!(e.show_config("on").await.unwrap().next_run.is_none());
    let on = e.enable_config(&by(), "on").await.unwrap();
    assert!(on.next_run.is_some() && on.config.config.enabled);
}

#[tokio::test(flavor = "multi_thread")]
async fn gone_assets_are_skipped_and_a_config_without_any_records_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    fixtures(&e).await;
    e.create_schedule(&by(), schedule("every minute", 1, "run_once")).await.unwrap();
    e.create_config(&by(), config("web", "every minute", true)).await.unwrap();
    let t0 = first_fire(&e, "web").await;
    e.delete_asset(&AssetRef::Name("a1".into())).await.unwrap();
    let r = e.tick(t0).await.unwrap();
    let view = e.deployment_view(r.started[0]).await.unwrap();
    assert_eq!(view.targets.iter().map(|t| t.asset_name.as_str()).collect::<Vec<_>>(), ["a2"]);
    // wait for its target to end before deleting the asset
    for _ in 0..100 {
        if e.deployment_view(r.started[0]).await.unwrap().targets.iter().all(|t| t.state.is_final()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    e.delete_asset(&AssetRef::Name("a2".into())).await.unwrap();
    let r = e.tick(t0 + MINUTE).await.unwrap();
    assert_eq!((r.started.len(), r.skipped), (0, 1));
    assert_eq!(runs(&e, "web").await, [(t0, true), (t0 + MINUTE, false)]);
}

fn invalid<T>(r: Result<T, EngineError>) -> String {
    match r {
        Err(EngineError::Invalid(m)) => m,
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("accepted"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    fixtures(&e).await;
    let m = invalid(e.create_schedule(&by(), schedule("zero", 0, "skip")).await);
    assert!(m.contains("kind.every"), "{m}");
    let mut zone = schedule("zone", 5, "skip");
    zone.time_zone = "Mars/Olympus".into();
    assert!(invalid(e.create_schedule(&by(), zone).await).contains("time_zone"));
    let mut once = schedule("once", 5, "skip");
    once.kind = drover_domain::schedule::ScheduleKind::Once;
    assert!(
        invalid(e.create_schedule(&by(), once).await).contains("start: a one-time schedule must start in the future")
    );
    let m = invalid(e.preview_schedule("1", 0).await);
    assert!(m.contains("n:"), "{m}");

    e.create_schedule(&by(), schedule("used", 5, "skip")).await.unwrap();
    assert_eq!(e.preview_schedule("used", 3).await.unwrap().len(), 3);
    e.create_config(&by(), config("web", "used", true)).await.unwrap();
    e.create_config(&by(), config("db", "used", false)).await.unwrap();
    match e.delete_schedule(&by(), "used").await {
        Err(EngineError::Conflict(m)) => assert!(m.contains("'db', 'web'"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut c = config("x", "used", true);
    c.package = "nope".into();
    assert!(matches!(e.create_config(&by(), c).await, Err(EngineError::NotFound(m)) if m.starts_with("package:")));
    let mut c = config("x", "used", true);
    c.version = Some("9".into());
    assert!(matches!(e.create_config(&by(), c).await, Err(EngineError::NotFound(m)) if m.starts_with("version:")));
    let mut c = config("x", "used", true);
    c.assets.push(AssetRef::Name("ghost".into()));
    assert!(matches!(e.create_config(&by(), c).await, Err(EngineError::NotFound(m)) if m.starts_with("assets:")));
    let mut c = config("x", "nothing", true);
    assert!(
        matches!(e.create_config(&by(), c.clone()).await, Err(EngineError::NotFound(m)) if m.starts_with("schedule:"))
    );
    c.schedule = None;
    assert!(invalid(e.create_config(&by(), c).await).starts_with("schedule:"));
    let mut c = config("x", "used", true);
    c.options.boot_secs = Some(99_999);
    assert!(invalid(e.create_config(&by(), c).await).starts_with("options:"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_selection_is_resolved_at_each_run_and_recorded() {
    use drover_api::selections::GroupFile;
    use drover_domain::selection::Selection;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    fixtures(&e).await;
    let group = GroupFile {
        name: "web".into(),
        description: String::new(),
        rule: None,
        members: vec![AssetRef::Name("a1".into())],
    };
    e.create_group(group, &by()).await.unwrap();
    e.create_schedule(&by(), schedule("every minute", 1, "skip")).await.unwrap();
    let selection = Selection::Group { group: "web".into() };
    let req =
        ConfigRequest { assets: vec![], selection: Some(selection.clone()), ..config("grouped", "every minute", true) };
    e.create_config(&by(), req).await.unwrap();
    let t0 = first_fire(&e, "grouped").await;

    let first = e.tick(t0 + 1500).await.unwrap().started;
    let view = e.deployment_view(first[0]).await.unwrap();
    assert_eq!(view.targets.iter().map(|t| t.asset_name.as_str()).collect::<Vec<_>>(), ["a1"]);
    assert_eq!(view.deployment.selection, Some(selection.clone()), "the deployment records the selection");
    // a member added between runs is a target of the next run
    assert!(e.change_group_member("web", &AssetRef::Name("a2".into()), true, &by()).await.unwrap());
    let second = e.tick(t0 + MINUTE + 1500).await.unwrap().started;
    let view = e.deployment_view(second[0]).await.unwrap();
    assert_eq!(view.targets.len(), 2);
    // a selection that does not resolve is refused when the configuration is made
    let bad = ConfigRequest {
        assets: vec![],
        selection: Some(Selection::Group { group: "nope".into() }),
        ..config("bad", "every minute", true)
    };
    let err = e.create_config(&by(), bad).await.unwrap_err();
    assert!(matches!(&err, EngineError::NotFound(m) if m.starts_with("selection: no group named 'nope'")), "{err}");
}
