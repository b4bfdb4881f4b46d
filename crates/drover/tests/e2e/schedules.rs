//! Schedules end to end: a configuration that runs every minute, against real test
//! hosts, with the real scheduler loop (`Engine::spawn_scheduler`) reading a clock the
//! test moves a minute at a time; on one node (SQLite) and on two nodes over one
//! PostgreSQL database. Counted in the deployments, the configuration's runs, and the
//! lines the package appends on each host.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Api, Backend, Server, done_if, eventually, postgres_database};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

const MINUTE: i64 = 60_000;

const STAMP: &str = r#"
name = "stamp"
version = "1"
max_duration_secs = 60

[[steps]]
name = "append"
type = "command"
command = "echo $(date) >> /tmp/runs"
"#;

/// A clock the test moves; the schedulers read it.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    fn start(&self, server: &Server) -> tokio::task::JoinHandle<()> {
        let c = self.0.clone();
        server.engine.spawn_scheduler(Duration::from_millis(200), move || c.load(Ordering::SeqCst))
    }
}

/// The every-minute schedule and the configuration on `assets`; returns its first fire
/// time.
async fn every_minute(api: &Api, assets: &[String]) -> i64 {
    let (status, v) = api.import(STAMP, &[]).await;
    assert_eq!(status, 200, "{v}");
    api.post(
        "/schedules",
        json!({"name": "every minute", "start": "2026-01-01T00:00", "time_zone": "Europe/Amsterdam",
               "kind": {"type": "interval", "every": 1, "unit": "minutes"}, "missed": "skip"}),
    )
    .await;
    let c = api
        .post(
            "/configs",
            json!({"name": "stamp hosts", "schedule": "every minute", "package": "stamp", "assets": assets}),
        )
        .await;
    assert_eq!(c["next_run"]["at_ms"], c["next_fire_ms"], "{c:#}");
    c["next_fire_ms"].as_i64().expect("next fire")
}

/// Moves the clock over three fire times, waiting each time for the run's deployment
/// to end, and checks that each fire time made exactly one deployment.
async fn three_minutes(api: &Api, clock: &Clock, t0: i64, hosts: usize) -> Vec<Value> {
    for minute in 0..3 {
        clock.set(t0 + minute * MINUTE + 500);
        let runs = eventually(&format!("the run of minute {minute}"), Duration::from_secs(20), async || {
            let runs = api.get("/configs/stamp%20hosts/runs").await;
            let n = runs.as_array().map_or(0, Vec::len);
            done_if(n == minute as usize + 1, runs)
        })
        .await;
        let id = runs[0]["deployment_id"].as_i64().expect("the run started a deployment");
        let done = api.wait(id, Duration::from_secs(90)).await;
        for t in done["targets"].as_array().unwrap() {
            assert_eq!(t["state"], "success", "{t:#}");
        }
        assert_eq!(done["targets"].as_array().unwrap().len(), hosts);
        assert_eq!(done["deployment"]["executor"], "config:stamp hosts");
        // more ticks at the same instant fire nothing more
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let runs = api.get("/configs/stamp%20hosts/runs").await.as_array().cloned().unwrap();
    let fires: Vec<i64> = runs.iter().rev().map(|r| r["fire_ms"].as_i64().unwrap()).collect();
    assert_eq!(fires, [t0, t0 + MINUTE, t0 + 2 * MINUTE], "one run per fire time");
    let deployments = api.get("/deployments").await.as_array().cloned().unwrap();
    assert_eq!(deployments.len(), 3, "one deployment per fire time: {deployments:#?}");
    runs
}

fn lines_on_hosts(fleet: &Fleet) -> Vec<usize> {
    fleet.hosts.iter().map(|h| fleet.sh(h, "wc -l < /tmp/runs").trim().parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_minute_configuration_fires_once_a_minute() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 2).await;
    let t0 = every_minute(&server, &assets).await;
    let clock = Clock(Arc::new(AtomicI64::new(t0 - 1000)));
    let scheduler = clock.start(&server);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(server.get("/configs/stamp%20hosts/runs").await.as_array().unwrap().is_empty(), "not due yet");

    three_minutes(&server, &clock, t0, 2).await;
    assert_eq!(lines_on_hosts(&fleet), [3, 3], "the package ran once a minute on each host");
    let log = server.get("/logs?limit=100").await;
    assert!(log.as_array().unwrap().iter().all(|e| e["executor"] == "config:stamp hosts"), "{log:#}");

    // a used schedule is not deleted, and says who uses it
    let (status, v) = server.call(reqwest::Method::DELETE, "/schedules/every%20minute", None).await;
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("'stamp hosts'"), "{v}");
    // disabled: no more runs, whatever the clock says
    server.post("/configs/stamp%20hosts/disable", json!({})).await;
    clock.set(t0 + 10 * MINUTE);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(server.get("/configs/stamp%20hosts/runs").await.as_array().unwrap().len(), 3);
    scheduler.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_on_one_postgres_fire_once_a_minute() {
    let fleet = Fleet::up(2);
    let url = postgres_database().await;
    let a = Server::start_node(&url, None, |c| c.node_name = "node-a".into()).await;
    let b = Server::start_node(&url, Some(&a), |c| c.node_name = "node-b".into()).await;
    a.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = a.assets(&fleet, "root").await;
    let t0 = every_minute(&a, &assets).await;
    let clock = Clock(Arc::new(AtomicI64::new(t0 - 1000)));
    let (sa, sb) = (clock.start(&a), clock.start(&b));
    // and both nodes tick the same instants at once, besides their loops
    let racer = {
        let (ea, eb, c) = (a.engine.clone(), b.engine.clone(), clock.clone());
        tokio::spawn(async move {
            loop {
                let now = c.0.load(Ordering::SeqCst);
                let (x, y) = tokio::join!(ea.tick(now), eb.tick(now));
                let started = x.unwrap().started.len() + y.unwrap().started.len();
                assert!(started <= 1, "two nodes started the same run");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let runs = three_minutes(&a, &clock, t0, 2).await;
    assert_eq!(lines_on_hosts(&fleet), [3, 3], "the package ran once a minute on each host");
    // both nodes see the same runs
    assert_eq!(b.get("/configs/stamp%20hosts/runs").await.as_array().unwrap(), &runs);
    let servers: Vec<String> = a
        .get("/logs?limit=100")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["server"].as_str().unwrap_or("-").to_string())
        .collect();
    eprintln!("targets run by: {servers:?}");
    assert!(!racer.is_finished(), "the racing ticks never started a run twice");
    racer.abort();
    sa.abort();
    sb.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_schedules_are_refused_naming_the_field() {
    let server = Server::start(Backend::Sqlite).await;
    let base =
        json!({"name": "x", "start": "2026-12-01T22:00", "time_zone": "Europe/Amsterdam", "kind": {"type": "daily"}});
    let cases = [
        (json!({"start": "2026-02-31T22:00"}), "start: '2026-02-31T22:00'"),
        (json!({"kind": {"type": "interval", "every": 0, "unit": "minutes"}}), "kind.every"),
        (json!({"kind": {"type": "monthly", "day": {"day_of_month": 30}}}), "kind.short_months"),
        (json!({"kind": {"type": "weekly", "weekdays": []}}), "kind.weekdays"),
        (json!({"time_zone": "Europe/Atlantis"}), "time_zone"),
        (json!({"end": {"local": "2026-11-01T00:00"}}), "end:"),
        (json!({"start": "2020-01-01T00:00", "kind": {"type": "once"}}), "start: a one-time schedule"),
    ];
    for (change, want) in cases {
        let mut body = base.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, v) = server.call(reqwest::Method::POST, "/schedules", Some(body.clone())).await;
        assert_eq!(status, 422, "{body} → {v}");
        assert!(v["error"].as_str().unwrap().contains(want), "{body} → {v}");
    }
    let ok = server.post("/schedules", base).await;
    assert_eq!(ok["next_runs"].as_array().unwrap().len(), 5);
    let preview = server.get("/schedules/x/preview?n=3").await;
    assert_eq!(preview.as_array().unwrap().len(), 3);
    assert!(preview[0]["local"].as_str().unwrap().contains("22:00"), "{preview:#}");
}
