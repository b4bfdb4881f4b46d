//! What happens after a successful target: the rescan and the package's final action
//! (reboot, shutdown, log off), on test hosts whose power commands are recorded.

use crate::harness::{Backend, Server, done_if, eventually};
use serde_json::{Value, json};
use std::time::Duration;

fn package(name: &str, command: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"1\"\n{extra}\n[[steps]]\nname = \"work\"\ntype = \"command\"\ncommand = \"{command}\"\n"
    )
}

fn messages(log: &[Value]) -> Vec<String> {
    log[0]["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn rescan_and_final_actions_follow_a_success() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 3).await;
    let h = &fleet.hosts;
    let wait = Duration::from_secs(60);
    // what happens on a host after its target ended
    let soon = Duration::from_secs(20);

    // reboot after a delay, with a rescan first
    let pkg =
        package("rebooting", "true", "rescan_after = true\nfinal_action = { action = \"reboot\", delay_secs = 1 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    fleet.sh(&h[0], "setsid sleep 1000 </dev/null >/dev/null 2>&1 &");
    let done = server.deploy_and_wait(json!({"package": "rebooting", "assets": [&assets[0]]}), wait).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    // both are logged just after the target ends
    let id = done["deployment"]["id"].as_i64().unwrap();
    let m = eventually("the final action in the log", soon, async || {
        let m = messages(&server.log(id).await);
        if m.iter().any(|m| m.starts_with("final action")) { Ok(m) } else { Err(format!("{m:?}")) }
    })
    .await;
    let rescan = m.iter().position(|m| m.starts_with("rescanned: host name ") && m.contains(&h[0].name));
    let action = m.iter().position(|m| m == "final action: reboot in 1 s");
    assert!(rescan.is_some() && rescan < action, "the rescan, then the final action: {m:?}");
    eventually("h0's reboot in its power log", soon, async || {
        let log = fleet.power_log(&h[0]);
        done_if(log.contains("reboot"), log)
    })
    .await;
    eventually("the end of h0's processes at reboot", soon, async || {
        let (code, out) = fleet.exec(&h[0], "pgrep -af 'sleep 100[0]'");
        done_if(code != 0, out)
    })
    .await;

    // a failed package: no final action
    let pkg = package("failing", "exit 3", "final_action = { action = \"shutdown\", delay_secs = 0 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "failing", "assets": [&assets[1]]}), wait).await;
    assert_eq!(done["targets"][0]["state"], "failed", "{done:#}");
    assert_eq!(fleet.power_log(&h[1]), "", "a failed package must not shut the machine down");

    // shutdown: the machine goes off
    let pkg = package("stopping", "true", "final_action = { action = \"shutdown\", delay_secs = 0 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "stopping", "assets": [&assets[1]]}), wait).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    let power = eventually("h1's shutdown in its power log", soon, async || {
        let log = fleet.power_log(&h[1]);
        done_if(log.contains("poweroff"), log)
    })
    .await;
    // The failed package's target ended before this deployment began, and a final action
    // starts as its target ends: a shutdown for the failed one would have logged its line
    // by now, a whole deployment later (and h1 would have been off for this one).
    assert_eq!(power.lines().count(), 1, "only this package's shutdown, not the failed one's: {power}");
    eventually("h1's SSH port closing", soon, async || done_if(!drover_ssh_port_open(&h[1].ip), "still open")).await;

    // log off: the logged-on user's session ends
    fleet.run("login", &h[2], &["alice"]);
    assert_eq!(fleet.exec(&h[2], "pgrep -u alice").0, 0, "alice has a session");
    let pkg = package("logoff", "true", "final_action = { action = \"logoff\", delay_secs = 0 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "logoff", "assets": [&assets[2]]}), wait).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    eventually("alice's log-off", soon, async || {
        let (code, out) = fleet.exec(&h[2], "pgrep -au alice");
        done_if(code != 0, out)
    })
    .await;
}

fn drover_ssh_port_open(ip: &str) -> bool {
    let addr: std::net::SocketAddr = format!("{ip}:22").parse().unwrap();
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}
