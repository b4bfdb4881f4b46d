//! Deployment threads bound how many targets run at once, and a change applies live.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server, done_if, eventually};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// (start, end) of each target: from `connecting` to its final state.
fn intervals(log: &[Value]) -> Vec<(i64, i64)> {
    log.iter()
        .map(|e| {
            let ev = e["events"].as_array().unwrap();
            let start = ev.iter().find(|x| x["state"] == "connecting").unwrap()["at_ms"].as_i64().unwrap();
            (start, ev.last().unwrap()["at_ms"].as_i64().unwrap())
        })
        .collect()
}

/// The most targets running together at a target start before `until`.
fn most_at_once(spans: &[(i64, i64)], until: i64) -> usize {
    spans
        .iter()
        .filter(|(s, _)| *s < until)
        .map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_bound_targets_and_change_live() {
    let fleet = Fleet::up(20);
    let server = Server::start_with(Backend::Sqlite, |c| c.deployment_threads = 5).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = server.assets(&fleet, "root").await;
    let pkg = "name = \"nap\"\nversion = \"1\"\n[[steps]]\nname = \"nap\"\ntype = \"sleep\"\nseconds = 3\n";
    server.import(pkg, &[]).await;
    let start = Instant::now();
    let v = server.post("/deployments", json!({"package": "nap", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    let limit = Duration::from_secs(30).saturating_sub(start.elapsed());
    eventually("5 running and 15 queued", limit, async || {
        let t = server.get("/threads").await;
        done_if(t["running"] == 5 && t["queued"] == 15, t)
    })
    .await;
    // Hold 1.5 s with the limit at 5 and 15 waiting: a sixth start would show in `running`
    // here and in the recorded start and end times checked below. 1.5 s is half a nap: long
    // enough for a start that should not happen to happen, short enough that the first five
    // are still in their naps, so `running` must read exactly 5.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = server.get("/threads").await;
    assert_eq!((t["threads"].as_i64(), t["running"].as_i64()), (Some(5), Some(5)), "{t}");
    let changed_at = drover_engine::now_ms();
    let t = server.ok(reqwest::Method::PUT, "/threads", Some(json!({"threads": 10}))).await;
    assert_eq!(t["threads"], 10);
    let done = server.wait(id, Duration::from_secs(120)).await;
    assert!(done["targets"].as_array().unwrap().iter().all(|t| t["state"] == "success"), "{done:#}");
    let spans = intervals(&server.log(id).await);
    assert!(most_at_once(&spans, changed_at) <= 5, "more than 5 at once before the change: {spans:?}");
    assert!(most_at_once(&spans, i64::MAX) > 5, "the change did not apply live: {spans:?}");
    assert!(most_at_once(&spans, i64::MAX) <= 10, "more than 10 at once after the change: {spans:?}");
    let (status, _) = server.call(reqwest::Method::PUT, "/threads", Some(json!({"threads": 0}))).await;
    assert_eq!(status, 422);
}
