//! Benchmark (not a test): an inventory range scan of N test hosts through the real
//! server, N at a time, against plain OpenSSH `ssh host true` to the same hosts at the
//! same parallelism in the same run; prints both times and the ratio.
//!
//! ```sh
//! cargo run --release -p drover --example bench-scan -- --hosts 200 --at-once 50
//! ```
//! Needs root (test hosts are network namespaces) and openssh-client.

#![allow(clippy::unwrap_used)]

#[path = "../tests/e2e/fleet.rs"]
#[allow(dead_code)]
mod fleet;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../tests/e2e/tls.rs"]
#[allow(dead_code)]
mod tls;

use harness::{Backend, Server};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

struct Opts {
    hosts: usize,
    at_once: usize,
    backend: Backend,
}

fn opts() -> Opts {
    let mut o = Opts { hosts: 200, at_once: 50, backend: Backend::Sqlite };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val =
            || it.next().and_then(|v| v.parse::<usize>().ok()).unwrap_or_else(|| panic!("{a} needs a number"));
        match a.as_str() {
            "--hosts" => o.hosts = val(),
            "--at-once" => o.at_once = val(),
            "--postgres" => o.backend = Backend::Postgres,
            other => panic!("unknown argument {other}: use --hosts N (1 to 245) --at-once N [--postgres]"),
        }
    }
    assert!((1..=245).contains(&o.hosts), "--hosts: one fleet holds 1 to 245 hosts (a /24 from .11)");
    o
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// (wall, each host's time, ok)
async fn ssh_round(fleet: &fleet::Fleet, at_once: usize) -> (f64, Vec<f64>, usize) {
    let key = fleet.dir.join("id_ed25519");
    let sem = Arc::new(tokio::sync::Semaphore::new(at_once));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for h in &fleet.hosts {
        let (sem, ip, key) = (sem.clone(), h.ip.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await.ok()?;
            let t = Instant::now();
            let st = tokio::process::Command::new("ssh")
                // the key exchange drover's client uses (as bench-deploy does): OpenSSH's
                // default post-quantum hybrid costs several times the CPU per login
                .args(["-o", "KexAlgorithms=curve25519-sha256"])
                .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
                .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-i"])
                .arg(&key)
                .arg(format!("root@{ip}"))
                .arg("true")
                .status()
                .await
                .ok()?;
            st.success().then(|| t.elapsed().as_secs_f64())
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        if let Ok(Some(s)) = t.await {
            times.push(s);
        }
    }
    let ok = times.len();
    (start.elapsed().as_secs_f64(), times, ok)
}

/// (wall, the report)
async fn scan_round(server: &Server) -> (f64, Value) {
    let start = Instant::now();
    let r = server.post("/scan-targets/bench/run", json!({})).await;
    (start.elapsed().as_secs_f64(), r)
}

/// Hosts scanned without an error, and the first error seen.
fn scanned_ok(r: &Value) -> (usize, String) {
    let hosts = r["hosts"].as_array().cloned().unwrap_or_default();
    let failed: Vec<&Value> = hosts.iter().filter(|h| !h["error"].is_null()).collect();
    let first = failed.first().map(|h| format!("{}: {}", h["address"], h["error"])).unwrap_or_default();
    (hosts.len() - failed.len(), first)
}

#[tokio::main]
async fn main() {
    let o = opts();
    println!("bench-scan: {} hosts, {} at once, {:?}", o.hosts, o.at_once, o.backend);
    let t = Instant::now();
    let fleet = fleet::Fleet::up(o.hosts);
    println!("test hosts up in {:.2} s", t.elapsed().as_secs_f64());
    let at_once = o.at_once;
    let server = Server::start_with(o.backend, |c| c.scans_at_once = at_once).await;
    server.credential("root", json!({"username": "root", "private_key": fleet.key()})).await;
    let id = server.get("/credentials").await[0]["id"].as_i64().unwrap();
    server.post(&format!("/credentials/{id}/mappings"), json!({"global": true})).await;
    // exactly the hosts' addresses: the empty ones of a /24 would add probe timeouts
    // that `ssh true` to known hosts does not pay
    let range = format!("{}-{}", fleet.hosts[0].ip, fleet.hosts[o.hosts - 1].ip);
    server.post("/scan-targets", json!({"name": "bench", "target": range})).await;

    let (ssh_wall, ssh_each, ssh_ok) = ssh_round(&fleet, o.at_once).await;
    let (first_wall, first) = scan_round(&server).await;
    let (repeat_wall, repeat) = scan_round(&server).await;
    let (ssh2_wall, ssh2_each, _) = ssh_round(&fleet, o.at_once).await;
    let ssh_wall = ssh_wall.min(ssh2_wall);
    let ssh_med = median(&ssh_each).min(median(&ssh2_each));
    let (first_ok, first_err) = scanned_ok(&first);
    let (repeat_ok, repeat_err) = scanned_ok(&repeat);
    let software = server.get(&format!("/assets/{}/software", repeat["hosts"][0]["asset_id"])).await;

    println!();
    println!("{:<40} {:>9} {:>9}", "run", "wall s", "ok");
    println!("{:<40} {:>9.2} {:>9}", "ssh host true (curve25519)", ssh_wall, format!("{ssh_ok}/{}", o.hosts));
    println!("{:<40} {:>9.2} {:>9}", "drover scan, first (new assets)", first_wall, format!("{first_ok}/{}", o.hosts));
    println!(
        "{:<40} {:>9.2} {:>9}",
        "drover scan, repeat (known assets)",
        repeat_wall,
        format!("{repeat_ok}/{}", o.hosts)
    );
    for e in [first_err, repeat_err].iter().filter(|e| !e.is_empty()) {
        println!("first failure: {e}");
    }
    println!();
    println!(
        "ssh true median per host {ssh_med:.3} s; a scanned host has {} packages; range {range} ({} addresses)",
        software.as_array().map_or(0, Vec::len),
        first["probed"]
    );
    println!(
        "ratio wall drover scan/ssh true: first {:.2}x, repeat {:.2}x",
        first_wall / ssh_wall,
        repeat_wall / ssh_wall
    );
}
