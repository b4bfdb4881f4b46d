//! Two `drover serve` nodes on one PostgreSQL share a deployment's targets; one is killed
//! with SIGKILL mid-way and the other takes its targets over when its lease ends: every
//! target ends once, on the hosts too. Nodes started with `--serve-ranges` each drive only
//! the targets in their ranges, and a deployment to an asset no node serves is refused;
//! a package imported on one node has its files served by the other.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Api, done_if, eventually, postgres_database};
use crate::restart::{Running, serve_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// Lease and heartbeat of the nodes under test (the defaults are 15 s and 5 s).
const LEASE_SECS: u64 = 6;

/// Starts node `name` over the database at `db` with `threads` deployment threads and the
/// `extra` arguments, and logs in to it. Its deployers reach it at `server_ip` (its
/// `--public-url`: the jobs of the other node name it).
async fn node(name: &str, data: &Path, db: &str, server_ip: &str, threads: usize, extra: &[String]) -> (Running, Api) {
    let port = std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
    let lease = LEASE_SECS.to_string();
    let public = format!("https://{server_ip}:{port}");
    let mut args = vec!["--node-name", name, "--lease-secs", &lease, "--heartbeat-secs", "2", "--public-url", &public];
    args.extend(extra.iter().map(String::as_str));
    let node = serve_with(data, port, threads, &args, &[("DROVER_DATABASE_URL", db)]);
    let url = format!("https://127.0.0.1:{port}");
    let sha = crate::restart::up(&url, data).await;
    (node, Api::login(&url, &sha, "admin-password").await)
}

fn messages(entry: &Value) -> Vec<String> {
    entry["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap_or("").to_string()).collect()
}

/// Nodes `node-a` and `node-b` of `fleet` over the database at `db`, with data
/// directories in `dir` and the given deployment threads and extra arguments; b gets a's
/// `secret.key` first (nodes of one database share the key that encrypts credentials).
async fn two_nodes(
    fleet: &Fleet,
    dir: &Path,
    db: &str,
    (threads_a, extra_a): (usize, &[String]),
    (threads_b, extra_b): (usize, &[String]),
) -> ((Running, Api), (Running, Api)) {
    let (data_a, data_b, ip) = (dir.join("a"), dir.join("b"), fleet.server_ip());
    let a = node("node-a", &data_a, db, &ip, threads_a, extra_a).await;
    std::fs::create_dir_all(&data_b).unwrap();
    std::fs::copy(data_a.join("secret.key"), data_b.join("secret.key")).unwrap();
    (a, node("node-b", &data_b, db, &ip, threads_b, extra_b).await)
}

fn count(log: &[Value], f: impl Fn(&Value) -> bool) -> usize {
    log.iter().filter(|e| f(e)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_share_a_deployment_and_one_takes_over_when_the_other_is_killed() {
    let fleet = Fleet::up(40);
    let db = postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    // 8 threads each for 40 targets: a third wave waits on each node when one dies
    let ((node_a, a), (_node_b, b)) = two_nodes(&fleet, dir.path(), &db, (8, &[]), (8, &[])).await;
    a.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = a.assets(&fleet, "root").await;
    let pkg = "name = \"stamp\"\nversion = \"1\"\n\
        [[steps]]\nname = \"start\"\ntype = \"command\"\ncommand = \"echo start >> /var/tmp/runs\"\n\
        [[steps]]\nname = \"wait\"\ntype = \"sleep\"\nseconds = 5\n\
        [[steps]]\nname = \"copy\"\ntype = \"file-copy\"\nsource = \"{PackageShare}/stamp.txt\"\ndestination = \"/var/tmp/stamp.txt\"\n\
        [[steps]]\nname = \"end\"\ntype = \"command\"\ncommand = \"echo end >> /var/tmp/runs\"\n";
    // the file is fetched after the wait: by the tasks node-a started but does not see
    // end, from node-b (the other node their jobs name), which has it from the database
    let stamp = b"stamped\n";
    let (status, v) = a.import(pkg, &[("stamp.txt", stamp)]).await;
    assert_eq!(status, 200, "{v}");
    let started = Instant::now();
    let v = a.post("/deployments", json!({"package": "stamp", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();

    // node a has finished targets and runs others (its second wave), none of them in the
    // middle of its launch (the one moment where a kill leaves it unknown whether the task
    // started, which a takeover would report as such): it dies now. The running ones count
    // while in their 5 s wait (one step done): a target at its last step may end before
    // the kill
    let before = eventually("node-a to finish a target and run others", Duration::from_secs(90), async || {
        let log = b.log(id).await;
        let on_a = |f: &dyn Fn(&Value) -> bool| count(&log, |e| e["server"] == "node-a" && f(e));
        let steps = |e: &Value| e["steps"].as_array().unwrap().len();
        let done = on_a(&|e| e["state"] == "success");
        let waiting = on_a(&|e| e["state"] == "running" && steps(e) == 1);
        let launching = on_a(&|e| e["state"] == "running" && steps(e) == 0);
        let ok = done >= 1 && waiting >= 2 && launching == 0;
        done_if(ok, log)
            .map_err(|_| format!("node-a: {done} done, {waiting} running in their wait, {launching} launching"))
    })
    .await;
    drop(node_a); // SIGKILL
    let killed_at = started.elapsed();
    let by = |log: &[Value], node: &str| count(log, |e| e["server"] == node);
    eprintln!(
        "node-a killed after {killed_at:?}: {} target(s) on node-a, {} on node-b",
        by(&before, "node-a"),
        by(&before, "node-b")
    );

    let nodes = eventually("node-a's lease to end, as node-b sees it", Duration::from_secs(30), async || {
        let v = b.get("/nodes").await;
        let alive = |n: &str| v.as_array().unwrap().iter().any(|x| x["name"] == n && x["alive"] == true);
        done_if(!alive("node-a") && alive("node-b"), v)
    })
    .await;
    assert!(nodes.as_array().unwrap().iter().any(|x| x["name"] == "node-b" && x["this_node"] == true), "{nodes:#}");
    let done = b.wait(id, Duration::from_secs(120)).await;
    eprintln!("deployment ended after {:?}", started.elapsed());
    for t in done["targets"].as_array().unwrap() {
        assert_eq!(t["state"], "success", "{t:#}");
    }
    let deployment =
        eventually("the deployment to be finished as seen from node-b", Duration::from_secs(10), async || {
            let v = b.get(&format!("/deployments/{id}")).await;
            done_if(v["deployment"]["finished_ms"].is_i64(), v)
        })
        .await;
    assert!(deployment["deployment"]["finished_ms"].is_i64());
    for h in &fleet.hosts {
        assert_eq!(fleet.sh(h, "cat /var/tmp/runs"), "start\nend", "{} ran the package exactly once", h.name);
        assert_eq!(fleet.sh(h, "cat /var/tmp/stamp.txt"), "stamped", "{}", h.name);
    }
    let log = b.log(id).await;
    for e in &log {
        let names: Vec<&str> = e["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["start", "wait", "copy", "end"], "each step reported once: {e:#}");
    }
    let taken: Vec<&Value> = log
        .iter()
        .filter(|e| messages(e).iter().any(|m| m.contains("from node node-a whose lease ended at")))
        .collect();
    let watched = taken.iter().filter(|e| messages(e).iter().any(|m| m.contains("watching its task"))).count();
    eprintln!(
        "{} target(s) taken over ({watched} running), {} ended on node-a, {} on node-b",
        taken.len(),
        by(&log, "node-a"),
        by(&log, "node-b")
    );
    assert!(taken.iter().all(|e| e["server"] == "node-b"), "taken over by the survivor");
    // node-a's tasks running at its death ended all the same: their deployers fetched the
    // file after the wait from node-b and reported there (their jobs name it), or, where
    // node-a's lease ended first, node-b took them over and watched them
    let running_at_kill: Vec<&Value> =
        before.iter().filter(|e| e["server"] == "node-a" && e["state"] == "running").collect();
    assert!(running_at_kill.len() >= 2, "{running_at_kill:#?}");
    let mut reported_to_b = 0;
    for was in running_at_kill {
        let e = log.iter().find(|e| e["id"] == was["id"]).unwrap();
        assert_eq!(e["state"], "success", "{e:#}");
        let taken_over = messages(e).iter().any(|m| m.contains("from node node-a whose lease ended at"));
        assert_eq!(taken_over, e["server"] == "node-b", "{e:#}");
        reported_to_b += usize::from(!taken_over);
    }
    eprintln!("{reported_to_b} of node-a's running tasks ended by reports to node-b, the others were taken over");
    assert!(by(&log, "node-a") >= 1, "node-a ran targets to their end before it died");
    let own_b = count(&log, |e| e["server"] == "node-b" && !messages(e).iter().any(|m| m.contains("taken over")));
    assert!(own_b >= 1, "node-b started targets of node-a's deployment of its own");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_on_one_node_stops_the_targets_another_node_drives() {
    let fleet = Fleet::up(4);
    let db = postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    // one thread on node a: node b starts the other targets of a's deployment
    let ((_node_a, a), (_node_b, b)) = two_nodes(&fleet, dir.path(), &db, (1, &[]), (4, &[])).await;
    a.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = a.assets(&fleet, "root").await;
    let pkg = "name = \"long\"\nversion = \"1\"\n[[steps]]\nname = \"long\"\ntype = \"command\"\ncommand = \"echo started > /tmp/started; sleep 120\"\n";
    assert_eq!(a.import(pkg, &[]).await.0, 200);
    let v = a.post("/deployments", json!({"package": "long", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    eventually("every task to start (/tmp/started on each host)", Duration::from_secs(60), async || {
        let started = fleet.hosts.iter().filter(|h| fleet.exec(h, "test -e /tmp/started").0 == 0).count();
        done_if(started == fleet.hosts.len(), format!("{started} of {} started", fleet.hosts.len()))
    })
    .await;
    let log = a.log(id).await;
    let on_b = count(&log, |e| e["server"] == "node-b");
    assert!(on_b >= 2, "node-b drives some targets of node-a's deployment: {log:#?}");
    let c = a.post(&format!("/deployments/{id}/cancel"), json!({})).await;
    assert_eq!(c["cancelled"], 4, "{c}");
    let done = b.wait(id, Duration::from_secs(15)).await; // as seen from the other node
    for t in done["targets"].as_array().unwrap() {
        assert_eq!(t["state"], "cancelled", "{t:#}");
        assert!(t["message"].as_str().unwrap().contains("cancelled by user:admin"), "{t:#}");
        assert!(t["message"].as_str().unwrap().contains("killed"), "its task was killed: {t:#}");
    }
    for h in &fleet.hosts {
        let left = fleet.exec(h, "pgrep -a '^drover-'; pgrep -af '^sleep 120'").1;
        assert!(left.trim().is_empty(), "left running on {}: {left}", h.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_with_serve_ranges_drive_only_their_assets_and_an_asset_no_node_serves_is_refused() {
    let fleet = Fleet::up(8);
    let db = postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = fleet.hosts.split_at(4);
    // node a: one comma-separated flag; node b: the flag repeated
    let ranges_a =
        vec!["--serve-ranges".to_string(), first.iter().map(|h| format!("{}/32", h.ip)).collect::<Vec<_>>().join(",")];
    let ranges_b: Vec<String> =
        second.iter().flat_map(|h| ["--serve-ranges".to_string(), format!("{}/32", h.ip)]).collect();
    // 8 threads each: node a could drive every target itself, were it not for its ranges
    let ((_node_a, a), (_node_b, b)) = two_nodes(&fleet, dir.path(), &db, (8, &ranges_a), (8, &ranges_b)).await;
    let nodes = b.get("/nodes").await;
    let shown = |n: &str| nodes.as_array().unwrap().iter().find(|x| x["name"] == n).unwrap()["serve_ranges"].clone();
    assert_eq!(shown("node-a"), ranges_a[1], "{nodes:#}");
    assert_eq!(shown("node-b"), second.iter().map(|h| format!("{}/32", h.ip)).collect::<Vec<_>>().join(","));

    a.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = a.assets(&fleet, "root").await;
    // imported on node a: node b serves its file to its targets from the database
    let pkg = "name = \"stamp\"\nversion = \"1\"\n[[steps]]\nname = \"stamp\"\ntype = \"command\"\ncommand = \"echo run >> /var/tmp/runs\"\n\
               [[steps]]\nname = \"copy\"\ntype = \"file-copy\"\nsource = \"{PackageShare}/stamp.txt\"\ndestination = \"/var/tmp/stamp.txt\"\n";
    let stamp = b"imported on one node, served by both\n";
    assert_eq!(a.import(pkg, &[("stamp.txt", stamp)]).await.0, 200);
    let sha = crate::harness::sha256(stamp);
    let on_share = |node: &str| dir.path().join(node).join("share").join(&sha[..2]).join(&sha).exists();
    assert!(on_share("a") && !on_share("b"), "the file is on node a's share only");
    let v = a.post("/deployments", json!({"package": "stamp", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    let done = a.wait(id, Duration::from_secs(120)).await;
    let targets = done["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 8);
    for t in targets {
        assert_eq!(t["state"], "success", "{t:#}");
        let on_a = first.iter().any(|h| t["asset_name"] == h.name.as_str());
        let node = if on_a { "node-a" } else { "node-b" };
        assert_eq!(t["server"], node, "the node serving its address drove it: {t:#}");
    }
    for h in &fleet.hosts {
        assert_eq!(fleet.sh(h, "cat /var/tmp/runs"), "run", "{} ran the package once", h.name);
        assert_eq!(fleet.sh(h, "cat /var/tmp/stamp.txt"), String::from_utf8_lossy(stamp).trim_end(), "{}", h.name);
    }
    assert!(on_share("b"), "node b keeps the file it fetched");

    // an asset outside both nodes' ranges: refused (422, as every invalid request), on either
    // node, naming it and what each node serves; nothing created
    let (status, v) = a
        .call(Method::POST, "/assets", Some(json!({"name": "elsewhere", "address": "192.0.2.7", "credential": "root"})))
        .await;
    assert_eq!(status, 200, "{v}");
    let before = a.get("/deployments").await.as_array().unwrap().len();
    for api in [&a, &b] {
        let (status, v) = api
            .call(Method::POST, "/deployments", Some(json!({"package": "stamp", "assets": ["elsewhere", assets[0]]})))
            .await;
        assert_eq!((status, &v["code"]), (422, &json!("invalid")), "{v}");
        let text = v.to_string();
        assert!(text.contains("'elsewhere' (192.0.2.7)") && text.contains("--serve-ranges"), "{text}");
        assert!(text.contains(&ranges_a[1]) && !text.contains(&format!("'{}'", assets[0])), "{text}");
    }
    assert_eq!(a.get("/deployments").await.as_array().unwrap().len(), before, "no deployment was created");
}
