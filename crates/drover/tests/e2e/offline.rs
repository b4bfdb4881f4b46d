//! Machines that are off: Wake-on-LAN wakes powered-off test hosts (and only those whose
//! MAC the packet names), a target without WoL is offline at once, and the retry queue
//! deploys once to a machine that comes back, or ends offline when retries expire.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server, done_if, eventually};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ONCE: &str = "name = \"once\"\nversion = \"1\"\n[[steps]]\nname = \"mark\"\ntype = \"command\"\n\
    command = \"echo ran >> /var/tmp/runs\"\n";

/// The states a target went through, with their messages.
fn events(entry: &Value) -> Vec<(String, String)> {
    entry["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["state"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string()))
        .collect()
}

fn entry<'a>(log: &'a [Value], asset: &str) -> &'a Value {
    log.iter().find(|e| e["asset_name"] == asset).unwrap_or_else(|| panic!("no log entry for {asset}"))
}

/// Waits until `pred` holds for the deployment's targets.
async fn until(server: &Server, id: i64, what: &str, limit: Duration, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let v = eventually(what, limit, async || {
        let v = server.get(&format!("/deployments/{id}")).await;
        done_if(pred(v["targets"].as_array().unwrap()), v)
    })
    .await;
    v["targets"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn powered_off_hosts_are_woken_and_deployed() {
    let fleet = Fleet::up(5);
    let bridge = fleet.bridge();
    let server = Server::start_with(Backend::Postgres, move |c| c.wol_interface = Some(bridge)).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let h = &fleet.hosts;
    // three machines off, one on, one off whose MAC drover has wrong
    for host in &h[..3] {
        fleet.power_off(host, 2);
    }
    fleet.power_off(&h[4], 2);
    let mut assets = Vec::new();
    for (k, host) in h.iter().enumerate() {
        let mac = if k == 4 { "02:d0:ff:00:ff:fe".to_string() } else { host.mac.clone() };
        server
            .post("/assets", json!({"name": host.name, "address": host.ip, "macs": [mac], "credential": "root"}))
            .await;
        assets.push(host.name.clone());
    }
    let (status, v) = server.import(ONCE, &[]).await;
    assert_eq!(status, 200, "{v}");
    let done = server
        .deploy_and_wait(
            json!({"package": "once", "assets": assets, "wake_on_lan": true, "boot_secs": 8}),
            Duration::from_secs(90),
        )
        .await;
    assert_eq!(done["deployment"]["options"]["wake_on_lan"], true, "{done:#}");
    let log = server.log(done["deployment"]["id"].as_i64().unwrap()).await;
    for host in &h[..3] {
        let e = entry(&log, &host.name);
        assert_eq!(e["state"], "success", "{e:#}");
        let ev = events(e);
        assert!(ev.iter().any(|(s, m)| s == "waking" && m.contains(&host.mac)), "{ev:?}");
        assert!(fleet.wol_log(host).contains("booted"), "{}: {}", host.name, fleet.wol_log(host));
        assert_eq!(fleet.sh(host, "cat /var/tmp/runs"), "ran");
    }
    let on = entry(&log, &h[3].name);
    assert_eq!(on["state"], "success");
    assert!(!events(on).iter().any(|(s, _)| s == "waking"), "a machine that answers is not woken");
    let wrong = entry(&log, &h[4].name);
    assert_eq!((wrong["state"].as_str(), wrong["error_code"].as_str()), (Some("offline"), Some("target.offline")));
    assert!(wrong["message"].as_str().unwrap().contains("still off 8 s after Wake-on-LAN"), "{wrong:#}");
    let wol = fleet.wol_log(&h[4]);
    assert!(wol.contains("ignored") && !wol.contains("booted"), "packets for another MAC must not wake it: {wol}");
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_targets_end_fast_or_wait_in_the_retry_queue() {
    let fleet = Fleet::up(2);
    let (h0, h1) = (&fleet.hosts[0], &fleet.hosts[1]);
    fleet.power_off(h0, 1);
    fleet.power_off(h1, 1);
    let server = Server::start(Backend::Sqlite).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = server.assets(&fleet, "root").await;
    server.import(ONCE, &[]).await;

    // no Wake-on-LAN, no retry: offline after the probe, no long hang
    let start = Instant::now();
    let done =
        server.deploy_and_wait(json!({"package": "once", "assets": [&assets[0]]}), Duration::from_secs(30)).await;
    let t = &done["targets"][0];
    assert_eq!((t["state"].as_str(), t["error_code"].as_str()), (Some("offline"), Some("target.offline")), "{t:#}");
    assert!(t["message"].as_str().unwrap().contains("deploy with retry_offline"), "{t:#}");
    assert!(start.elapsed() < Duration::from_secs(15), "offline took {:?}", start.elapsed());

    // impossible retry options are refused, naming the problem
    let (status, v) = server
        .call(
            reqwest::Method::POST,
            "/deployments",
            Some(json!({"package": "once", "assets": assets, "retry_offline": true, "retry_interval_secs": 600, "retry_expiry_secs": 60})),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("shorter than retry_interval_secs"), "{v}");

    // retry: both wait in the queue; the one powered on is deployed once
    let defaults = server.get("/settings").await;
    assert_eq!(defaults["deployment_defaults"]["retry_interval_secs"], 600, "{defaults}");
    let v = server
        .post(
            "/deployments",
            json!({"package": "once", "assets": assets, "retry_offline": true, "retry_interval_secs": 2, "retry_expiry_secs": 300}),
        )
        .await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    let created = v["deployment"]["created_ms"].as_i64().unwrap();
    until(&server, id, "both targets waiting after 2 attempts each", Duration::from_secs(30), |ts| {
        ts.iter().all(|t| t["state"] == "waiting_retry" && t["attempts"].as_i64() >= Some(2))
    })
    .await;
    let queue = server.get("/retry-queue").await;
    let queue = queue.as_array().unwrap();
    assert_eq!(queue.len(), 2, "{queue:?}");
    for r in queue {
        assert_eq!(r["retry_until_ms"].as_i64(), Some(created + 300_000), "{r}");
        assert!(r["target"]["next_attempt_ms"].as_i64().is_some(), "{r}");
    }
    fleet.power_on(h0);
    until(&server, id, "h0's success after its power-on", Duration::from_secs(30), |ts| ts[0]["state"] == "success")
        .await;
    let ts = server.get(&format!("/deployments/{id}")).await["targets"].clone();
    assert_eq!(ts[1]["state"], "waiting_retry", "{ts:#}");
    server.post(&format!("/deployments/{id}/cancel"), json!({})).await;
    let done = server.wait(id, Duration::from_secs(10)).await;
    assert_eq!(done["targets"][1]["state"], "cancelled", "{done:#}");
    assert!(server.get("/retry-queue").await.as_array().unwrap().is_empty());
    // Nothing runs it again: a retry left behind for h0 would come due at most 2 s (the
    // retry interval) after h0's last attempt, which came before its success; 3 s after
    // the cancel also leaves that attempt a second to run the one-command package.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fleet.sh(h0, "cat /var/tmp/runs"), "ran", "the package ran exactly once");
    let log = server.log(id).await;
    let ev = events(entry(&log, &h0.name));
    assert!(ev.iter().any(|(s, m)| s == "waiting_retry" && m.contains("next attempt at")), "{ev:?}");
    assert!(ev.iter().any(|(s, m)| s == "connecting" && m.contains("(attempt ")), "{ev:?}");

    // retries that expire end offline
    let done = server
        .deploy_and_wait(
            json!({"package": "once", "assets": [&assets[1]], "retry_offline": true, "retry_interval_secs": 1, "retry_expiry_secs": 3}),
            Duration::from_secs(30),
        )
        .await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "offline", "{t:#}");
    assert!(t["message"].as_str().unwrap().contains("retries ended"), "{t:#}");
    assert!(t["attempts"].as_i64() >= Some(2), "{t:#}");
    assert_eq!(fleet.exec(h1, "cat /var/tmp/runs").0, 1, "never ran on the machine that stayed off");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_cut_off_mid_deployment_times_out_and_the_others_finish() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 3).await;
    let pkg = "name = \"nap\"\nversion = \"1\"\nmax_duration_secs = 12\n\
        [[steps]]\nname = \"mark\"\ntype = \"command\"\ncommand = \"true\"\n\
        [[steps]]\nname = \"nap\"\ntype = \"sleep\"\nseconds = 6\n";
    assert_eq!(server.import(pkg, &[]).await.0, 200);
    let v = server.post("/deployments", json!({"package": "nap", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    // cut the link once every task runs its steps
    eventually("every task to report a step", Duration::from_secs(30), async || {
        let log = server.log(id).await;
        done_if(log.iter().all(|e| !e["steps"].as_array().unwrap().is_empty()), Value::from(log))
    })
    .await;
    let cut = &fleet.hosts[1];
    fleet.run("link-down", cut, &[]);
    let done = server.wait(id, Duration::from_secs(60)).await;
    fleet.run("link-up", cut, &[]);
    let ts = done["targets"].as_array().unwrap();
    assert_eq!((ts[0]["state"].as_str(), ts[2]["state"].as_str()), (Some("success"), Some("success")), "{done:#}");
    let t = &ts[1];
    assert_eq!(
        (t["state"].as_str(), t["error_code"].as_str()),
        (Some("timed_out"), Some("target.unreachable_outcome_unknown")),
        "{t:#}"
    );
    assert!(t["message"].as_str().unwrap().contains("could not be reached"), "{t:#}");
    let ev = events(entry(&server.log(id).await, &cut.name));
    assert!(ev.iter().any(|(_, m)| m.contains("stopped answering over SSH")), "{ev:?}");
}
