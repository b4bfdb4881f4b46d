//! The real server killed with SIGKILL in the middle of a deployment, then started again:
//! every target ends, the steps recorded match what ran, nothing runs twice.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Api, deployer_path};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data: &Path, port: u16) -> Running {
    let log = std::fs::File::options().create(true).append(true).open(data.with_extension("log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_drover"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("0.0.0.0:{port}"), "--liveness-secs", "2", "--threads", "2"])
        .env("DROVER_ADMIN_PASSWORD", "admin-password")
        .env("DROVER_DEPLOYER", deployer_path())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Running(child)
}

async fn up(url: &str) {
    let start = Instant::now();
    while reqwest::get(format!("{url}/healthz")).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_picks_up_where_it_was() {
    let fleet = Fleet::up(3);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(&data, port);
    up(&url).await;
    let api = Api::login(&url, "admin-password").await;
    api.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = api.assets(&fleet, "root").await;
    let pkg = "name = \"slow\"\nversion = \"1\"\n\
        [[steps]]\nname = \"first\"\ntype = \"command\"\ncommand = \"echo first >> /tmp/runs\"\n\
        [[steps]]\nname = \"wait\"\ntype = \"sleep\"\nseconds = 4\n\
        [[steps]]\nname = \"last\"\ntype = \"command\"\ncommand = \"echo last >> /tmp/runs\"\n";
    let (status, v) = api.import(pkg, &[]).await;
    assert_eq!(status, 200, "{v}");
    // three targets, two threads: two run, one waits in the queue when the server dies
    let v = api.post("/deployments", json!({"package": "slow", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    let start = Instant::now();
    loop {
        let log = api.log(id).await;
        if log.iter().filter(|e| !e["steps"].as_array().unwrap().is_empty()).count() >= 2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "steps never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let states: Vec<String> =
        api.log(id).await.iter().map(|e| e["state"].as_str().unwrap_or("?").to_string()).collect();
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);

    tokio::time::sleep(Duration::from_secs(1)).await;
    let _server = serve(&data, port);
    up(&url).await;
    let done = api.wait(id, Duration::from_secs(60)).await;
    for t in done["targets"].as_array().unwrap() {
        assert_eq!(t["state"], "success", "before the kill {states:?}; now {t:#}");
    }
    for h in &fleet.hosts {
        assert_eq!(fleet.sh(h, "cat /tmp/runs"), "first\nlast", "{} ran the package exactly once", h.name);
    }
    for e in api.log(id).await {
        let names: Vec<&str> = e["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["first", "wait", "last"], "{e:#}");
    }
}
