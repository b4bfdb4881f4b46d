//! Partitions: machines that lose power or their cable mid-task, a deployer past its
//! deadline on a machine the server cannot reach, and PostgreSQL restarted mid-deployment.
//! The truth about each target is learned once its machine is back, a relaunch never
//! runs a package again where it already succeeded, and no report is lost.

use crate::fleet::{Fleet, Host, ROOT_PASSWORD};
use crate::harness::{Backend, Server, done_if, eventually};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A package whose first step takes `first_secs`, then appends a line to /root/done (so
/// a host shows how many times the package ran).
fn package(name: &str, first_secs: u64, max_secs: u64) -> String {
    format!(
        "name = \"{name}\"\nversion = \"1\"\nmax_duration_secs = {max_secs}\n\
         [[steps]]\nname = \"work\"\ntype = \"command\"\ncommand = \"sleep {first_secs}\"\n\
         [[steps]]\nname = \"mark\"\ntype = \"command\"\ncommand = \"echo ran >> /root/done\"\n"
    )
}

fn target<'a>(view: &'a Value, asset: &str) -> &'a Value {
    view["targets"].as_array().unwrap().iter().find(|t| t["asset_name"] == asset).unwrap()
}

fn runs(fleet: &Fleet, h: &Host) -> usize {
    fleet.sh(h, "cat /root/done 2>/dev/null || true").lines().filter(|l| *l == "ran").count()
}

async fn wait_running(server: &Server, id: i64, n: usize) {
    eventually("every target running", Duration::from_secs(60), async || {
        let v = server.get(&format!("/deployments/{id}")).await;
        let running = v["targets"].as_array().unwrap().iter().filter(|t| t["state"] == "running").count();
        done_if(running == n, v)
    })
    .await;
}

/// The log entry of the target of `deployment` on `asset`.
async fn log_of(server: &Server, deployment: i64, asset: &str) -> Value {
    server.log(deployment).await.into_iter().find(|e| e["asset_name"] == asset).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn power_cut_and_cable_pulled_hosts_end_with_the_truth_and_run_once() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 8).await;
    server.import(&package("part", 6, 20), &[]).await;
    let v = server.post("/deployments", json!({"package": "part", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    wait_running(&server, id, 8).await;
    // every task is in its first step before the machines are struck
    for h in &fleet.hosts {
        eventually("the first step to start", Duration::from_secs(30), async || {
            let record = fleet.sh(h, "cat /var/lib/drover/targets/*/record.jsonl 2>/dev/null || true");
            done_if(record.contains("\"step_started\""), record)
        })
        .await;
    }
    let (power, cable) = (&fleet.hosts[0..2], &fleet.hosts[2..4]);
    for h in power {
        fleet.power_off(h, 600);
    }
    for h in cable {
        fleet.run("link-down", h, &[]);
    }
    // (a cable cut while the server's start script is still answering holds that target
    // no longer than its deadline: 20 s max duration + 10 s, not the script's 60 s limit)
    let done = server.wait(id, Duration::from_secs(90)).await;
    for h in &fleet.hosts[4..] {
        assert_eq!(target(&done, &h.name)["state"], "success", "{done:#}");
    }
    for h in power.iter().chain(cable) {
        let t = target(&done, &h.name);
        // a check that reached a power-cut host between its processes' end and its
        // network's found the task gone: that outcome is known at once
        if power.iter().any(|p| p.name == h.name) && t["error_code"] == "target.task_vanished" {
            continue;
        }
        assert_eq!(t["state"], "timed_out", "{t:#}");
        assert_eq!(t["error_code"], "target.unreachable_outcome_unknown", "{t:#}");
        assert!(t["message"].as_str().unwrap().contains("not known yet"), "{t:#}");
    }

    // the cables come back after the others ended: the deployers' reports, kept and
    // retried, arrive and set the truth
    for h in cable {
        fleet.run("link-up", h, &[]);
    }
    for h in cable {
        let entry = eventually("the late reports of a cable host", Duration::from_secs(40), async || {
            let e = log_of(&server, id, &h.name).await;
            done_if(e["state"] == "success", e)
        })
        .await;
        assert_eq!(entry["error_code"], Value::Null, "{entry:#}");
        let steps: Vec<&str> = entry["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(steps, ["work", "mark"], "{entry:#}");
        let events = entry["events"].as_array().unwrap();
        assert!(
            events.iter().any(|e| e["message"].as_str().unwrap().starts_with("outcome learned at ")),
            "no log entry says when and how the outcome was learned: {entry:#}"
        );
    }

    // the power-cut hosts come back; a relaunch learns that their task died, runs them
    // only, and nothing on the hosts where it succeeded
    for h in power {
        fleet.power_on(h);
    }
    let again = server.post(&format!("/deployments/{id}/relaunch"), json!({})).await;
    let mut relaunched: Vec<&str> =
        again["targets"].as_array().unwrap().iter().map(|t| t["asset_name"].as_str().unwrap()).collect();
    relaunched.sort();
    assert_eq!(relaunched, [power[0].name.as_str(), power[1].name.as_str()], "{again:#}");
    let before = server.get(&format!("/deployments/{id}")).await;
    for h in power {
        let t = target(&before, &h.name);
        assert_eq!(t["state"], "failed", "{t:#}");
        assert_eq!(t["error_code"], "target.task_vanished", "{t:#}");
    }
    let second = server.wait(again["deployment"]["id"].as_i64().unwrap(), Duration::from_secs(60)).await;
    assert!(second["targets"].as_array().unwrap().iter().all(|t| t["state"] == "success"), "{second:#}");
    for h in &fleet.hosts {
        assert_eq!(runs(&fleet, h), 1, "host {} ran the package {} times", h.name, runs(&fleet, h));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_kept_during_a_cable_cut_arrive_when_it_is_back() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let h = &fleet.hosts[0];
    server.import(&package("cut", 4, 30), &[]).await;
    let v = server.post("/deployments", json!({"package": "cut", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    wait_running(&server, id, 1).await;
    // `running` is recorded before the task is created: cut the cable only once the
    // deployer runs its first step, or no task would exist to report anything
    eventually("the first step to start on the host", Duration::from_secs(20), async || {
        let record = fleet.sh(h, "cat /var/lib/drover/targets/*/record.jsonl 2>/dev/null || true");
        done_if(record.contains("step_started"), record)
    })
    .await;
    fleet.run("link-down", h, &[]);
    // the task ends while the cable is out: its reports wait on the host
    eventually("the task to end on the host", Duration::from_secs(20), async || {
        let record = fleet.sh(h, "cat /var/lib/drover/targets/*/record.jsonl 2>/dev/null || true");
        done_if(record.contains("\"finished\""), record)
    })
    .await;
    let cut = server.get(&format!("/deployments/{id}")).await;
    assert_eq!(cut["targets"][0]["state"], "running", "{cut:#}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    fleet.run("link-up", h, &[]);
    let done = server.wait(id, Duration::from_secs(40)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "success", "{t:#}");
    let entry = log_of(&server, id, &h.name).await;
    assert_eq!(entry["steps"].as_array().unwrap().len(), 2, "{entry:#}");
    assert_eq!(runs(&fleet, h), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_task_is_stopped_by_its_deployer_at_the_deadline() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let h = &fleet.hosts[0];
    let pkg = "name = \"long\"\nversion = \"1\"\nmax_duration_secs = 6\n[[steps]]\nname = \"hang\"\ntype = \"command\"\n\
               command = \"echo $$ > /root/step.pid; exec sleep 300\"\n";
    server.import(pkg, &[]).await;
    let v = server.post("/deployments", json!({"package": "long", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    let started = Instant::now();
    wait_running(&server, id, 1).await;
    eventually("the step to start", Duration::from_secs(20), async || {
        let pid = fleet.sh(h, "cat /root/step.pid 2>/dev/null || true");
        done_if(!pid.trim().is_empty(), pid)
    })
    .await;
    fleet.run("link-down", h, &[]);
    let record = eventually("the deployer's own timeout", Duration::from_secs(20), async || {
        let record = fleet.sh(h, "cat /var/lib/drover/targets/*/record.jsonl 2>/dev/null || true");
        done_if(record.contains("\"timed_out\""), record)
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(15), "stopped only after {:?}", started.elapsed());
    assert!(record.contains("max duration"), "{record}");
    let (gone, out) = fleet.exec(h, "kill -0 $(cat /root/step.pid)");
    assert_ne!(gone, 0, "the step's process still runs past the deadline: {out}");
    // the server could not reach it at its own deadline: outcome unknown, then learned.
    // The server ends it after max duration (6 s) + its grace (10 s) + a failed attempt to
    // reach the machine (connect timeout 15 s): about 31 s from the start, so 60 s.
    let ended = server.wait(id, Duration::from_secs(60)).await;
    assert_eq!(ended["targets"][0]["error_code"], "target.unreachable_outcome_unknown", "{ended:#}");
    fleet.run("link-up", h, &[]);
    let t = eventually("the late timed-out report", Duration::from_secs(30), async || {
        let v = server.get(&format!("/deployments/{id}")).await;
        done_if(v["targets"][0]["error_code"] == "target.max_duration", v["targets"][0].clone())
    })
    .await;
    assert_eq!(t["state"], "timed_out", "{t:#}");
}

/// A PostgreSQL of this test's own (others share the usual one): its data directory
/// and admin URL.
fn own_postgres() -> (String, String) {
    let dir = "/var/tmp/drover-pg-partitions".to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-test-server");
    let out = std::process::Command::new(script)
        .env("DROVER_PG_DIR", &dir)
        .env("DROVER_PG_PORT", "55439")
        .output()
        .expect("run scripts/pg-test-server");
    assert!(out.status.success(), "pg-test-server: {}", String::from_utf8_lossy(&out.stderr));
    (dir, String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn restart_postgres(dir: &str) {
    let version = std::fs::read_to_string(format!("{dir}/PG_VERSION")).unwrap();
    let pg_ctl = format!("/usr/lib/postgresql/{}/bin/pg_ctl", version.trim());
    let out = std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", &pg_ctl, "-D", dir, "-m", "fast", "-w", "restart", "-l"])
        .arg(format!("{dir}/server.log"))
        .current_dir("/")
        .output()
        .expect("pg_ctl restart");
    assert!(out.status.success(), "pg_ctl restart: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_mid_deployment_loses_nothing() {
    let (dir, admin) = own_postgres();
    sqlx::any::install_default_drivers();
    let name = format!("drover_part_{:016x}", rand::random::<u64>());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    drop(conn);
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);

    let fleet = Fleet::up(10);
    let server = Server::start_node(&url, None, |_| {}).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = server.assets(&fleet, "root").await;
    server.import(&package("pg", 3, 60), &[]).await;
    let v = server.post("/deployments", json!({"package": "pg", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    wait_running(&server, id, 10).await;
    restart_postgres(&dir);
    // meanwhile the API says what is wrong, or answers (the restart is quick)
    let (status, body) = server.call(reqwest::Method::GET, &format!("/deployments/{id}"), None).await;
    assert!(status == 200 || (status == 503 && body["code"] == "unavailable"), "{status}: {body}");
    let done = server.wait(id, Duration::from_secs(90)).await;
    for t in done["targets"].as_array().unwrap() {
        assert_eq!(t["state"], "success", "{t:#}");
    }
    for e in server.log(id).await {
        let steps: Vec<&str> = e["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(steps, ["work", "mark"], "{e:#}");
    }
    for h in &fleet.hosts {
        assert_eq!(runs(&fleet, h), 1, "{}", h.name);
    }
}
