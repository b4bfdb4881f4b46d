//! `bench-deploy --simulate`: the scale benchmark. The real engine, store and thread
//! limiter deploy a 3-step package to N **simulated** machines (see `simulated.rs`: no
//! SSH, no deployer process, a latency per round trip and per step), in this process,
//! and it prints the wall time, targets per second, store writes per target and per
//! second, and the process's resident memory (the server's: nothing else of size lives
//! here). With `--postgres URL --nodes 2` it also runs two nodes on that database, each
//! with the same threads, and prints the ratio to one node's run.

use crate::assets::insert_assets;
use crate::simulated::{Behaviour, Machines, Simulated};
use drover_api::deployments::{DeployRequest, OptionsRequest};
use drover_api::packages::PackageRef;
use drover_domain::credential::{CredentialSecret, NewCredential, SudoMode};
use drover_domain::deployment::Executor;
use drover_domain::selection::Selection;
use drover_engine::{Engine, EngineConfig};
use drover_store::Store;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

struct Opts {
    targets: usize,
    threads: usize,
    behaviour: Behaviour,
    postgres: Option<String>,
    nodes: usize,
    /// 1: only the first deployment (it pins the host keys); 2: and a repeat.
    rounds: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        targets: 100_000,
        threads: 1000,
        behaviour: Behaviour {
            latency: Duration::from_millis(20),
            step: Duration::from_millis(50),
            offline_pct: 0,
            fail_pct: 0,
        },
        postgres: None,
        nodes: 1,
        rounds: 2,
    };
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--simulate").collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_else(|| panic!("{a} needs a value"));
        let num = |v: String| v.parse::<u64>().unwrap_or_else(|_| panic!("{a} needs a number, not {v}"));
        match a.as_str() {
            "--targets" => o.targets = num(val()) as usize,
            "--threads" => o.threads = num(val()) as usize,
            "--latency-ms" => o.behaviour.latency = Duration::from_millis(num(val())),
            "--step-ms" => o.behaviour.step = Duration::from_millis(num(val())),
            "--offline-pct" => o.behaviour.offline_pct = num(val()),
            "--fail-pct" => o.behaviour.fail_pct = num(val()),
            "--postgres" => o.postgres = Some(val()),
            "--nodes" => o.nodes = num(val()) as usize,
            "--rounds" => o.rounds = num(val()) as usize,
            other => panic!(
                "unknown argument {other}: --simulate [--targets N] [--threads N] [--latency-ms N] [--step-ms N] [--offline-pct P] [--fail-pct P] [--rounds 1|2] [--postgres URL [--nodes 2]]"
            ),
        }
    }
    assert!(o.nodes == 1 || (o.nodes == 2 && o.postgres.is_some()), "--nodes 2 needs --postgres URL");
    assert!((1..=2).contains(&o.rounds) && (o.nodes == 1 || o.rounds == 2), "--rounds is 1 or 2 (2 with --nodes 2)");
    o
}

/// The process's resident memory, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn open_node(
    store: Store,
    data: &std::path::Path,
    name: &str,
    threads: usize,
    machines: &'static Machines,
) -> Engine {
    let mut cfg = EngineConfig::new(data.to_path_buf(), "/bin/true".into());
    cfg.node_name = name.into();
    cfg.deployment_threads = threads;
    let url = format!("https://{name}.simulated:8443");
    cfg.public_url = Some(url.clone());
    cfg.tls_sha256 = Some("00".repeat(32));
    cfg.liveness_interval = Duration::from_secs(300);
    cfg.probe_timeout = Duration::from_secs(2);
    cfg.transport = drover_ssh::Transport::Simulated(Arc::new(Simulated(machines)));
    let engine = Engine::open(store, cfg).await.expect("engine");
    machines.node(&url, engine.clone());
    engine
}

/// One deployment to every asset, created on `engine`, until it finishes; prints its
/// figures (store writes: those of every running node's store) and returns the wall time.
async fn round(name: &str, engine: &Engine, stores: &[Store], machines: &Machines, package: i64) -> f64 {
    let writes = || stores.iter().map(Store::writes).sum::<u64>();
    let transactions = || stores.iter().map(Store::transactions).sum::<u64>();
    let transactions_before = transactions();
    let store = &stores[0];
    let writes_before = writes();
    let req = DeployRequest {
        package: PackageRef::Id(package),
        version: None,
        assets: Vec::new(),
        selection: Some(Selection::Search { filters: [("name".to_string(), "host-".to_string())].into() }),
        run_mode: None,
        options: OptionsRequest::default(),
    };
    let start = Instant::now();
    let (d, targets) = engine.deploy(req, Executor::User("bench".into())).await.expect("deploy");
    let created = start.elapsed().as_secs_f64();
    let (mut peak_rss, mut rss_at_peak_flight, mut peak_flight) = (rss_mib(), 0.0, 0);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let flight = machines.in_flight();
        let rss = rss_mib();
        peak_rss = f64::max(peak_rss, rss);
        if flight >= peak_flight {
            (peak_flight, rss_at_peak_flight) = (flight, rss);
        }
        if store.deployment(d.id).await.expect("deployment").finished_ms.is_some() {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let writes = writes() - writes_before;
    let transactions = transactions() - transactions_before;
    let mut states = std::collections::BTreeMap::<String, usize>::new();
    for t in store.targets_of(d.id).await.expect("targets") {
        *states.entry(t.state.to_string()).or_default() += 1;
    }
    let n = targets.len() as f64;
    println!(
        "{name:<34} {wall:>8.2} s  {:>8.0} targets/s  created in {created:.2} s  {:>5.1} writes/target  {:>7.0} writes/s  {:>5.2} transactions/target  peak RSS {peak_rss:.0} MiB ({rss_at_peak_flight:.0} MiB at {peak_flight} in flight)  {states:?}",
        n / wall,
        writes as f64 / n,
        writes as f64 / wall,
        transactions as f64 / n,
    );
    wall
}

pub async fn main() {
    let o = opts();
    let b = o.behaviour;
    println!(
        "bench-deploy --simulate (SIMULATED machines: no SSH, no deployer process): {} targets, {} threads per node, {} ms per round trip, {} ms per step, {}% off, {}% failing, {}",
        o.targets,
        o.threads,
        b.latency.as_millis(),
        b.step.as_millis(),
        b.offline_pct,
        b.fail_pct,
        if o.postgres.is_some() { "PostgreSQL" } else { "SQLite" },
    );
    let machines: &'static Machines = Box::leak(Box::new(Machines::new(b)));
    let data = tempfile::tempdir().expect("tempdir");
    let url = o.postgres.clone().unwrap_or_else(|| format!("sqlite://{}/drover.db?mode=rwc", data.path().display()));
    let store = Store::connect(&url).await.expect("store");
    let t = Instant::now();
    {
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM assets").fetch_one(&pool).await.expect("assets");
        if held > 0 {
            eprintln!(
                "the database at --postgres already holds {held} assets (an earlier run's?): give an empty database, e.g. `psql -c 'DROP DATABASE x' -c 'CREATE DATABASE x'`"
            );
            std::process::exit(2);
        }
        insert_assets(&pool, o.targets).await.expect("assets");
    }
    println!("{} assets stored in {:.2} s; RSS {:.0} MiB", o.targets, t.elapsed().as_secs_f64(), rss_mib());
    let engine = open_node(store.clone(), data.path(), "node-a", o.threads, machines).await;
    let by = Executor::User("bench".into());
    let key =
        "-----BEGIN OPENSSH PRIVATE KEY-----\n(simulated machines never read it)\n-----END OPENSSH PRIVATE KEY-----\n";
    let cred = engine
        .add_credential(
            &by,
            NewCredential {
                name: "root".into(),
                username: "root".into(),
                sudo: SudoMode::None,
                secret: CredentialSecret { private_key: Some(key.into()), ..Default::default() },
            },
        )
        .await
        .expect("credential");
    let global = drover_api::credentials::Mapping { global: true, ..Default::default() };
    engine.map_credential(&by, cred.id, &global).await.expect("mapping");
    let toml = "name = \"bench\"\nversion = \"1\"\n[[steps]]\nname = \"one\"\ntype = \"command\"\ncommand = \"true\"\n[[steps]]\nname = \"two\"\ntype = \"command\"\ncommand = \"true\"\n[[steps]]\nname = \"three\"\ntype = \"command\"\ncommand = \"true\"\n";
    let bundle = crate::harness::bundle(toml, &[]);
    let pkg = engine.import_bundle(&by, &bundle).await.expect("package");
    println!();
    let one_store = std::slice::from_ref(&store);
    round("one node, first (pins host keys)", &engine, one_store, machines, pkg.id.0).await;
    if o.rounds == 1 {
        return print_counters(machines);
    }
    let one = round("one node, repeat", &engine, one_store, machines, pkg.id.0).await;
    if o.nodes == 2 {
        let data_b = tempfile::tempdir().expect("tempdir");
        std::fs::copy(data.path().join("secret.key"), data_b.path().join("secret.key")).expect("copy key");
        let store_b = Store::connect(&url).await.expect("store");
        // node b runs while it lives: its node loop takes the targets node a has no thread for
        let _b = open_node(store_b.clone(), data_b.path(), "node-b", o.threads, machines).await;
        let two = round("two nodes, repeat", &engine, &[store.clone(), store_b], machines, pkg.id.0).await;
        println!("ratio two nodes / one node (targets per second): {:.2}x", one / two);
    }
    print_counters(machines);
}

fn print_counters(machines: &Machines) {
    let c = &machines.counters;
    println!(
        "simulated machines saw {} logins, {} tasks, {} reports ({} refused or not stored)",
        c.logins.load(Ordering::Relaxed),
        c.tasks.load(Ordering::Relaxed),
        c.reports.load(Ordering::Relaxed),
        c.report_errors.load(Ordering::Relaxed)
    );
}
