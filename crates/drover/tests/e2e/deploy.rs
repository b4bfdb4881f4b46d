//! The main path: a package that copies a file from the share, runs a command and checks
//! a condition, deployed to five hosts, on both backends.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server, sha256};
use serde_json::json;
use std::time::Duration;

pub const CONF: &[u8] = b"# deployed by drover\nanswer = 42\n";

pub fn hello_package(extra_steps: &str) -> String {
    format!(
        r#"
name = "hello"
version = "1.0"
max_duration_secs = 120

[[steps]]
name = "copy config"
type = "file-copy"
source = "{{PackageShare}}/conf/hello.conf"
destination = "/etc/drover-hello.conf"
mode = "0640"

[[steps]]
name = "write marker"
type = "command"
command = "echo deployed > /tmp/hello-marker && id -un"

[[steps]]
name = "check"
type = "condition"
criteria = [
  {{ check = "file-hash", path = "/etc/drover-hello.conf", sha256 = "{}" }},
  {{ check = "file-exists", path = "/tmp/hello-marker" }},
]
{extra_steps}
"#,
        sha256(CONF)
    )
}

async fn three_steps_on_five_hosts(backend: Backend) {
    let fleet = Fleet::up(5);
    let server = Server::start(backend).await;
    let cred = server.credential("root-pw", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = server.assets(&fleet, &cred).await;
    let (status, pkg) = server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    assert_eq!(status, 200, "{pkg}");

    let done = server.deploy_and_wait(json!({"package": "hello", "assets": assets}), Duration::from_secs(120)).await;
    for t in done["targets"].as_array().unwrap() {
        assert_eq!(t["state"], "success", "{t:#}");
    }
    let want = sha256(CONF);
    for h in &fleet.hosts {
        let got = fleet.sh(h, "sha256sum /etc/drover-hello.conf | cut -d' ' -f1");
        assert_eq!(got, want, "file on {}", h.name);
        assert_eq!(fleet.sh(h, "stat -c '%a %U' /etc/drover-hello.conf"), "640 root");
        // the job (with its tokens) is gone; the record stays
        assert_eq!(
            fleet.sh(h, "ls /var/lib/drover/targets/*/ | sort | tr '\\n' ' '").trim(),
            "deployer.log record.jsonl steps"
        );
    }
    let id = done["deployment"]["id"].as_i64().unwrap();
    let log = server.log(id).await;
    assert_eq!(log.len(), 5);
    for e in &log {
        let steps = e["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 3, "{e:#}");
        let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["copy config", "write marker", "check"]);
        assert!(steps.iter().all(|s| s["exit_code"] == 0 && s["success"] == true), "{e:#}");
        assert_eq!(steps[1]["output_tail"].as_str().unwrap().trim(), "root");
        assert_eq!(e["last_step"], "check");
        assert_eq!(e["return_code"], 0);
        assert_eq!(e["run_mode"], "system");
        assert_eq!(e["executor"], "user:admin");
        assert_eq!(e["server"], "test-node");
        assert_eq!(e["credential"], "root-pw");
        assert_eq!(e["package_name"], "hello");
        assert!(e["deployer_version"].as_str().is_some_and(|v| !v.is_empty()), "{e:#}");
        let states: Vec<&str> = e["events"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["queued", "connecting", "running", "success"]);
    }
    // the first connection pinned the host key and recorded facts
    let a = server.get(&format!("/assets/{}", fleet.hosts[0].name)).await;
    assert!(a["host_key_fingerprint"].as_str().unwrap().starts_with("SHA256:"), "{a:#}");
    assert_eq!(a["macs"], json!([fleet.hosts[0].mac]));
    assert_eq!(a["arch"], std::env::consts::ARCH);
    assert_eq!(a["hostname"], fleet.hosts[0].name.as_str());

    // a second deployment reuses the deployer already there
    let again =
        server.deploy_and_wait(json!({"package": "hello", "assets": [assets[0]]}), Duration::from_secs(60)).await;
    assert_eq!(again["targets"][0]["state"], "success");
    assert_eq!(fleet.sh(&fleet.hosts[0], "ls /var/lib/drover/bin | wc -l"), "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_steps_on_five_hosts_sqlite() {
    three_steps_on_five_hosts(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_steps_on_five_hosts_postgres() {
    three_steps_on_five_hosts(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_step_follows_on_failure() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let pkg = r#"
name = "branchy"
version = "1"
[[steps]]
name = "fails with 3"
type = "command"
command = "echo about to fail; exit 3"
success_codes = [0, 1]
on_failure = "goto 3"
[[steps]]
name = "skipped"
type = "command"
command = "touch /tmp/skipped"
[[steps]]
name = "recover"
type = "command"
command = "touch /tmp/recovered; exit 7"
success_codes = [7]
on_success = "stop-success"
[[steps]]
name = "never"
type = "command"
command = "touch /tmp/never"
"#;
    let (status, v) = server.import(pkg, &[]).await;
    assert_eq!(status, 200, "{v}");
    let done = server.deploy_and_wait(json!({"package": "branchy", "assets": assets}), Duration::from_secs(60)).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    let h = &fleet.hosts[0];
    assert_eq!(
        fleet.sh(h, "ls /tmp/recovered /tmp/skipped /tmp/never 2>/dev/null | tr '\\n' ' '").trim(),
        "/tmp/recovered"
    );
    let log = server.log(done["deployment"]["id"].as_i64().unwrap()).await;
    let steps = log[0]["steps"].as_array().unwrap();
    let got: Vec<(String, i64, bool)> = steps
        .iter()
        .map(|s| {
            (s["name"].as_str().unwrap().to_string(), s["exit_code"].as_i64().unwrap(), s["success"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(got, [("fails with 3".into(), 3, false), ("recover".into(), 7, true)]);
    assert!(steps[0]["output_tail"].as_str().unwrap().contains("about to fail"));
    assert_eq!(log[0]["return_code"], 7);
    assert_eq!(log[0]["last_step"], "recover");
}

#[tokio::test(flavor = "multi_thread")]
async fn bundle_export_round_trips_and_bad_packages_store_nothing() {
    let server = Server::start(Backend::Sqlite).await;
    let bad = hello_package("").replace("\"check\"\ntype", "\"check\"\non_failure = \"goto 9\"\ntype");
    let (status, v) = server.import(&bad, &[("conf/hello.conf", CONF)]).await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("step 3 'check': on_failure goes to step 9, but the package has 3 steps"),
        "{v}"
    );
    let (status, v) = server.import(&hello_package(""), &[]).await;
    assert_eq!(status, 422);
    assert!(v["error"].as_str().unwrap().contains("'conf/hello.conf', which the package does not contain"), "{v}");
    let (status, v) = server.import("name = \"x\"\nversion = [\n", &[]).await;
    assert_eq!(status, 422);
    assert!(v["error"].as_str().unwrap().contains("line 2"), "{v}");
    assert_eq!(server.get("/packages").await, json!([]));
    let share_files = walk(&server.data.path().join("share"));
    assert!(share_files.is_empty(), "nothing stored on the share: {share_files:?}");

    let (status, v) = server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    assert_eq!(status, 200, "{v}");
    let (status, dup) = server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    assert_eq!(status, 409, "{dup}");
    let resp = server
        .http
        .get(format!("{}/api/v1/packages/hello/bundle", server.url))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let other = Server::start(Backend::Sqlite).await;
    let resp = other
        .http
        .post(format!("{}/api/v1/packages", other.url))
        .bearer_auth(&other.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let a = server.get("/packages/hello").await;
    let b = other.get("/packages/hello").await;
    assert_eq!(a["steps"], b["steps"]);
    assert_eq!(a["files"], b["files"]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_deleted_after_the_retention() {
    let (_fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let done = server.deploy_and_wait(json!({"package": "hello", "assets": assets}), Duration::from_secs(60)).await;
    let id = done["deployment"]["id"].as_i64().unwrap();
    let now = drover_engine::now_ms();
    assert_eq!(server.engine.prune_logs(now).await.unwrap(), 0, "a fresh log stays");
    assert_eq!(server.log(id).await.len(), 1);
    let day = 24 * 3600 * 1000;
    assert_eq!(server.engine.prune_logs(now + 91 * day).await.unwrap(), 1, "the default keeps 90 days");
    assert!(server.log(id).await.is_empty());
    let (status, _) = server.call(reqwest::Method::GET, &format!("/deployments/{id}"), None).await;
    assert_eq!(status, 404);
}
