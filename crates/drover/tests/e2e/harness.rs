//! The server under test: the real router on port 0 over a fresh store, a small API
//! client, and [`eventually`], the one way a test waits for something to happen.

use drover_engine::{Engine, EngineConfig};
use drover_store::Store;
use serde_json::{Value, json};
use std::fmt::Display;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often [`eventually`] probes.
const POLL: Duration = Duration::from_millis(100);

/// Waits for something to happen: runs `probe` every 100 ms until it answers `Ok`, and
/// returns that value. The probe runs at least once, and once more when `limit` has
/// passed; if that one is still `Err`, panics naming `what` (what was awaited, e.g.
/// "deployment 3 to end") and the probe's last `Err`: what it saw instead. Probes may
/// block (e.g. `fleet.exec`): the tests run on tokio's multi-thread runtime.
pub async fn eventually<T, E: Display>(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> Result<T, E>) -> T {
    let start = Instant::now();
    loop {
        let seen = match probe().await {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        let waited = start.elapsed();
        assert!(waited < limit, "waited {limit:?} for {what}; last seen:\n{seen:#}");
        tokio::time::sleep(POLL.min(limit - waited)).await;
    }
}

/// A probe's answer for [`eventually`] from a condition and what was seen: `Ok(seen)`
/// when `done`, else `Err(seen)`.
pub fn done_if<T>(done: bool, seen: T) -> Result<T, T> {
    if done { Ok(seen) } else { Err(seen) }
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A logged-in client of a drover server's API (over HTTPS, trusting the server's
/// certificate by its SHA-256, as a deployer does).
pub struct Api {
    pub url: String,
    /// SHA-256 (hex) of the server's certificate.
    pub cert_sha256: String,
    pub token: String,
    pub http: reqwest::Client,
}

/// The server under test, in this process; derefs to its [`Api`].
pub struct Server {
    api: Api,
    pub engine: Engine,
    pub data: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl std::ops::Deref for Server {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// The target triple the deployer is built for, statically (`+crt-static`), so that it
/// starts on every x86_64 Linux whatever its glibc.
pub const DEPLOYER_TARGET: &str = "x86_64-unknown-linux-gnu";

/// The static deployer the tests put on the hosts:
/// `target/x86_64-unknown-linux-gnu/<profile>/drover-deployer`, where a release build
/// (the benchmarks) takes the deployer's own release profile, `deployer` (or
/// `DROVER_DEPLOYER`).
pub fn deployer_path() -> PathBuf {
    if let Ok(p) = std::env::var("DROVER_DEPLOYER") {
        return PathBuf::from(p);
    }
    let (target, profile) = target_dir_and_profile();
    let (dir, flag) = if profile == "release" { ("deployer", " --profile deployer") } else { (profile.as_str(), "") };
    let p = target.join(DEPLOYER_TARGET).join(dir).join("drover-deployer");
    assert!(
        p.exists(),
        "{} is missing: build the static deployer first (RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build{flag} -p drover-deployer --target {DEPLOYER_TARGET}), or run the README's test command",
        p.display()
    );
    p
}

/// The deployer as a plain `cargo build -p drover-deployer` makes it, linked dynamically
/// against this machine's glibc: `target/<profile>/drover-deployer`.
pub fn dynamic_deployer_path() -> PathBuf {
    let (target, profile) = target_dir_and_profile();
    target.join(profile).join("drover-deployer")
}

/// Cargo's target directory and the profile of this build: tests run from
/// target/<profile>/deps/, benchmarks from target/<profile>/examples/.
fn target_dir_and_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile> dir");
    let profile = profile_dir.file_name().expect("profile name").to_string_lossy().into_owned();
    let target = profile_dir.parent().expect("target dir").to_path_buf();
    (target, profile)
}

async fn store_for(backend: Backend, data: &std::path::Path) -> Store {
    match backend {
        Backend::Sqlite => Store::connect(&format!("sqlite://{}?mode=rwc", data.join("drover.db").display()))
            .await
            .expect("sqlite store"),
        Backend::Postgres => Store::connect(&postgres_database().await).await.expect("postgres store"),
    }
}

/// A new, empty database on the test PostgreSQL (`DROVER_TEST_POSTGRES_URL`); its URL.
pub async fn postgres_database() -> String {
    let admin = std::env::var("DROVER_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("DROVER_TEST_POSTGRES_URL is not set: start a test server with `scripts/pg-test-server` and export its URL (the README's test command does both)")
    });
    let name = format!("drover_e2e_{:016x}", rand::random::<u64>());
    sqlx::any::install_default_drivers();
    let mut conn =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.expect("connect to test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("bad DROVER_TEST_POSTGRES_URL {admin}"),
    }
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tune: impl FnOnce(&mut EngineConfig)) -> Server {
        Self::start_serving(backend, tune, drover_web::ServeLimits::default()).await
    }

    /// A server with its engine tuned and the HTTP server's limits given.
    pub async fn start_serving(
        backend: Backend,
        tune: impl FnOnce(&mut EngineConfig),
        limits: drover_web::ServeLimits,
    ) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        let store = store_for(backend, data.path()).await;
        Self::start_on_store(store, data, tune, limits).await
    }

    /// A server that serves HTTPS with the PEM certificate chain and key given (as
    /// `--tls-cert`/`--tls-key`) instead of a self-signed one of its own.
    pub async fn start_with_cert(backend: Backend, cert_pem: &str, key_pem: &str) -> Server {
        use drover_engine::datadir::tls::{CERT_FILE, KEY_FILE};
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().expect("tempdir");
        std::fs::write(data.path().join(CERT_FILE), cert_pem).expect("write certificate");
        std::fs::write(data.path().join(KEY_FILE), key_pem).expect("write key");
        std::fs::set_permissions(data.path().join(KEY_FILE), std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let store = store_for(backend, data.path()).await;
        Self::start_on_store(store, data, |_| {}, drover_web::ServeLimits::default()).await
    }

    /// Another node over the database at `url`, with the credential key of `key_of`
    /// (nodes of one database share `secret.key`).
    pub async fn start_node(url: &str, key_of: Option<&Server>, tune: impl FnOnce(&mut EngineConfig)) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        if let Some(other) = key_of {
            std::fs::copy(other.data.path().join("secret.key"), data.path().join("secret.key")).expect("copy key");
        }
        let store = Store::connect(url).await.expect("store");
        Self::start_on_store(store, data, tune, drover_web::ServeLimits::default()).await
    }

    async fn start_on_store(
        store: Store,
        data: tempfile::TempDir,
        tune: impl FnOnce(&mut EngineConfig),
        limits: drover_web::ServeLimits,
    ) -> Server {
        // HTTPS, as `drover serve` by default: a certificate made in the data directory
        let names = ["localhost".to_string(), "127.0.0.1".to_string()];
        let cert = drover_engine::datadir::tls::load_or_create(data.path(), &names).expect("TLS certificate");
        let mut cfg = EngineConfig::new(data.path().to_path_buf(), deployer_path());
        cfg.tls_sha256 = Some(cert.sha256.clone());
        cfg.node_name = "test-node".into();
        cfg.liveness_interval = Duration::from_secs(2);
        cfg.probe_timeout = Duration::from_secs(2);
        tune(&mut cfg);
        let engine = Engine::open(store, cfg).await.expect("engine");
        engine.ensure_first_admin(Some("admin-password".into()), drover_engine::now_ms()).await.expect("admin");
        // All addresses, so that hosts on every test bridge can call back.
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let sha256 = cert.sha256.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let e = engine.clone();
        tokio::spawn(async move {
            let _ = drover_web::serve_tls(listener, e, limits, &cert, async {
                let _ = rx.await;
            })
            .await;
        });
        let api = Api::login(&format!("https://127.0.0.1:{port}"), &sha256, "admin-password").await;
        Server { api, engine, data, _shutdown: tx }
    }

    /// The usual start: `hosts` test hosts, a server, a root password credential named
    /// `root` and one asset per host mapped to it.
    pub async fn with_root_fleet(backend: Backend, hosts: usize) -> (crate::fleet::Fleet, Server, Vec<String>) {
        let fleet = crate::fleet::Fleet::up(hosts);
        let server = Server::start(backend).await;
        server.credential("root", json!({"username": "root", "password": crate::fleet::ROOT_PASSWORD})).await;
        let assets = server.assets(&fleet, "root").await;
        (fleet, server, assets)
    }
}

impl Api {
    /// Logs in as admin to the server at `url` whose certificate has `cert_sha256`.
    pub async fn login(url: &str, cert_sha256: &str, password: &str) -> Api {
        let http = crate::tls::client(cert_sha256);
        let v: Value = http
            .post(format!("{url}/api/v1/session"))
            .json(&json!({"name": "admin", "password": password}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login json");
        let token = v["token"].as_str().expect("token").to_string();
        Api { url: url.to_string(), cert_sha256: cert_sha256.to_string(), token, http }
    }

    /// A request to the API; returns (status, JSON body).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self.http.request(method, format!("{}/api/v1{path}", self.url)).bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status().as_u16();
        let v = resp.json().await.unwrap_or(Value::Null);
        (status, v)
    }

    /// A request that must succeed. Adding an asset for a fleet host (`POST /assets`)
    /// also pins that host's key as an admin would, importing its known_hosts line:
    /// password credentials go only to hosts whose key an admin pinned. Tests of unpinned
    /// hosts add their assets with [`Api::call`].
    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let address = (method == reqwest::Method::POST && path == "/assets")
            .then(|| body.as_ref().and_then(|b| b["address"].as_str().map(str::to_string)))
            .flatten();
        let (status, v) = self.call(method.clone(), path, body).await;
        assert!((200..300).contains(&status), "{method} {path} → {status}: {v}");
        if let Some(line) = address.as_deref().and_then(crate::fleet::known_host_line) {
            let (status, pinned) =
                self.call(reqwest::Method::POST, "/host-keys/import", Some(json!({"known_hosts": line}))).await;
            assert_eq!(status, 200, "pinning the key of {line}: {pinned}");
        }
        v
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(reqwest::Method::POST, path, Some(body)).await
    }

    /// Imports a bundle made from a package.toml text and files.
    pub async fn import(&self, toml: &str, files: &[(&str, &[u8])]) -> (u16, Value) {
        let bytes = bundle(toml, files);
        let resp = self
            .http
            .post(format!("{}/api/v1/packages", self.url))
            .bearer_auth(&self.token)
            .body(bytes)
            .send()
            .await
            .expect("import");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Adds a credential and returns its name.
    pub async fn credential(&self, name: &str, body: Value) -> String {
        let mut b = body;
        b["name"] = name.into();
        self.post("/credentials", b).await;
        name.to_string()
    }

    /// Adds one asset per host, mapped to the credential; returns their names.
    pub async fn assets(&self, fleet: &crate::fleet::Fleet, credential: &str) -> Vec<String> {
        let mut names = Vec::new();
        for h in &fleet.hosts {
            self.post("/assets", json!({"name": h.name, "address": h.ip, "credential": credential})).await;
            names.push(h.name.clone());
        }
        names
    }

    /// Deploys and waits until every target has ended (or panics after `limit`).
    pub async fn deploy_and_wait(&self, body: Value, limit: Duration) -> Value {
        let v = self.post("/deployments", body).await;
        let id = v["deployment"]["id"].as_i64().expect("deployment id");
        self.wait(id, limit).await
    }

    /// Waits until every target of the deployment has ended (or panics after `limit`).
    pub async fn wait(&self, id: i64, limit: Duration) -> Value {
        eventually(&format!("deployment {id} to end"), limit, async || {
            let v = self.get(&format!("/deployments/{id}")).await;
            let targets = v["targets"].as_array().expect("targets");
            done_if(targets.iter().all(|t| is_final(t["state"].as_str().unwrap_or(""))), v)
        })
        .await
    }

    pub async fn log(&self, deployment: i64) -> Vec<Value> {
        self.get(&format!("/logs?deployment={deployment}")).await.as_array().cloned().unwrap_or_default()
    }
}

pub fn is_final(state: &str) -> bool {
    matches!(state, "success" | "failed" | "timed_out" | "offline" | "cancelled")
}

pub fn bundle(toml: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut add = |path: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, bytes).expect("tar");
    };
    add("package.toml", toml.as_bytes());
    for (p, b) in files {
        add(&format!("files/{p}"), b);
    }
    tar.into_inner().expect("tar").finish().expect("gz")
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::{done_if, eventually};
    use std::time::Duration;

    #[tokio::test]
    async fn eventually_returns_the_first_ok() {
        let mut probes = 0;
        let seen = eventually("the third probe", Duration::from_secs(5), async || {
            probes += 1;
            done_if(probes == 3, probes)
        })
        .await;
        assert_eq!(seen, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waited 300ms for the hundredth probe; last seen:\n")]
    async fn eventually_panics_at_the_limit_with_what_it_saw() {
        let mut probes = 0;
        eventually("the hundredth probe", Duration::from_millis(300), async || {
            probes += 1;
            done_if(probes == 100, probes)
        })
        .await;
    }
}
