//! A reboot step in the middle of a package: the host restarts (the fleet's plain hosts
//! restart their processes and sshd, systemd hosts their whole container), the server
//! waits for it, and the rest of the package runs after it, once.

use crate::fleet::{Fleet, Host, ROOT_PASSWORD};
use crate::harness::{Backend, Server, done_if, eventually};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

/// Where the halves write: /var/lib persists across a host's restart.
const HALVES: &str = "/var/lib/drover-test/halves";

fn halves(name: &str, max_secs: u64) -> String {
    format!(
        r#"
name = "{name}"
version = "1"
run_mode = "system"
max_duration_secs = {max_secs}

[[steps]]
name = "first half"
type = "command"
command = "mkdir -p /var/lib/drover-test && echo one >> {HALVES}"

[[steps]]
name = "reboot"
type = "reboot"

[[steps]]
name = "second half"
type = "command"
command = "echo two >> {HALVES}"
"#
    )
}

fn messages(log: &[Value]) -> Vec<String> {
    log[0]["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
}

/// What identifies a host's boot: its kernel boot id and its SSH server's pid.
fn boot(fleet: &Fleet, h: &Host) -> String {
    fleet.sh(h, BOOT)
}

const BOOT: &str = "echo $(cat /proc/sys/kernel/random/boot_id) $(pgrep -o -x sshd)";

/// Deploys the halves package to `asset` on `h` and checks that both halves ran once
/// each, the host restarted in between, and the log shows the reboot between them.
async fn both_halves_run_once(fleet: &Fleet, server: &Server, h: &Host, asset: &str, package: &str) {
    let before = boot(fleet, h);
    let done = server.deploy_and_wait(json!({"package": package, "assets": [asset]}), WAIT).await;
    let id = done["deployment"]["id"].as_i64().unwrap();
    let log = server.log(id).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}\n{:#?}", messages(&log));
    assert_eq!(fleet.sh(h, &format!("cat {HALVES}")), "one\ntwo", "each half once, in order");
    assert_ne!(boot(fleet, h), before, "{} restarted", h.name);

    let steps: Vec<String> =
        log[0]["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(steps, ["first half", "reboot", "second half"], "each step once");
    let states: Vec<&str> = log[0]["events"].as_array().unwrap().iter().map(|e| e["state"].as_str().unwrap()).collect();
    let m = messages(&log);
    let rebooting = states.iter().position(|s| *s == "rebooting").unwrap_or_else(|| panic!("no reboot: {m:?}"));
    assert!(m[rebooting].starts_with("rebooting after step 2 'reboot'"), "{m:?}");
    let resumed = m.iter().position(|m| m.contains("restarted: the package goes on at step 3"));
    assert!(resumed.is_some_and(|r| r > rebooting && states[r] == "running"), "resumed after the reboot: {m:?}");
    assert_eq!(states.last(), Some(&"success"), "{m:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reboot_step_restarts_the_host_and_the_rest_runs_after_it() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    assert_eq!(server.import(&halves("halves", 60), &[]).await.0, 200);
    both_halves_run_once(&fleet, &server, &fleet.hosts[0], &assets[0], "halves").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_does_not_come_back_ends_the_target() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Postgres, 1).await;
    let h = &fleet.hosts[0];
    assert_eq!(server.import(&halves("no-return", 12), &[]).await.0, 200);
    let v = server.post("/deployments", json!({"package": "no-return", "assets": [&assets[0]]})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    // once it reboots, the host's cable is cut: it never answers again
    eventually("the target rebooting", WAIT, async || {
        let v = server.get(&format!("/deployments/{id}")).await;
        done_if(v["targets"][0]["state"] == "rebooting", v)
    })
    .await;
    fleet.run("link-down", h, &[]);
    let done = server.wait(id, WAIT).await;
    fleet.run("link-up", h, &[]);
    let t = &done["targets"][0];
    let m = messages(&server.log(id).await);
    assert_eq!(
        (t["state"].as_str(), t["error_code"].as_str()),
        (Some("timed_out"), Some("target.reboot_not_back")),
        "{t}\n{m:?}"
    );
    assert!(t["message"].as_str().unwrap().contains("did not come back restarted"), "{t}");
    assert_eq!(fleet.sh(h, &format!("cat {HALVES}")), "one", "the second half did not run");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_ends_the_wait_for_the_reboot() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let h = &fleet.hosts[0];
    // the reboot comes 4 s after the step: the cancel comes first
    let pkg = halves("halves", 60).replace("type = \"reboot\"", "type = \"reboot\"\ndelay_secs = 4");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let v = server.post("/deployments", json!({"package": "halves", "assets": [&assets[0]]})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    eventually("the target rebooting", WAIT, async || {
        let v = server.get(&format!("/deployments/{id}")).await;
        done_if(v["targets"][0]["state"] == "rebooting", v)
    })
    .await;
    let before = boot(&fleet, h);
    let c = server.post(&format!("/deployments/{id}/cancel"), json!({})).await;
    assert_eq!(c["cancelled"], 1, "{c}");
    let done = server.wait(id, Duration::from_secs(10)).await;
    assert_eq!(done["targets"][0]["state"], "cancelled", "{done:#}");
    // the machine restarts, and nothing of the package runs after it
    eventually("h0 restarting", Duration::from_secs(30), async || {
        // a look that the reboot itself ends (it kills every process of the host) is no answer
        let (code, now) = fleet.exec(h, BOOT);
        done_if(code == 0 && now.trim() != before, now)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fleet.sh(h, &format!("cat {HALVES}")), "one", "the second half did not run");
    let m = messages(&server.log(id).await);
    assert!(!m.iter().any(|m| m.contains("the package goes on at step 3;")), "not created again: {m:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_systemd_host_reboots_and_the_rest_runs_after_it() {
    let fleet = Fleet::up_releases("systemd:1");
    let h = &fleet.hosts[0];
    let server = Server::start(Backend::Postgres).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let asset = server.assets(&fleet, "root").await.remove(0);
    assert_eq!(server.import(&halves("halves", 100), &[]).await.0, 200);
    both_halves_run_once(&fleet, &server, h, &asset, "halves").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_restarted_during_the_reboot_waits_for_it_again() {
    use crate::restart::{kill, serve, start, up};
    let fleet = Fleet::up(1);
    let h = &fleet.hosts[0];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, api, port) = start(&data, 4).await;
    api.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = api.assets(&fleet, "root").await;
    // the reboot happens 5 s after the step reports it: the server is killed meanwhile
    let pkg = halves("halves", 60).replace("type = \"reboot\"", "type = \"reboot\"\ndelay_secs = 5");
    assert_eq!(api.import(&pkg, &[]).await.0, 200);
    let v = api.post("/deployments", json!({"package": "halves", "assets": &assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    eventually("the target rebooting", WAIT, async || {
        let v = api.get(&format!("/deployments/{id}")).await;
        done_if(v["targets"][0]["state"] == "rebooting", v)
    })
    .await;
    let before = boot(&fleet, h);
    kill(server);
    let _server = serve(&data, port, 4);
    up(&api.url, &data).await;
    let done = api.wait(id, WAIT).await;
    let m = messages(&api.log(id).await);
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}\n{m:?}");
    assert_eq!(fleet.sh(h, &format!("cat {HALVES}")), "one\ntwo", "each half once, in order");
    assert_ne!(boot(&fleet, h), before, "{} restarted", h.name);
    assert!(m.iter().any(|m| m.starts_with("the server restarted while asset")), "{m:?}");
}
