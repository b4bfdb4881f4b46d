//! A local user of a target against the root-run parts of drover: in logged-on-user mode
//! the work directory is theirs, yet links and a forged pid they plant there make root
//! neither read another file for the server nor kill another process; and an SSH session
//! is not a logged-on user.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server, done_if, eventually};
use drover_proto::{Event, Report, StepResult};
use serde_json::json;
use std::time::Duration;

/// Run as the logged-on user (alice), in the work directory: a link from the record to a
/// root-only file (shaped like a record, so a server that read it would show it), one
/// from the deployer's log to /etc/shadow, and the pid of a root process that looks like
/// a deployer in the pid file; then the task keeps running.
const PLANT: &str = r#"
name = "plant"
version = "1"
run_mode = "logged-on-user"
max_duration_secs = 300
[[steps]]
name = "plant"
type = "command"
command = "test -f job.json && ln -sf /root/secret.jsonl record.jsonl && ln -sf /etc/shadow deployer.log && cat /tmp/decoy.pid > pid && echo planted by $(id -un)"
[[steps]]
name = "wait"
type = "command"
command = "sleep 120"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_logged_on_user_cannot_make_root_read_or_kill_for_them() {
    let fleet = Fleet::up(1);
    let host = &fleet.hosts[0];
    let server = Server::start_with(Backend::Sqlite, |c| c.liveness_interval = Duration::from_secs(1)).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server.post("/assets", json!({"name": host.name, "address": host.ip, "credential": "root"})).await;
    let stolen = Report {
        target_id: 1,
        seq: 900,
        at_unix_ms: 1,
        event: Event::StepFinished(StepResult {
            index: 0,
            name: "stolen".into(),
            exit_code: Some(0),
            success: true,
            duration_ms: 1,
            output_tail: "ROOT-SECRET".into(),
            message: String::new(),
        }),
    };
    let line = serde_json::to_string(&stolen).unwrap();
    fleet.sh(host, &format!("umask 077; printf '%s\\n' '{line}' > /root/secret.jsonl"));
    // a root process whose command line names drover-deployer, in a group of its own
    fleet.sh(
        host,
        "(setsid bash -c 'exec -a drover-deployer sleep 600' </dev/null >/dev/null 2>&1 & echo $! > /tmp/decoy.pid)",
    );
    fleet.sh(host, "chmod 644 /tmp/decoy.pid; test -d /proc/$(cat /tmp/decoy.pid)");
    fleet.run("login", host, &["alice"]);
    let (status, v) = server.import(PLANT, &[]).await;
    assert_eq!(status, 200, "{v}");

    let v = server.post("/deployments", json!({"package": "plant", "assets": [host.name]})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    let log = eventually("the plant step to be reported", Duration::from_secs(60), async || {
        let log = serde_json::Value::Array(server.log(id).await);
        let steps = log[0]["steps"].as_array().cloned().unwrap_or_default();
        done_if(!steps.is_empty(), log)
    })
    .await;
    let plant = &log[0]["steps"][0];
    assert_eq!(plant["success"], true, "{log:#?}");
    assert!(plant["output_tail"].as_str().unwrap().contains("planted by alice"), "{plant}");
    // several liveness checks (every second) collect the record while the links are there
    tokio::time::sleep(Duration::from_secs(4)).await;
    let c = server.post(&format!("/deployments/{id}/cancel"), json!({})).await;
    assert_eq!(c["cancelled"], 1, "{c}");
    let done = server.wait(id, Duration::from_secs(30)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "cancelled", "{t:#}");

    let log = serde_json::to_string(&server.log(id).await).unwrap();
    assert!(!log.contains("ROOT-SECRET") && !log.contains("stolen"), "root read the link for the server: {log}");
    let shadow_root = fleet.sh(host, "cut -d: -f2 /etc/shadow | head -1");
    assert!(shadow_root.len() < 2 || !log.contains(&shadow_root), "shadow's content reached the server: {log}");
    // the forged pid's root process lives; the real task was killed all the same
    let (code, _) = fleet.exec(host, "kill -0 $(cat /tmp/decoy.pid)");
    assert_eq!(code, 0, "the root process named in the forged pid file was killed");
    let left = fleet.exec(host, "pgrep -af '[d]rover-deployer-.* run'; pgrep -af '^sleep 120'").1;
    assert!(left.trim().is_empty(), "the task still runs: {left}");
    assert!(t["message"].as_str().unwrap().contains("killed"), "{t:#}");
    // root's files are as they were
    assert_eq!(fleet.sh(host, "stat -c '%U %a' /root/secret.jsonl /etc/shadow"), "root 600\nroot 640");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ssh_session_is_not_a_logged_on_user() {
    let fleet = Fleet::up(1);
    let host = &fleet.hosts[0];
    let server = Server::start(Backend::Sqlite).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server.post("/assets", json!({"name": host.name, "address": host.ip, "credential": "root"})).await;
    let pkg = "name = \"who\"\nversion = \"1\"\nrun_mode = \"logged-on-user\"\n[[steps]]\nname = \"who\"\ntype = \"command\"\ncommand = \"id -un > /tmp/ran-as\"\n";
    server.import(pkg, &[]).await;
    let deploy = async || {
        let v = server.deploy_and_wait(json!({"package": "who", "assets": [host.name]}), Duration::from_secs(60)).await;
        v["targets"][0].clone()
    };
    // only alice over SSH: nobody is logged on, and nothing runs
    fleet.run("login", host, &["alice", "--ssh"]);
    assert!(fleet.sh(host, "who").contains("pts/7"), "an SSH-like utmp line");
    let t = deploy().await;
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "target.nobody_logged_on");
    let m = t["message"].as_str().unwrap();
    assert!(
        m.contains("nobody is logged on") && m.contains("an SSH session does not count") && m.contains("alice"),
        "{m}"
    );
    assert_eq!(fleet.exec(host, "test -e /tmp/ran-as").0, 1);
    // ops at the console: ops, not the SSH user listed first
    fleet.run("login", host, &["ops"]);
    let t = deploy().await;
    assert_eq!(t["state"], "success", "{t:#}");
    assert_eq!(fleet.sh(host, "cat /tmp/ran-as"), "ops");
}
