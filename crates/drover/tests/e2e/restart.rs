//! The real server killed with SIGKILL in the middle of a deployment, then started again:
//! every target ends, the steps recorded match what ran, nothing runs twice.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Api, deployer_path, done_if, eventually};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn serve(data: &Path, port: u16, threads: usize) -> Running {
    serve_with(data, port, threads, &[], &[])
}

/// `drover serve` with `args` and `env` added (a node's name, its database).
pub(crate) fn serve_with(data: &Path, port: u16, threads: usize, args: &[&str], env: &[(&str, &str)]) -> Running {
    let log = std::fs::File::options().create(true).append(true).open(data.with_extension("log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_drover"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("0.0.0.0:{port}"), "--liveness-secs", "2", "--threads", &threads.to_string()])
        .args(args)
        .envs(env.iter().copied())
        .env("DROVER_ADMIN_PASSWORD", "admin-password")
        .env("DROVER_DEPLOYER", deployer_path())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Running(child)
}

/// Waits for the server to answer over HTTPS with the certificate in its data directory
/// (made at its first start, kept across restarts); returns that certificate's SHA-256.
pub(crate) async fn up(url: &str, data: &Path) -> String {
    let cert = data.join("tls-cert.pem");
    eventually(&format!("the server to answer on {url}/healthz"), Duration::from_secs(20), async || {
        if !cert.exists() {
            return Err(format!("no {} yet", cert.display()));
        }
        let sha = crate::tls::pem_sha256(&cert);
        crate::tls::client(&sha).get(format!("{url}/healthz")).send().await.map(|_| sha).map_err(|e| e.to_string())
    })
    .await
}

/// Starts `drover serve` on a free port and logs in.
pub(crate) async fn start(data: &Path, threads: usize) -> (Running, Api, u16) {
    let port = std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
    let url = format!("https://127.0.0.1:{port}");
    let server = serve(data, port, threads);
    let sha = up(&url, data).await;
    (server, Api::login(&url, &sha, "admin-password").await, port)
}

pub(crate) fn kill(mut server: Running) {
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_picks_up_where_it_was() {
    let fleet = Fleet::up(22);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // 20 threads for 22 targets: 20 run and 2 wait in the queue when the server dies
    let (server, api, port) = start(&data, 20).await;
    api.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = api.assets(&fleet, "root").await;
    let pkg = "name = \"slow\"\nversion = \"1\"\n\
        [[steps]]\nname = \"first\"\ntype = \"command\"\ncommand = \"echo first >> /tmp/runs\"\n\
        [[steps]]\nname = \"wait\"\ntype = \"sleep\"\nseconds = 8\n\
        [[steps]]\nname = \"last\"\ntype = \"command\"\ncommand = \"echo last >> /tmp/runs\"\n";
    let (status, v) = api.import(pkg, &[]).await;
    assert_eq!(status, 200, "{v}");
    let v = api.post("/deployments", json!({"package": "slow", "assets": assets})).await;
    let id = v["deployment"]["id"].as_i64().unwrap();
    eventually("20 tasks to report a step", Duration::from_secs(60), async || {
        let log = api.log(id).await;
        let started = log.iter().filter(|e| !e["steps"].as_array().unwrap().is_empty()).count();
        done_if(started >= 20, format!("{started} of {} targets with a step", log.len()))
    })
    .await;
    let states: Vec<String> =
        api.log(id).await.iter().map(|e| e["state"].as_str().unwrap_or("?").to_string()).collect();
    kill(server);

    // down for good, as after a crash: nothing answers on its port any more
    eventually(
        &format!("the killed server's port {port} to refuse connections"),
        Duration::from_secs(10),
        async || done_if(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "it still accepts connections"),
    )
    .await;
    let _server = serve(&data, port, 20);
    assert_eq!(up(&api.url, &data).await, api.cert_sha256, "the same certificate after a restart");
    let done = api.wait(id, Duration::from_secs(120)).await;
    for t in done["targets"].as_array().unwrap() {
        assert_eq!(t["state"], "success", "before the kill {states:?}; now {t:#}");
    }
    for h in &fleet.hosts {
        assert_eq!(fleet.sh(h, "cat /tmp/runs"), "first\nlast", "{} ran the package exactly once", h.name);
    }
    for e in api.log(id).await {
        let names: Vec<&str> = e["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["first", "wait", "last"], "{e:#}");
    }
}

/// A one-host fleet, powered off, and a server whose deployment of `once` (it appends
/// "ran" to /var/tmp/runs) to that host waits in the retry queue.
struct Queued {
    fleet: Fleet,
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    server: Running,
    api: Api,
    port: u16,
    deployment: i64,
    target: i64,
}

async fn one_target_in_the_retry_queue() -> Queued {
    let fleet = Fleet::up(1);
    fleet.power_off(&fleet.hosts[0], 1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, api, port) = start(&data, 4).await;
    api.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = api.assets(&fleet, "root").await;
    let pkg = "name = \"once\"\nversion = \"1\"\n[[steps]]\nname = \"mark\"\ntype = \"command\"\ncommand = \"echo ran >> /var/tmp/runs\"\n";
    assert_eq!(api.import(pkg, &[]).await.0, 200);
    let body = json!({"package": "once", "assets": assets, "retry_offline": true, "retry_interval_secs": 2, "retry_expiry_secs": 600});
    let v = api.post("/deployments", body).await;
    let (deployment, target) = (v["deployment"]["id"].as_i64().unwrap(), v["targets"][0]["id"].as_i64().unwrap());
    eventually("the target in the retry queue", Duration::from_secs(20), async || {
        let v = api.get(&format!("/deployments/{deployment}")).await;
        done_if(!api.get("/retry-queue").await.as_array().unwrap().is_empty(), v)
    })
    .await;
    Queued { fleet, _dir: dir, data, server, api, port, deployment, target }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_retry_queue_and_thread_limit_outlive_a_restart() {
    let Queued { fleet, _dir, data, server, api, port, deployment: id, .. } = one_target_in_the_retry_queue().await;
    let host = &fleet.hosts[0];
    api.ok(reqwest::Method::PUT, "/threads", Some(json!({"threads": 7}))).await;
    kill(server);
    fleet.power_on(host);
    let _server = serve(&data, port, 4);
    assert_eq!(up(&api.url, &data).await, api.cert_sha256, "the same certificate after a restart");
    assert_eq!(api.get("/threads").await["threads"], 7, "a live change outlives the restart");
    let done = api.wait(id, Duration::from_secs(60)).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    assert_eq!(fleet.sh(host, "cat /var/tmp/runs"), "ran", "deployed exactly once");
}

/// A target recorded `running` whose task was never created (the server died between the
/// two: the state is written first, so that a crash during the creation is looked for)
/// starts over after the restart: nothing of it is on the machine, so nothing ran there.
#[tokio::test(flavor = "multi_thread")]
async fn a_target_left_running_before_its_task_existed_starts_over() {
    use drover_domain::deployment::TargetState;
    use drover_domain::ids::TargetId;
    let Queued { fleet, _dir, data, server, api, port, deployment: id, target: t } =
        one_target_in_the_retry_queue().await;
    let host = &fleet.hosts[0];
    kill(server);
    // what the server had written when it died: `running`, the credential that logged in
    // and the work directory it was about to create (through the state machine's own
    // transitions)
    let store =
        drover_store::Store::connect(&format!("sqlite://{}?mode=rwc", data.join("drover.db").display())).await.unwrap();
    let now = 1;
    for s in [TargetState::Connecting, TargetState::Running] {
        store.transition(TargetId(t), s, "as the killed server left it", None, now).await.unwrap().unwrap();
    }
    let u = drover_store::TargetUpdate {
        credential: Some("root".into()),
        work_dir: Some(format!("/var/lib/drover/targets/{t}")),
        ..Default::default()
    };
    store.update_target(TargetId(t), &u, now).await.unwrap();
    store.close().await;
    fleet.power_on(host);

    let _server = serve(&data, port, 4);
    up(&api.url, &data).await;
    let done = api.wait(id, Duration::from_secs(60)).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    assert_eq!(fleet.sh(host, "cat /var/tmp/runs"), "ran", "deployed exactly once");
    let log = serde_json::to_string(&api.log(id).await).unwrap();
    assert!(log.contains("it starts over"), "the log says why it ran again: {log}");
}
