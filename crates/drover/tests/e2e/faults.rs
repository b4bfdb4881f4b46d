//! Bad input and faults: each ends with a clear message, never a hang.

use crate::deploy::{CONF, hello_package};
use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server, done_if, eventually};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_key_name_asset_and_credential() {
    let fleet = Fleet::up(2);
    let server = Server::start(Backend::Sqlite).await;
    server.credential("bad-pw", json!({"username": "root", "password": "not-the-password"})).await;
    server.credential("good-key", json!({"username": "root", "private_key": fleet.key()})).await;
    server.post("/assets", json!({"name": "wrong", "address": fleet.hosts[0].ip, "credential": "bad-pw"})).await;
    server.post("/assets", json!({"name": "fallback", "address": fleet.hosts[1].ip, "credential": "bad-pw"})).await;
    // the second asset also has a good key credential, tried after the bad one
    let creds = server.get("/credentials").await;
    let key_id = creds.as_array().unwrap().iter().find(|c| c["name"] == "good-key").unwrap()["id"].as_i64().unwrap();
    server.post(&format!("/credentials/{key_id}/mappings"), json!({"asset": "fallback", "priority": 5})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let done = server
        .deploy_and_wait(json!({"package": "hello", "assets": ["wrong", "fallback"]}), Duration::from_secs(60))
        .await;
    let t = |name: &str| done["targets"].as_array().unwrap().iter().find(|t| t["asset_name"] == name).unwrap().clone();
    let wrong = t("wrong");
    assert_eq!(wrong["state"], "failed", "{wrong:#}");
    assert_eq!(wrong["error_code"], "ssh.auth_failed");
    let msg = wrong["message"].as_str().unwrap();
    assert!(msg.contains("'wrong'") && msg.contains("'bad-pw' (user root)"), "{msg}");
    assert!(!msg.contains("not-the-password"));
    let fallback = t("fallback");
    assert_eq!(fallback["state"], "success", "{fallback:#}");
    assert_eq!(fallback["credential"], "good-key");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_address_is_offline_quickly() {
    let fleet = Fleet::up(1);
    let server = Server::start(Backend::Sqlite).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server.post("/assets", json!({"name": "ghost", "address": fleet.unused_ip(), "credential": "root"})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let start = Instant::now();
    let done = server.deploy_and_wait(json!({"package": "hello", "assets": ["ghost"]}), Duration::from_secs(30)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "offline", "{t:#}");
    assert_eq!(t["error_code"], "target.offline");
    assert!(t["message"].as_str().unwrap().contains("did not answer on its SSH port"), "{t:#}");
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_host_key_is_refused_before_any_password() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let h = &fleet.hosts[0];
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let first = server.deploy_and_wait(json!({"package": "hello", "assets": assets}), Duration::from_secs(60)).await;
    assert_eq!(first["targets"][0]["state"], "success");
    let pinned = server.get(&format!("/assets/{}", h.name)).await["host_key_fingerprint"].clone();

    fleet.run("rekey", h, &[]);
    let log_lines = |f: &Fleet| f.sh(h, "cat /var/log/sshd.log");
    let before = log_lines(&fleet).lines().count();
    let done = server.deploy_and_wait(json!({"package": "hello", "assets": assets}), Duration::from_secs(60)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "ssh.host_key_mismatch");
    let msg = t["message"].as_str().unwrap();
    assert!(msg.contains("accept-key"), "{msg}");
    assert!(msg.contains(pinned.as_str().unwrap()), "{msg}");
    let after = log_lines(&fleet);
    let new: Vec<&str> = after.lines().skip(before).collect();
    assert!(
        !new.iter().any(|l| l.contains("password") || l.contains("Accepted") || l.contains("Failed")),
        "sshd saw an authentication attempt after the key changed: {new:?}"
    );
    // unchanged pin
    assert_eq!(server.get(&format!("/assets/{}", h.name)).await["host_key_fingerprint"], pinned);

    // accepting the new key lets the next deployment through and pins the new key
    server.post(&format!("/assets/{}/accept-host-key", h.name), json!({})).await;
    let ok = server.deploy_and_wait(json!({"package": "hello", "assets": assets}), Duration::from_secs(60)).await;
    assert_eq!(ok["targets"][0]["state"], "success", "{ok:#}");
    assert_ne!(server.get(&format!("/assets/{}", h.name)).await["host_key_fingerprint"], pinned);
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_deployer_fails_the_target() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let h = &fleet.hosts[0];
    let pkg = "name = \"slow\"\nversion = \"1\"\n[[steps]]\nname = \"first\"\ntype = \"command\"\ncommand = \"true\"\n[[steps]]\nname = \"wait\"\ntype = \"sleep\"\nseconds = 120\n";
    server.import(pkg, &[]).await;
    let v = server.post("/deployments", json!({"package": "slow", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    // wait until the first step is reported, then kill the deployer
    eventually("the first step's report", Duration::from_secs(30), async || {
        let log = server.log(id).await;
        done_if(!log[0]["steps"].as_array().unwrap().is_empty(), Value::from(log))
    })
    .await;
    // the running deployer told the launch its pid and removed the FIFO
    assert_eq!(fleet.exec(h, "ls /var/lib/drover/targets/*/started").0, 2);
    fleet.sh(h, "kill -KILL $(cat /var/lib/drover/targets/*/pid)");
    let done = server.wait(id, Duration::from_secs(30)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "target.task_vanished");
    assert!(t["message"].as_str().unwrap().contains("after step 'first'"), "{t:#}");
    // the secrets it left are removed
    assert_eq!(fleet.exec(h, "ls /var/lib/drover/targets/*/job.json").0, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn target_tokens_are_scoped_and_end_with_the_target() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 2).await;
    let pkg = hello_package("[[steps]]\nname = \"hold\"\ntype = \"sleep\"\nseconds = 8\n");
    server.import(&pkg, &[("conf/hello.conf", CONF)]).await;
    server.import("name = \"other\"\nversion = \"1\"\n[[steps]]\nname = \"c\"\ntype = \"file-copy\"\nsource = \"{PackageShare}/x\"\ndestination = \"/tmp/x\"\n", &[("x", b"other file")]).await;
    let v = server.post("/deployments", json!({"package": "hello", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    let targets: Vec<i64> = v["targets"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    // read host 1's job while it runs
    let job = eventually("host 1's job.json", Duration::from_secs(30), async || {
        let (code, out) = fleet.exec(&fleet.hosts[0], "cat /var/lib/drover/targets/*/job.json");
        done_if(code == 0 && !out.is_empty(), out)
    })
    .await;
    let job: Value = serde_json::from_str(&job).unwrap();
    let share = job["share_token"].as_str().unwrap().to_string();
    let report = job["report_token"].as_str().unwrap().to_string();
    let mine = job["target_id"].as_i64().unwrap();
    let other_target = *targets.iter().find(|t| **t != mine).unwrap();
    let conf_sha = crate::harness::sha256(CONF);
    let other_sha = crate::harness::sha256(b"other file");
    let get = |sha: String, token: String| {
        let (http, url) = (server.http.clone(), server.url.clone());
        async move {
            http.get(format!("{url}/share/v1/files/{sha}")).bearer_auth(token).send().await.unwrap().status().as_u16()
        }
    };
    let report_as = |target: i64, token: String| {
        let (http, url) = (server.http.clone(), server.url.clone());
        async move {
            let body = json!({"target_id": target, "seq": 99, "at_unix_ms": 1, "event": {"event": "step_started", "index": 0, "name": "x"}});
            http.post(format!("{url}/agent/v1/report"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(get(conf_sha.clone(), share.clone()).await, 200);
    assert_eq!(get(other_sha, share.clone()).await, 403, "a file of another package");
    assert_eq!(get(conf_sha.clone(), "made-up".into()).await, 403);
    assert_eq!(get(conf_sha.clone(), report.clone()).await, 403, "the report token is not a share token");
    assert_eq!(report_as(other_target, report.clone()).await, 403, "reporting for another target");
    assert_eq!(report_as(mine, share.clone()).await, 403, "the share token is not a report token");
    let done = server.wait(id, Duration::from_secs(60)).await;
    assert!(done["targets"].as_array().unwrap().iter().all(|t| t["state"] == "success"), "{done:#}");
    assert_eq!(get(conf_sha, share.clone()).await, 403, "after the end");
    assert_eq!(report_as(mine, report.clone()).await, 403, "after the end");
    for token in [&share, &report] {
        let (code, found) = fleet.exec(&fleet.hosts[0], &format!("grep -rlF -e '{token}' /var/lib/drover /tmp 2>&1"));
        assert_eq!(code, 1, "a token is left on the host in: {found}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypted_keys_need_the_right_passphrase() {
    let fleet = Fleet::up(2);
    let server = Server::start(Backend::Sqlite).await;
    let key = std::fs::read_to_string(fleet.dir.join("id_ed25519_pass")).unwrap();
    server
        .credential(
            "good",
            json!({"username": "deploy", "private_key": key, "passphrase": "drover-pass", "sudo": "no_password"}),
        )
        .await;
    server.credential("bad", json!({"username": "deploy", "private_key": key, "passphrase": "wrong"})).await;
    server.post("/assets", json!({"name": "a", "address": fleet.hosts[0].ip, "credential": "good"})).await;
    server.post("/assets", json!({"name": "b", "address": fleet.hosts[1].ip, "credential": "bad"})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let done = server.deploy_and_wait(json!({"package": "hello", "assets": ["a", "b"]}), Duration::from_secs(60)).await;
    let t = |name: &str| done["targets"].as_array().unwrap().iter().find(|t| t["asset_name"] == name).unwrap().clone();
    assert_eq!(t("a")["state"], "success", "{:#}", t("a"));
    let b = t("b");
    assert_eq!(b["state"], "failed", "{b:#}");
    assert!(b["message"].as_str().unwrap().contains("passphrase"), "{b:#}");
    // secrets never come back from the API
    let creds = server.get("/credentials").await.to_string();
    assert!(!creds.contains("drover-pass") && !creds.contains("PRIVATE KEY"), "{creds}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_never_runs_twice_at_once_on_one_asset() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let pkg = "name = \"once\"\nversion = \"1\"\n[[steps]]\nname = \"count\"\ntype = \"command\"\ncommand = \"echo run >> /tmp/runs; sleep 3\"\n";
    server.import(pkg, &[]).await;
    let first = server.post("/deployments", json!({"package": "once", "assets": assets})).await;
    let second = server.post("/deployments", json!({"package": "once", "assets": assets})).await;
    let a = server.wait(first["deployment"]["id"].as_i64().unwrap(), Duration::from_secs(60)).await;
    let b = server.wait(second["deployment"]["id"].as_i64().unwrap(), Duration::from_secs(60)).await;
    assert_eq!(a["targets"][0]["state"], "success", "{a:#}");
    let t = &b["targets"][0];
    assert_eq!(t["state"], "cancelled", "{t:#}");
    assert_eq!(t["error_code"], "target.overlap");
    assert!(t["message"].as_str().unwrap().contains("already deploying"), "{t:#}");
    assert_eq!(fleet.sh(&fleet.hosts[0], "cat /tmp/runs"), "run");
    // once the first has ended, the package may run again
    let c = server.deploy_and_wait(json!({"package": "once", "assets": assets}), Duration::from_secs(60)).await;
    assert_eq!(c["targets"][0]["state"], "success", "{c:#}");
}
