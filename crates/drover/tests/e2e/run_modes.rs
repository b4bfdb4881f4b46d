//! Run modes on real hosts: who owns what the task writes.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server};
use serde_json::{Value, json};
use std::time::Duration;

const WHOAMI: &str = r#"
name = "whoami"
version = "1"
run_mode = "ask"
[[steps]]
name = "write"
type = "command"
command = "rm -f /tmp/run-mode-file; id -un > /tmp/run-mode-file"
"#;

async fn deploy(server: &Server, asset: &str, mode: &str) -> Value {
    let v = server
        .deploy_and_wait(json!({"package": "whoami", "assets": [asset], "run_mode": mode}), Duration::from_secs(60))
        .await;
    v["targets"][0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_modes_decide_the_account() {
    let fleet = Fleet::up(7);
    let server = Server::start(Backend::Sqlite).await;
    server
        .credential("deploy", json!({"username": "deploy", "password": "drover-deploy", "sudo": "no_password"}))
        .await;
    server.credential("ops", json!({"username": "ops", "password": "drover-ops", "sudo": "password"})).await;
    server.credential("alice", json!({"username": "alice", "password": "drover-alice"})).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server
        .credential(
            "ops-wrong-sudo",
            json!({"username": "ops", "password": "drover-ops", "sudo": "password", "sudo_password": "wrong"}),
        )
        .await;
    let creds = ["deploy", "ops", "alice", "root", "root", "alice", "ops-wrong-sudo"];
    for (h, c) in fleet.hosts.iter().zip(creds) {
        server.post("/assets", json!({"name": h.name, "address": h.ip, "credential": c})).await;
    }
    let (status, v) = server.import(WHOAMI, &[]).await;
    assert_eq!(status, 200, "{v}");
    // asking package without a choice is refused before anything runs
    let (status, v) = server
        .call(
            reqwest::Method::POST,
            "/deployments",
            Some(json!({"package": "whoami", "assets": [fleet.hosts[0].name]})),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("asks for the run mode"), "{v}");

    let owner =
        |i: usize| fleet.sh(&fleet.hosts[i], "stat -c %U /tmp/run-mode-file && cat /tmp/run-mode-file | tr '\\n' ' '");
    let h = |i: usize| fleet.hosts[i].name.clone();

    // system through sudo without password, and through sudo with password
    let t = deploy(&server, &h(0), "system").await;
    assert_eq!(t["state"], "success", "{t:#}");
    assert_eq!(owner(0), "root\nroot");
    let t = deploy(&server, &h(1), "system").await;
    assert_eq!(t["state"], "success", "{t:#}");
    assert_eq!(owner(1), "root\nroot");

    // the scanning credential's own account
    let t = deploy(&server, &h(2), "scanning-credential").await;
    assert_eq!(t["state"], "success", "{t:#}");
    assert_eq!(owner(2), "alice\nalice");

    // the logged-on user (at the local console, tty1), with a root credential
    fleet.run("login", &fleet.hosts[3], &["alice", "--tty", "tty1"]);
    let t = deploy(&server, &h(3), "logged-on-user").await;
    assert_eq!(t["state"], "success", "{t:#}");
    assert_eq!(owner(3), "alice\nalice");

    // nobody logged on: a clear failure, nothing run
    let t = deploy(&server, &h(4), "logged-on-user").await;
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "target.nobody_logged_on");
    assert!(t["message"].as_str().unwrap().contains("nobody is logged on"), "{t:#}");
    assert_eq!(fleet.exec(&fleet.hosts[4], "test -e /tmp/run-mode-file").0, 1);

    // system mode with a credential that cannot become root
    let t = deploy(&server, &h(5), "system").await;
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "target.needs_root");
    assert!(t["message"].as_str().unwrap().contains("no sudo"), "{t:#}");

    // a wrong sudo password: refused before anything is sent through sudo
    let t = deploy(&server, &h(6), "system").await;
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "target.sudo_failed");
    assert!(t["message"].as_str().unwrap().contains("sudo refused"), "{t:#}");
    assert_eq!(fleet.exec(&fleet.hosts[6], "ls /var/lib/drover/bin").0, 2, "nothing installed");
}
