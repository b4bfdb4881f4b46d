//! drover's services over the store, the SSH transport and the package share. The web
//! layer and the CLI call these; nothing here knows HTTP.

mod asset_search;
mod audit;
pub mod auth;
pub mod bundle;
pub mod datadir;
pub mod deploy;
mod deployers;
mod deployments;
pub mod error;
mod groups;
pub mod host_keys;
pub mod inventory;
mod logs;
pub mod package_edit;
pub mod packages;
pub mod passwords;
mod scan;
pub mod scheduler;
mod schedules;
pub mod secrets;
mod selections;
pub mod sessions;
pub mod share;
mod share_locations;
mod share_replica;
pub mod threads;
pub mod throttle;
pub mod vault;
pub mod wol;

pub use auth::LoginAttempt;
pub use error::{EngineError, Result};
pub use packages::Upload;

use drover_api::settings::Settings;
use drover_api::threads::ThreadsInfo;
use drover_store::Store;
use share::Share;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vault::Vault;

/// How the engine is set up; the server binary fills it from flags and environment.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This server node's name, recorded in every target's log; unique among the nodes
    /// of one database (its lease and the targets it claims go by this name).
    pub node_name: String,
    pub data_dir: PathBuf,
    /// How deployers reach this server, e.g. `http://10.0.0.1:8080`. When unset, the
    /// address the server used to reach each target, with the listening port.
    pub public_url: Option<String>,
    /// Targets deployed to at once by this node.
    pub deployment_threads: usize,
    /// Hosts an inventory scan logs in to and scans at once (addresses are probed 128
    /// at a time whatever this is).
    pub scans_at_once: usize,
    /// Time allowed for the SSH port probe.
    pub probe_timeout: Duration,
    /// Time allowed for the SSH handshake and login.
    pub connect_timeout: Duration,
    /// While a task runs, how often the server checks over SSH that it is still alive
    /// when no report arrives.
    pub liveness_interval: Duration,
    /// The deployer put on targets: one executable, or a folder of `drover-deployer-*`
    /// builds, one per architecture.
    pub deployer_path: PathBuf,
    /// Deployment logs are deleted this long after their deployment finished.
    pub log_retention: Duration,
    /// The network interface magic packets go out on (None: as routing decides).
    pub wol_interface: Option<String>,
    /// Wake-on-LAN and retry options of a deployment that does not set them.
    pub default_options: drover_domain::deployment::DeployOptions,
    /// How long an API token from a login stays valid.
    pub token_ttl: Duration,
    /// Limits of a package bundle: its upload, its expanded files, their count.
    pub bundle_limits: bundle::Limits,
    /// A key credential may pin an unknown host's key at its first login (a private-key
    /// login reveals nothing an impostor could reuse). Password credentials never do.
    pub tofu_for_keys: bool,
    /// SHA-256 (hex) of the certificate the server serves HTTPS with: deployers are sent
    /// an `https://` URL and pin it. None: the server speaks plain HTTP (asked for
    /// explicitly), and deployers are sent an `http://` URL.
    pub tls_sha256: Option<String>,
    /// How long this node holds its targets after each renewal of its lease: once it has
    /// ended (the node died or lost the database), other nodes take its targets over.
    pub lease: Duration,
    /// How often this node renews its lease (well under `lease`).
    pub heartbeat_interval: Duration,
    /// How often this node looks for work other nodes left: targets of nodes whose lease
    /// ended, queued targets no node claimed, cancel requests for its targets.
    pub dispatch_interval: Duration,
    /// How machines are reached: SSH, or a simulation (benchmarks and scale runs only).
    pub transport: drover_ssh::Transport,
    /// The IP ranges whose assets this node drives (`--serve-ranges`); every address
    /// when none. Targets of other addresses stay queued for the nodes that serve them.
    pub serve_ranges: drover_domain::serve_ranges::ServeRanges,
}

impl EngineConfig {
    pub fn new(data_dir: PathBuf, deployer_path: PathBuf) -> Self {
        EngineConfig {
            node_name: std::env::var("HOSTNAME").unwrap_or_else(|_| "drover".into()),
            data_dir,
            public_url: None,
            deployment_threads: 20,
            scans_at_once: 16,
            probe_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(15),
            liveness_interval: Duration::from_secs(30),
            deployer_path,
            log_retention: Duration::from_secs(90 * 24 * 3600),
            wol_interface: None,
            default_options: Default::default(),
            token_ttl: Duration::from_millis(auth::TOKEN_LIFETIME_MS as u64),
            bundle_limits: bundle::Limits::default(),
            tofu_for_keys: true,
            tls_sha256: None,
            lease: Duration::from_secs(15),
            heartbeat_interval: Duration::from_secs(5),
            dispatch_interval: Duration::from_secs(1),
            transport: drover_ssh::Transport::Ssh,
            serve_ranges: Default::default(),
        }
    }
}

/// The deployment threads a node may have.
const THREAD_LIMITS: std::ops::RangeInclusive<usize> = 1..=10_000;

/// Cheap to clone; every clone is the same engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    vault: Vault,
    share: Share,
    cfg: EngineConfig,
    /// The deployer builds put on targets, by architecture.
    deployers: deployers::Deployers,
    threads: threads::Threads,
    listen_port: AtomicU16,
    /// Wakes the task that waits for a target when a report for it arrives.
    waiters: Mutex<HashMap<drover_domain::ids::TargetId, deploy::Driven>>,
    /// Running targets asked to stop, with the message to end them with.
    cancels: Mutex<HashMap<drover_domain::ids::TargetId, String>>,
    /// Password hashing, bounded to the cores.
    passwords: passwords::Passwords,
    /// Failed logins per user name and client address.
    throttle: Mutex<throttle::Throttle>,
    /// Held while share files are added for a package or removed as unused, so an
    /// import and a clean-up never race over one file.
    share_lock: tokio::sync::Mutex<()>,
    /// The other live nodes deployers can reach (see `Engine::other_servers`).
    other_servers: Mutex<Vec<drover_proto::OtherServer>>,
}

impl Engine {
    /// Opens the vault key (checked against the database: a missing or different key
    /// stops the start, see [`datadir::open_vault`]) and the share in the data directory
    /// (creating them on first start), and loads the deployer executable. Share files no
    /// package lists any more are removed.
    pub async fn open(store: Store, cfg: EngineConfig) -> Result<Engine> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        let vault = datadir::open_vault(&cfg.data_dir, &store).await?;
        let share = Share::open(cfg.data_dir.join("share"))?;
        let deployers = deployers::Deployers::load(&cfg.deployer_path)?;
        let threads = threads::Threads::new(cfg.deployment_threads);
        let engine = Engine {
            inner: Arc::new(Inner {
                store,
                vault,
                share,
                cfg,
                deployers,
                threads,
                listen_port: AtomicU16::new(0),
                waiters: Mutex::new(HashMap::new()),
                cancels: Mutex::new(HashMap::new()),
                passwords: passwords::Passwords::default(),
                throttle: Mutex::new(throttle::Throttle::default()),
                share_lock: tokio::sync::Mutex::new(()),
                other_servers: Mutex::new(Vec::new()),
            }),
        };
        // this node holds a lease from its start: it claims targets only while it runs
        engine.renew_lease(now_ms()).await?;
        let cfg = engine.config();
        let url = cfg.public_url.as_deref().map(|u| u.trim_end_matches('/'));
        engine.store().set_node_address(&cfg.node_name, url, cfg.tls_sha256.as_deref()).await?;
        deploy::spawn_node_loop(Arc::downgrade(&engine.inner));
        engine.clean_uploads();
        let removed = engine.gc_share().await?;
        if removed > 0 {
            tracing::info!("removed {removed} share file(s) no package uses");
        }
        Ok(engine)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }
    pub(crate) fn vault(&self) -> &Vault {
        &self.inner.vault
    }
    pub fn share(&self) -> &Share {
        &self.inner.share
    }
    pub(crate) fn passwords(&self) -> &passwords::Passwords {
        &self.inner.passwords
    }
    pub(crate) fn share_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.share_lock
    }
    /// Runs `f` on the login throttle.
    pub(crate) fn throttle<T>(&self, f: impl FnOnce(&mut throttle::Throttle) -> T) -> T {
        f(&mut self.inner.throttle.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Deployment threads of this node: the limit and how many targets run and wait.
    pub fn threads(&self) -> ThreadsInfo {
        self.inner.threads.info()
    }

    /// Changes the deployment threads of this node, live; the change outlives a restart.
    pub async fn set_threads(&self, by: &drover_domain::executor::Executor, n: usize) -> Result<ThreadsInfo> {
        if !THREAD_LIMITS.contains(&n) {
            return Err(EngineError::Invalid(format!("deployment threads must be 1 to 10000, not {n}")));
        }
        let before = self.threads().threads;
        self.store().set_setting(&self.threads_key(), &n.to_string()).await?;
        self.inner.threads.set_limit(n);
        let detail = format!("node {}: {before} → {n}", self.config().node_name);
        self.audit_done(by, drover_domain::audit::AuditAction::ThreadsChange, &detail).await;
        Ok(self.threads())
    }

    /// At start: the thread limit an admin set live before the restart, if any (it wins
    /// over the configured start value). Returns it.
    pub async fn restore_threads(&self) -> Result<Option<usize>> {
        let saved = self.store().setting(&self.threads_key()).await?.and_then(|v| v.parse::<usize>().ok());
        if let Some(n) = saved.filter(|n| THREAD_LIMITS.contains(n)) {
            self.inner.threads.set_limit(n);
            return Ok(Some(n));
        }
        Ok(None)
    }

    fn threads_key(&self) -> String {
        format!("threads:{}", self.config().node_name)
    }

    /// The defaults a deployment gets for what it does not set, and the node's settings.
    pub fn settings(&self) -> Settings {
        let c = self.config();
        Settings {
            node: c.node_name.clone(),
            threads: self.threads().threads,
            deployment_defaults: c.default_options,
            wol_interface: c.wol_interface.clone(),
            probe_timeout_secs: c.probe_timeout.as_secs(),
            liveness_secs: c.liveness_interval.as_secs(),
            log_retention_days: c.log_retention.as_secs() / 86_400,
            tofu_for_keys: c.tofu_for_keys,
        }
    }

    /// Deletes the logs of deployments that finished more than the retention before
    /// `now_ms`; returns how many deployments went.
    pub async fn prune_logs(&self, now_ms: i64) -> Result<u64> {
        let cutoff = now_ms - self.config().log_retention.as_millis() as i64;
        Ok(self.store().delete_logs_before(cutoff).await?)
    }

    /// Tells the engine the port the HTTP server listens on (for deployer callbacks).
    pub fn set_listen_port(&self, port: u16) {
        self.inner.listen_port.store(port, Ordering::Relaxed);
    }
}

/// Milliseconds since the Unix epoch: the one place the engine reads the clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
