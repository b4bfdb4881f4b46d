//! Step timeouts and the package's max duration end processes on the host for good.

use crate::harness::{Backend, Server, done_if, eventually};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn step_timeout_and_max_duration_leave_nothing_running() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let h = &fleet.hosts[0];
    let pkg = r#"
name = "slow"
version = "1"
max_duration_secs = 5
[[steps]]
name = "too slow"
type = "command"
command = "cp /bin/sleep /tmp/drover-test-child && /tmp/drover-test-child 300 & sleep 300"
timeout_secs = 1
on_failure = "next"
[[steps]]
name = "past the deadline"
type = "command"
command = "cp /bin/sleep /tmp/drover-test-long && exec /tmp/drover-test-long 300"
"#;
    let (status, v) = server.import(pkg, &[]).await;
    assert_eq!(status, 200, "{v}");
    let start = Instant::now();
    let done = server.deploy_and_wait(json!({"package": "slow", "assets": assets}), Duration::from_secs(60)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "timed_out", "{t:#}");
    assert_eq!(t["error_code"], "target.max_duration");
    assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
    let log = server.log(done["deployment"]["id"].as_i64().unwrap()).await;
    let steps = log[0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{steps:#?}");
    assert_eq!(steps[0]["success"], false);
    assert!(steps[0]["message"].as_str().unwrap().contains("longer than its timeout of 1 s"), "{steps:#?}");
    assert!(steps[1]["message"].as_str().unwrap().contains("max duration"), "{steps:#?}");
    // neither the deployer nor anything a step started is left
    let left = fleet.exec(h, "pgrep -a '^drover-|^drvhang$'").1;
    assert!(left.trim().is_empty(), "left running: {left}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_task_is_killed_by_the_server_at_max_duration() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let h = &fleet.hosts[0];
    let pkg = "name = \"hang\"\nversion = \"1\"\nmax_duration_secs = 3\n[[steps]]\nname = \"wait\"\ntype = \"command\"\ncommand = \"cp /bin/sleep /tmp/drvhang && exec /tmp/drvhang 300\"\n";
    server.import(pkg, &[]).await;
    let v = server.post("/deployments", json!({"package": "hang", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    eventually("the step's drvhang process on the host", Duration::from_secs(30), async || {
        let (code, out) = fleet.exec(h, "pgrep -x drvhang");
        done_if(code == 0, format!("pgrep exited {code}: {out}"))
    })
    .await;
    // a frozen deployer cannot enforce its own deadline: the server must
    fleet.sh(h, "kill -STOP $(cat /var/lib/drover/targets/*/pid)");
    let done = server.wait(id, Duration::from_secs(40)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "timed_out", "{t:#}");
    assert!(t["message"].as_str().unwrap().contains("the task and its processes were killed"), "{t:#}");
    let left = fleet.exec(h, "pgrep -a '^drover-|^drvhang$'").1;
    assert!(left.trim().is_empty(), "left running: {left}");
}
