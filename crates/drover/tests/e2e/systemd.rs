//! Targets that run systemd: test hosts whose PID 1 is systemd (`testfleet/fleet --release
//! systemd`, booted by systemd-nspawn), so the task is a `systemd-run` unit, a log-off goes
//! through logind and a reboot restarts the host's systemd for real.

use crate::fleet::{Fleet, Host, ROOT_PASSWORD};
use crate::harness::{Backend, Server, done_if, eventually};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);
/// What happens on a host after its target ended (a final action).
const SOON: Duration = Duration::from_secs(30);

/// One systemd host, a server, a root credential and the host's asset.
async fn systemd_host(backend: Backend) -> (Fleet, Server, String) {
    let fleet = Fleet::up_releases("systemd:1");
    let h = &fleet.hosts[0];
    assert!(h.release.ends_with("-systemd"), "{}: release {}", h.name, h.release);
    // what drover's facts script looks for, and PID 1 is systemd itself
    assert_eq!(fleet.sh(h, "ps -p 1 -o comm="), "systemd");
    fleet.sh(h, "test -d /run/systemd/system && command -v systemd-run && command -v loginctl");
    let state = fleet.sh(h, "systemctl is-system-running || true");
    assert!(state == "running" || state == "degraded", "systemd on {}: {state}", h.name);
    let server = Server::start(backend).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let asset = server.assets(&fleet, "root").await.remove(0);
    (fleet, server, asset)
}

fn messages(log: &[Value]) -> Vec<String> {
    log[0]["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
}

fn package(name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"1\"\nrun_mode = \"system\"\n{extra}\n[[steps]]\nname = \"work\"\ntype = \"command\"\ncommand = \"true\"\n"
    )
}

const UNDER_SYSTEMD: &str = r#"
name = "under-systemd"
version = "1"
run_mode = "system"

[[steps]]
name = "cgroup"
type = "command"
command = "mkdir -p /var/lib/drover-test && cat /proc/self/cgroup > /var/lib/drover-test/cgroup"

[[steps]]
name = "invocation"
type = "command"
command = "test -n \"$INVOCATION_ID\" && echo \"invocation=$INVOCATION_ID parent=$(cat /proc/$PPID/comm)\""
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_root_task_is_a_systemd_run_unit() {
    let (fleet, server, asset) = systemd_host(Backend::Postgres).await;
    let h = &fleet.hosts[0];
    let (status, v) = server.import(UNDER_SYSTEMD, &[]).await;
    assert_eq!(status, 200, "{v}");
    let done = server.deploy_and_wait(json!({"package": "under-systemd", "assets": [&asset]}), WAIT).await;
    let target = &done["targets"][0];
    assert_eq!(target["state"], "success", "{done:#}");
    let unit = format!("drover-target-{}.service", target["id"].as_i64().unwrap());

    // the steps ran in the unit's cgroup, the deployer being its main process
    let cgroup = fleet.sh(h, "cat /var/lib/drover-test/cgroup");
    assert!(cgroup.lines().any(|l| l.ends_with(&format!("/system.slice/{unit}"))), "not in {unit}: {cgroup}");
    let id = done["deployment"]["id"].as_i64().unwrap();
    let log = server.log(id).await;
    let m = messages(&log);
    // (the launcher is in the server's log; the cgroup above proves it was systemd-run)
    assert!(m.iter().any(|m| m.contains("creating the task as root")), "the account in the log: {m:?}");
    let steps = log[0]["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["success"] == true && s["exit_code"] == 0), "{:#}", log[0]);
    let out = steps[1]["output_tail"].as_str().unwrap_or_default().trim().to_string();
    let invocation = out
        .strip_prefix("invocation=")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no invocation id (systemd sets one per unit run): {out}"));
    // systemd's journal has that run of the unit: the same invocation, the same unit
    let journal = fleet.sh(h, &format!("journalctl --no-pager -o cat INVOCATION_ID={invocation}"));
    assert!(journal.contains(&format!("Started {unit}")), "journal of {unit} ({invocation}): {journal}");
    // --collect: the unit is gone once the task ended
    eventually("the unit to be collected", SOON, async || {
        let (code, out) = fleet.exec(h, &format!("systemctl is-active {unit}"));
        done_if(code != 0, out)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn log_off_ends_the_logind_session() {
    let (fleet, server, asset) = systemd_host(Backend::Sqlite).await;
    let h = &fleet.hosts[0];
    // a real SSH session with a terminal: in utmp (`who`) and logind's through PAM
    fleet.run("login", h, &["alice"]);
    assert!(fleet.sh(h, "who").contains("alice"), "alice in utmp");
    assert!(sessions(&fleet, h).contains("alice"), "alice has a logind session");
    let cursor = fleet.sh(h, "journalctl --show-cursor -n 0 -q | sed -n 's/^-- cursor: //p'");

    let pkg = package("logoff", "final_action = { action = \"logoff\", delay_secs = 0 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "logoff", "assets": [&asset]}), WAIT).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    eventually("alice's log-off", SOON, async || {
        let s = sessions(&fleet, h);
        let (_, procs) = fleet.exec(h, "pgrep -au alice");
        done_if(!s.contains("alice") && procs.trim().is_empty(), format!("sessions: {s}\nprocesses: {procs}"))
    })
    .await;
    assert!(!fleet.sh(h, "who").contains("alice"), "alice still in utmp");
    // logind ended it (`loginctl terminate-user`: systemd stops her session's scope and
    // her user manager), not a kill of her processes (her user manager dies of SIGKILL)
    let journal = fleet.sh(h, &format!("journalctl --no-pager -o cat --after-cursor='{cursor}'"));
    assert!(!journal.contains("status=9/KILL"), "alice's processes were killed:\n{journal}");
    let stopped = |what: &str| journal.lines().any(|l| l.starts_with("Stopped ") && l.contains(what));
    assert!(stopped("of User alice") && stopped("User Manager for UID"), "logind's log-off:\n{journal}");
}

/// The host's logind sessions, `user` per line (`loginctl list-sessions`).
fn sessions(fleet: &Fleet, h: &Host) -> String {
    fleet.sh(h, "loginctl list-sessions --no-legend | awk '{print $3}'")
}

#[tokio::test(flavor = "multi_thread")]
async fn reboot_restarts_the_host_for_real() {
    let (fleet, server, asset) = systemd_host(Backend::Sqlite).await;
    let h = &fleet.hosts[0];
    let boot_id = fleet.sh(h, "cat /proc/sys/kernel/random/boot_id");
    fleet.sh(h, "echo kept > /var/lib/before-reboot; setsid sleep 1000 </dev/null >/dev/null 2>&1 &");

    let pkg = package("rebooting", "final_action = { action = \"reboot\", delay_secs = 0 }");
    assert_eq!(server.import(&pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "rebooting", "assets": [&asset]}), WAIT).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");

    // a new boot of the host's systemd (nspawn boots it again): a new boot id
    let new_id = eventually("a new boot id", SOON, async || {
        let (code, id) = fleet.exec(h, "cat /proc/sys/kernel/random/boot_id");
        let id = id.trim().to_string();
        done_if(code == 0 && !id.is_empty() && id != boot_id, id)
    })
    .await;
    assert_ne!(new_id, boot_id);
    let boots = std::fs::read_to_string(fleet.dir.join("hosts").join(&h.name).join("boot.log")).unwrap();
    assert!(boots.contains("exit 133") && boots.contains("boot 2"), "the container rebooted: {boots}");
    eventually("systemd running again", SOON, async || {
        let (_, s) = fleet.exec(h, "systemctl is-system-running");
        let s = s.trim().to_string();
        done_if(s == "running" || s == "degraded", s)
    })
    .await;
    assert_eq!(fleet.sh(h, "ps -p 1 -o comm="), "systemd");
    assert_eq!(fleet.exec(h, "pgrep -f 'sleep 100[0]'").0, 1, "the processes of the last boot ended");
    assert_eq!(fleet.sh(h, "cat /var/lib/before-reboot"), "kept", "the disk (overlay) survives a reboot");
    // sshd is back: a second deployment reaches the host
    assert_eq!(server.import(&package("after", ""), &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "after", "assets": [&asset]}), WAIT).await;
    assert_eq!(done["targets"][0]["state"], "success", "after the reboot: {done:#}");
}
