//! Cancelling a deployment ends queued targets and kills running tasks; relaunching
//! deploys again to the targets that did not make it.

use crate::deploy::{CONF, hello_package};
use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server, eventually};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn cancel_kills_running_tasks_and_ends_queued_ones() {
    let fleet = Fleet::up(3);
    let server = Server::start_with(Backend::Sqlite, |c| c.deployment_threads = 1).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = server.assets(&fleet, "root").await;
    let pkg = "name = \"long\"\nversion = \"1\"\n[[steps]]\nname = \"long\"\ntype = \"command\"\ncommand = \"echo started > /tmp/started; sleep 120\"\n";
    server.import(pkg, &[]).await;
    let v = server.post("/deployments", json!({"package": "long", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    let running_host = eventually("a task to start (/tmp/started on a host)", Duration::from_secs(30), async || {
        fleet.hosts.iter().find(|h| fleet.exec(h, "test -e /tmp/started").0 == 0).ok_or("no host has /tmp/started")
    })
    .await;
    let c = server.post(&format!("/deployments/{id}/cancel"), json!({})).await;
    assert_eq!(c["cancelled"], 3, "{c}");
    let done = server.wait(id, Duration::from_secs(30)).await;
    for t in done["targets"].as_array().unwrap() {
        assert_eq!(t["state"], "cancelled", "{t:#}");
        assert_eq!(t["error_code"], "target.cancelled");
        assert!(t["message"].as_str().unwrap().contains("cancelled by user:admin"), "{t:#}");
    }
    let killed = done["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["message"].as_str().unwrap().contains("killed"))
        .count();
    assert_eq!(killed, 1, "{done:#}");
    let left = fleet.exec(running_host, "pgrep -a '^drover-'; pgrep -af '^sleep 120'").1;
    assert!(left.trim().is_empty(), "left running: {left}\n{done:#}");
    let started = fleet.hosts.iter().filter(|h| fleet.exec(h, "test -e /tmp/started").0 == 0).count();
    assert_eq!(started, 1, "queued targets never started");
}

#[tokio::test(flavor = "multi_thread")]
async fn relaunch_retries_only_what_did_not_succeed() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    server.post("/assets", json!({"name": "ghost", "address": fleet.unused_ip(), "credential": "root"})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let first = server
        .deploy_and_wait(
            json!({"package": "hello", "assets": [assets[0], "ghost"], "run_mode": "system"}),
            Duration::from_secs(60),
        )
        .await;
    let id = first["deployment"]["id"].as_i64().unwrap();
    let again = server.post(&format!("/deployments/{id}/relaunch"), json!({})).await;
    let targets = again["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{again:#}");
    assert_eq!(targets[0]["asset_name"], "ghost");
    assert_eq!(again["deployment"]["run_mode"], "system");
    let done = server.wait(again["deployment"]["id"].as_i64().unwrap(), Duration::from_secs(30)).await;
    assert_eq!(done["targets"][0]["state"], "offline");
    let ok = server.deploy_and_wait(json!({"package": "hello", "assets": [assets[0]]}), Duration::from_secs(60)).await;
    let (status, v) = server
        .call(reqwest::Method::POST, &format!("/deployments/{}/relaunch", ok["deployment"]["id"]), Some(json!({})))
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("no failed, offline or timed-out targets"), "{v}");
}
