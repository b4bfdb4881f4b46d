//! Benchmark (not a test): deploys a 3-step package (a file from the share, a command,
//! a condition) to N test hosts at a given parallelism, and runs plain OpenSSH to the
//! same hosts at the same parallelism in the same run: `ssh host true` (the floor for
//! overhead) and `ssh host 'cat >file; sha256sum file; id -un' <file` (the same byte work
//! as the package, the floor for bytes); prints the ratios to both. With `--ansible`, also
//! ansible-core (installed from PyPI into a throwaway venv) doing the same work with a
//! playbook, as a reference.
//!
//! ```sh
//! RUSTFLAGS="-C target-feature=+crt-static" cargo build --profile deployer -p drover-deployer --target x86_64-unknown-linux-gnu
//! cargo run --release -p drover --example bench-deploy -- --hosts 20 --threads 10 --file-mb 1
//! cargo run --release -p drover --example bench-deploy -- --hosts 200 --threads 50 --file-kb 1
//! cargo run --release -p drover --example bench-deploy -- --hosts 20 --threads 10 --file-kb 1 --ansible
//! ```
//! Needs root (test hosts are network namespaces) and openssh-client.

#![allow(clippy::unwrap_used)]

#[path = "common/ansible.rs"]
mod ansible;
#[path = "common/assets.rs"]
mod assets;
#[path = "../tests/e2e/fleet.rs"]
#[allow(dead_code)]
mod fleet;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "common/scale.rs"]
mod scale;
#[path = "common/simulated.rs"]
mod simulated;
#[path = "../tests/e2e/tls.rs"]
#[allow(dead_code)]
mod tls;

use harness::{Backend, Server, sha256};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    hosts: usize,
    threads: usize,
    /// The package file's size, in bytes.
    file_bytes: usize,
    backend: Backend,
    /// Also time ansible-core doing the same work (needs PyPI).
    ansible: bool,
}

fn opts() -> Opts {
    let mut o = Opts { hosts: 20, threads: 10, file_bytes: 1024 * 1024, backend: Backend::Sqlite, ansible: false };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val =
            || it.next().and_then(|v| v.parse::<usize>().ok()).unwrap_or_else(|| panic!("{a} needs a number"));
        match a.as_str() {
            "--hosts" => o.hosts = val(),
            "--threads" => o.threads = val(),
            "--file-mb" => o.file_bytes = val() * 1024 * 1024,
            "--file-kb" => o.file_bytes = val() * 1024,
            "--postgres" => o.backend = Backend::Postgres,
            "--ansible" => o.ansible = true,
            other => panic!(
                "unknown argument {other}: use --hosts N --threads N (--file-mb N | --file-kb N) [--postgres] [--ansible]"
            ),
        }
    }
    o
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// Seconds between two states of each target (`None`: its final state).
fn between(log: &[Value], from: &str, to: Option<&str>) -> Vec<f64> {
    log.iter()
        .filter_map(|e| {
            let ev = e["events"].as_array()?;
            let at = |state: &str| ev.iter().find(|x| x["state"] == state)?["at_ms"].as_i64();
            let end = match to {
                Some(s) => at(s)?,
                None => ev.last()?["at_ms"].as_i64()?,
            };
            Some((end - at(from)?) as f64 / 1000.0)
        })
        .collect()
}

/// Median duration of each step, by name, in package order.
fn step_medians(log: &[Value]) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut by: std::collections::HashMap<String, Vec<f64>> = Default::default();
    for e in log {
        for st in e["steps"].as_array().into_iter().flatten() {
            let name = st["name"].as_str().unwrap_or("?").to_string();
            if !names.contains(&name) {
                names.push(name.clone());
            }
            by.entry(name).or_default().push(st["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0);
        }
    }
    names.iter().map(|n| format!("{n} {:.3} s", median(&by[n]))).collect::<Vec<_>>().join(", ")
}

/// Medians of the task's edges: from `running` (the task being created) to the start of
/// the first step, and from the end of the last step to the target's final state.
fn task_edges(log: &[Value]) -> (f64, f64) {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for e in log {
        let (Some(ev), Some(steps)) = (e["events"].as_array(), e["steps"].as_array()) else { continue };
        let at = |v: &Value| v["at_ms"].as_i64().unwrap_or(0);
        let (Some(running), Some(end)) = (ev.iter().find(|x| x["state"] == "running"), ev.last()) else { continue };
        let (Some(first), Some(last)) = (steps.first(), steps.last()) else { continue };
        let first_start = at(first) - first["duration_ms"].as_i64().unwrap_or(0);
        before.push((first_start - at(running)) as f64 / 1000.0);
        after.push((at(end) - at(last)) as f64 / 1000.0);
    }
    (median(&before), median(&after))
}

/// (wall, per target connecting→end, ok, median SSH part, median task part)
async fn deploy_round(server: &Server, assets: &[String]) -> (f64, Vec<f64>, usize, f64, f64) {
    let start = Instant::now();
    let v = server.deploy_and_wait(json!({"package": "bench", "assets": assets}), Duration::from_secs(3600)).await;
    let wall = start.elapsed().as_secs_f64();
    let ok = v["targets"].as_array().map_or(0, |t| t.iter().filter(|t| t["state"] == "success").count());
    let log = server.log(v["deployment"]["id"].as_i64().unwrap_or(0)).await;
    let ssh_part = median(&between(&log, "connecting", Some("running")));
    let task_part = median(&between(&log, "running", None));
    let (before, after) = task_edges(&log);
    println!(
        "steps (medians): created → first step {before:.3} s, {}, last step → end recorded {after:.3} s",
        step_medians(&log)
    );
    (wall, between(&log, "connecting", None), ok, ssh_part, task_part)
}

/// How the benchmark's OpenSSH runs (the floors, and the ansible reference's look at a
/// host) reach the test hosts: curve25519, no known-hosts file, no prompt.
const SSH_OPTIONS: [&str; 10] = [
    "-o",
    "KexAlgorithms=curve25519-sha256",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
];

/// OpenSSH running `command` on every host, `threads` at once, with `input` on its stdin:
/// (wall, per host, ok).
async fn ssh_round(fleet: &fleet::Fleet, threads: usize, command: &str, input: Arc<Vec<u8>>) -> (f64, Vec<f64>, usize) {
    let key = fleet.dir.join("id_ed25519");
    let sem = Arc::new(tokio::sync::Semaphore::new(threads));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for h in &fleet.hosts {
        let (sem, ip, key, input, command) =
            (sem.clone(), h.ip.clone(), key.clone(), input.clone(), command.to_string());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await.ok()?;
            let t = Instant::now();
            let mut child = tokio::process::Command::new("ssh")
                .args(SSH_OPTIONS)
                .arg("-i")
                .arg(&key)
                .arg(format!("root@{ip}"))
                .arg(&command)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .ok()?;
            let mut stdin = child.stdin.take()?;
            tokio::io::AsyncWriteExt::write_all(&mut stdin, &input).await.ok()?;
            drop(stdin);
            let st = child.wait().await.ok()?;
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

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--simulate") {
        return scale::main().await;
    }
    let o = opts();
    let size = if o.file_bytes >= 1024 * 1024 {
        format!("{} MiB", o.file_bytes / (1024 * 1024))
    } else {
        format!("{} KiB", o.file_bytes / 1024)
    };
    println!(
        "bench-deploy: {} hosts, {} threads, {size} file, {:?}, load average {}",
        o.hosts,
        o.threads,
        o.backend,
        load_average()
    );
    let ansible = if o.ansible {
        let t = Instant::now();
        match ansible::Ansible::install() {
            Ok(a) => {
                println!(
                    "ansible-core {} installed in a throwaway venv in {:.1} s",
                    a.version,
                    t.elapsed().as_secs_f64()
                );
                Some(a)
            }
            Err(e) => {
                println!("ansible-core could not be installed, no ansible row in this run: {e}");
                None
            }
        }
    } else {
        None
    };
    let t = Instant::now();
    let fleet = fleet::Fleet::up(o.hosts);
    println!("test hosts up in {:.2} s", t.elapsed().as_secs_f64());
    let threads = o.threads;
    let server = Server::start_with(o.backend, |c| {
        c.deployment_threads = threads;
        c.liveness_interval = Duration::from_secs(60);
    })
    .await;
    server.credential("root", json!({"username": "root", "private_key": fleet.key()})).await;
    let assets = server.assets(&fleet, "root").await;
    let payload: Vec<u8> = (0..o.file_bytes).map(|i| (i * 7 % 251) as u8).collect();
    let pkg = format!(
        "name = \"bench\"\nversion = \"1\"\n[[steps]]\nname = \"copy\"\ntype = \"file-copy\"\nsource = \"{{PackageShare}}/payload.bin\"\ndestination = \"/tmp/payload.bin\"\n[[steps]]\nname = \"command\"\ntype = \"command\"\ncommand = \"echo ok\"\n[[steps]]\nname = \"check\"\ntype = \"condition\"\ncriteria = [{{ check = \"file-hash\", path = \"/tmp/payload.bin\", sha256 = \"{}\" }}]\n",
        sha256(&payload)
    );
    let (status, v) = server.import(&pkg, &[("payload.bin", &payload)]).await;
    assert_eq!(status, 200, "{v}");

    let none = Arc::new(Vec::new());
    let bytes = Arc::new(payload.clone());
    let byte_work = "cat >/tmp/payload-ssh.bin && sha256sum /tmp/payload-ssh.bin && id -un";
    let (ssh_wall, ssh_each, ssh_ok) = ssh_round(&fleet, o.threads, "true", none.clone()).await;
    let (bw_wall, bw_each, bw_ok) = ssh_round(&fleet, o.threads, byte_work, bytes.clone()).await;
    let (cold_wall, cold_each, cold_ok, cold_ssh, cold_task) = deploy_round(&server, &assets).await;
    let (warm_wall, warm_each, warm_ok, warm_ssh, warm_task) = deploy_round(&server, &assets).await;
    let ansible_run = match &ansible {
        Some(a) => ansible_round(a, &fleet, o.threads, &payload).await,
        None => None,
    };
    let (ssh2_wall, ssh2_each, _) = ssh_round(&fleet, o.threads, "true", none).await;
    let (bw2_wall, bw2_each, _) = ssh_round(&fleet, o.threads, byte_work, bytes).await;
    let ssh_wall = ssh_wall.min(ssh2_wall);
    let ssh_med = median(&ssh_each).min(median(&ssh2_each));
    let bw_wall = bw_wall.min(bw2_wall);
    let bw_med = median(&bw_each).min(median(&bw2_each));

    println!();
    println!("{:<44} {:>9} {:>13} {:>9}", "run", "wall s", "median/target", "ok");
    let row = |name: &str, wall: f64, each: f64, ok: usize| {
        println!("{name:<44} {wall:>9.2} {each:>13.3} {:>9}", format!("{ok}/{}", o.hosts));
    };
    row("ssh host true (curve25519)", ssh_wall, ssh_med, ssh_ok);
    row("ssh: file over stdin, sha256sum, id", bw_wall, bw_med, bw_ok);
    row("drover, first (uploads deployer)", cold_wall, median(&cold_each), cold_ok);
    row("drover, deployer already there", warm_wall, median(&warm_each), warm_ok);
    if let (Some(a), Some(run)) = (&ansible, &ansible_run) {
        let name = format!("ansible-core {}: copy, command, check", a.version);
        println!("{name:<44} {:>9.2} {:>13} {:>9}", run.wall, "-", format!("{}/{}", run.ok, o.hosts));
    }
    println!();
    println!(
        "where a target's time goes (medians): connect and log in (to `running`): first {cold_ssh:.3} s, repeat {warm_ssh:.3} s; learn the host, create the task and run it until its end is recorded: first {cold_task:.3} s, repeat {warm_task:.3} s"
    );
    println!(
        "ratio wall drover / ssh true ({size} package): first {:.2}x, repeat {:.2}x",
        cold_wall / ssh_wall,
        warm_wall / ssh_wall
    );
    println!(
        "ratio wall drover / OpenSSH doing the byte work ({size}): first {:.2}x, repeat {:.2}x",
        cold_wall / bw_wall,
        warm_wall / bw_wall
    );
    println!(
        "ratio median per target drover / ssh true: first {:.2}x, repeat {:.2}x",
        median(&cold_each) / ssh_med,
        median(&warm_each) / ssh_med
    );
    if let Some(run) = &ansible_run {
        println!(
            "ratio wall ansible / drover: first {:.2}x, repeat {:.2}x",
            run.wall / cold_wall,
            run.wall / warm_wall
        );
    }
    println!("load average at the end: {}", load_average());
}

/// The 1, 5 and 15 minute load averages, as `uptime` prints them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// ansible-playbook doing the package's work on every host, `threads` forks; None (and
/// why, printed) when it cannot run.
async fn ansible_round(
    a: &ansible::Ansible,
    fleet: &fleet::Fleet,
    threads: usize,
    payload: &[u8],
) -> Option<ansible::Run> {
    let key = fleet.dir.join("id_ed25519");
    // the hosts share this machine's /usr (testfleet/fleet: an overlay over /), so one
    // host's python3 is every host's
    let python = match ansible::host_python(&fleet.hosts.first()?.ip, &key) {
        Ok(Some(p)) => p,
        Ok(None) => {
            println!("the test hosts have no python3: ansible's copy and stat modules need it, no ansible row");
            return None;
        }
        Err(e) => {
            println!("cannot learn the test hosts' python3, no ansible row: {e}");
            return None;
        }
    };
    let ips: Vec<String> = fleet.hosts.iter().map(|h| h.ip.clone()).collect();
    let sha = sha256(payload);
    let spec = ansible::Spec { ips: &ips, key: &key, python: &python, forks: threads, payload, sha256: &sha };
    match a.run(&spec).await {
        Ok(run) => {
            println!(
                "ansible-playbook (python {python} on the hosts): {:.2} s, {}/{} hosts ok",
                run.wall,
                run.ok,
                ips.len()
            );
            Some(run)
        }
        Err(e) => {
            println!("ansible-playbook could not run, no ansible row: {e}");
            None
        }
    }
}
