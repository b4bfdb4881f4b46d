//! What happens after a successful target: the rescan and the package's final action
//! (reboot, shutdown, log off), on test hosts whose power commands are recorded.

use crate::harness::{Backend, Server};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn package(name: &str, command: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"1\"\n{extra}\n[[steps]]\nname = \"work\"\ntype = \"command\"\ncommand = \"{command}\"\n"
    )
}

/// Waits until `check` holds, at most 20 s.
fn wait_for(what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(20), "{what} did not happen");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn messages(log: &[Value]) -> Vec<String> {
    log[0]["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn rescan_and_final_actions_follow_a_success() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 3).await;
    let h = &fleet.hosts;
    let wait = Duration::from_secs(60);

    // reboot after a delay, with a rescan first
    let pkg =
        package("rebooting", "true", "rescan_after = true\nfinal_action = { action = \"reboot\", delay_secs = 1 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    fleet.sh(&h[0], "setsid sleep 1000 </dev/null >/dev/null 2>&1 &");
    let done = server.deploy_and_wait(json!({"package": "rebooting", "assets": [&assets[0]]}), wait).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    // both are logged just after the target ends
    let id = done["deployment"]["id"].as_i64().unwrap();
    let start = Instant::now();
    let m = loop {
        let m = messages(&server.log(id).await);
        if m.iter().any(|m| m.starts_with("final action")) || start.elapsed() > Duration::from_secs(20) {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rescan = m.iter().position(|m| m.starts_with("rescanned: host name ") && m.contains(&h[0].name));
    let action = m.iter().position(|m| m == "final action: reboot in 1 s");
    assert!(rescan.is_some() && rescan < action, "the rescan, then the final action: {m:?}");
    wait_for("h0's reboot", || fleet.power_log(&h[0]).contains("reboot"));
    wait_for("the end of processes at reboot", || fleet.exec(&h[0], "pgrep -f 'sleep 100[0]'").0 != 0);

    // a failed package: no final action
    let pkg = package("failing", "exit 3", "final_action = { action = \"shutdown\", delay_secs = 0 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "failing", "assets": [&assets[1]]}), wait).await;
    assert_eq!(done["targets"][0]["state"], "failed", "{done:#}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fleet.power_log(&h[1]), "", "a failed package must not shut the machine down");

    // shutdown: the machine goes off
    let pkg = package("stopping", "true", "final_action = { action = \"shutdown\", delay_secs = 0 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "stopping", "assets": [&assets[1]]}), wait).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    wait_for("the shutdown", || fleet.power_log(&h[1]).contains("poweroff"));
    wait_for("the SSH port closing", || !drover_ssh_port_open(&h[1].ip));

    // log off: the logged-on user's session ends
    fleet.run("login", &h[2], &["alice"]);
    assert_eq!(fleet.exec(&h[2], "pgrep -u alice").0, 0, "alice has a session");
    let pkg = package("logoff", "true", "final_action = { action = \"logoff\", delay_secs = 0 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "logoff", "assets": [&assets[2]]}), wait).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    wait_for("alice's log-off", || fleet.exec(&h[2], "pgrep -u alice").0 != 0);
}

fn drover_ssh_port_open(ip: &str) -> bool {
    let addr: std::net::SocketAddr = format!("{ip}:22").parse().unwrap();
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}
