//! `drover serve`: opens the store named by the database URL (embedded SQLite in the data
//! directory by default, or PostgreSQL), creates the first admin, and serves.

use anyhow::{Context, bail};
use drover_engine::{Engine, EngineConfig, now_ms};
use drover_store::Store;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Where drover keeps its database (SQLite), share files and secret key.
    #[arg(long, env = "DROVER_DATA_DIR", default_value = "./drover-data")]
    data_dir: PathBuf,
    /// `postgres://user:pass@host/db` for PostgreSQL; default: SQLite in the data directory.
    #[arg(long, env = "DROVER_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Address and port for the console, the API and deployer callbacks.
    #[arg(long, env = "DROVER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// URL targets use to reach this server (default: the address each target sees
    /// this server at, with the listening port).
    #[arg(long, env = "DROVER_PUBLIC_URL")]
    public_url: Option<String>,
    /// Targets deployed to at once by this node.
    #[arg(long, env = "DROVER_THREADS", default_value_t = 20)]
    threads: usize,
    /// Hosts an inventory scan logs in to and scans at once.
    #[arg(long, env = "DROVER_SCANS_AT_ONCE", default_value_t = 16)]
    scans_at_once: usize,
    /// The deployer put on targets: a static executable, or a folder of
    /// `drover-deployer-*` builds, one per architecture (default: drover-deployer next
    /// to drover).
    #[arg(long, env = "DROVER_DEPLOYER")]
    deployer: Option<PathBuf>,
    /// Name of this server node in logs.
    #[arg(long, env = "DROVER_NODE_NAME")]
    node_name: Option<String>,
    /// Days to keep the logs of finished deployments.
    #[arg(long, env = "DROVER_LOG_RETENTION_DAYS", default_value_t = 90)]
    log_retention_days: u64,
    /// Seconds this node holds its targets after each renewal of its lease; other nodes
    /// of the same database take its unfinished targets over once it has ended.
    #[arg(long, env = "DROVER_LEASE_SECS", default_value_t = 15)]
    lease_secs: u64,
    /// Seconds between renewals of this node's lease (well under --lease-secs).
    #[arg(long, env = "DROVER_HEARTBEAT_SECS", default_value_t = 5)]
    heartbeat_secs: u64,
    /// IP ranges whose assets this node drives, comma-separated or repeated (CIDR
    /// 10.1.0.0/16 or first-last 10.0.0.5-10.0.0.40), e.g. `--serve-ranges
    /// 10.1.0.0/16,10.2.3.0/24`: targets elsewhere stay queued for the nodes that serve
    /// them. Default: every address.
    #[arg(long, env = "DROVER_SERVE_RANGES", value_name = "RANGES")]
    serve_ranges: Vec<String>,
    /// Seconds between checks that a running task is still alive.
    #[arg(long, env = "DROVER_LIVENESS_SECS", default_value_t = 30)]
    liveness_secs: u64,
    /// Network interface Wake-on-LAN packets go out on (default: as routing decides).
    #[arg(long, env = "DROVER_WOL_INTERFACE")]
    wol_interface: Option<String>,
    /// Default estimated boot time after Wake-on-LAN, in seconds.
    #[arg(long, env = "DROVER_BOOT_SECS", default_value_t = 120)]
    boot_secs: u64,
    /// Default seconds between attempts of an offline target in the retry queue.
    #[arg(long, env = "DROVER_RETRY_INTERVAL_SECS", default_value_t = 600)]
    retry_interval_secs: u64,
    /// Default seconds after a deployment starts when its retries end.
    #[arg(long, env = "DROVER_RETRY_EXPIRY_SECS", default_value_t = 86_400)]
    retry_expiry_secs: u64,
    /// Largest package bundle, in MiB: the upload, and its files once expanded.
    #[arg(long, env = "DROVER_MAX_BUNDLE_MB", default_value_t = 2048)]
    max_bundle_mb: u64,
    /// Most files in one package bundle.
    #[arg(long, env = "DROVER_MAX_BUNDLE_FILES", default_value_t = 10_000)]
    max_bundle_files: usize,
    /// Hours an API token from a login stays valid.
    #[arg(long, env = "DROVER_TOKEN_TTL_HOURS", default_value_t = 720)]
    token_ttl_hours: u64,
    /// Whether a key credential pins an unknown host's key at its first login (passwords
    /// never go to a host whose key an admin did not pin).
    #[arg(long, env = "DROVER_TOFU_FOR_KEYS", default_value_t = true, action = clap::ArgAction::Set)]
    tofu_for_keys: bool,
    /// PEM certificate chain to serve HTTPS with (with --tls-key; default: a self-signed
    /// certificate made on first start, `tls-cert.pem` in the data directory).
    #[arg(long, env = "DROVER_TLS_CERT", requires = "tls_key", conflicts_with = "insecure_http")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "DROVER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS. Logins, API tokens, deployer tokens and package
    /// files then cross the network in clear: only behind a proxy that terminates TLS on
    /// the same machine, or on a test network.
    #[arg(long, env = "DROVER_INSECURE_HTTP")]
    insecure_http: bool,
}

fn default_deployer() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the drover executable's folder")?;
    let path = exe.with_file_name("drover-deployer");
    if !path.exists() {
        bail!(
            "the deployer executable is not at {}: build it (cargo build -p drover-deployer) or pass --deployer",
            path.display()
        );
    }
    Ok(path)
}

pub async fn run(a: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,russh=warn".into()),
        )
        .init();
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("cannot create the data directory {}", a.data_dir.display()))?;
    let data_dir = a.data_dir.canonicalize()?;
    {
        // the database, the share and the key that encrypts credentials: owner only
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {} to its owner", data_dir.display()))?;
    }
    let cert = if a.insecure_http { None } else { Some(server_cert(&a, &data_dir)?) };
    let url = match a.database {
        Some(u) => u,
        None => format!("sqlite://{}?mode=rwc", data_dir.join("drover.db").display()),
    };
    let store = Store::connect(&url).await.context("cannot open the database")?;
    let mut cfg = EngineConfig::new(data_dir.clone(), a.deployer.map_or_else(default_deployer, Ok)?);
    if let (Some(_), Some(url)) = (&cert, &a.public_url)
        && !url.starts_with("https://")
    {
        bail!(
            "--public-url {url} is not an https:// URL, but this server serves HTTPS: give its https:// URL, or serve plain HTTP with --insecure-http"
        );
    }
    cfg.tls_sha256 = cert.as_ref().map(|c| c.sha256.clone());
    cfg.public_url = a.public_url;
    cfg.deployment_threads = a.threads;
    cfg.scans_at_once = a.scans_at_once;
    cfg.liveness_interval = Duration::from_secs(a.liveness_secs.max(1));
    cfg.log_retention = Duration::from_secs(a.log_retention_days.max(1) * 24 * 3600);
    cfg.wol_interface = a.wol_interface;
    cfg.tofu_for_keys = a.tofu_for_keys;
    cfg.default_options.boot_secs = a.boot_secs;
    cfg.default_options.retry_interval_secs = a.retry_interval_secs;
    cfg.default_options.retry_expiry_secs = a.retry_expiry_secs;
    cfg.default_options.validate().map_err(|e| anyhow::anyhow!("bad deployment defaults: {e}"))?;
    if a.heartbeat_secs == 0 || a.heartbeat_secs * 2 > a.lease_secs {
        bail!(
            "--heartbeat-secs {} with --lease-secs {}: renew the lease at least twice within it (e.g. --lease-secs 15 --heartbeat-secs 5)",
            a.heartbeat_secs,
            a.lease_secs
        );
    }
    cfg.lease = Duration::from_secs(a.lease_secs);
    cfg.heartbeat_interval = Duration::from_secs(a.heartbeat_secs);
    cfg.serve_ranges = drover_domain::serve_ranges::ServeRanges::parse(&a.serve_ranges).map_err(|e| {
        anyhow::anyhow!(
            "--serve-ranges: {e} (e.g. --serve-ranges 10.1.0.0/16,10.2.3.0/24; leave it out to serve every address)"
        )
    })?;
    if let Some(n) = a.node_name {
        cfg.node_name = n;
    }
    let bundle_bytes = a.max_bundle_mb.max(1) * 1024 * 1024;
    cfg.bundle_limits = drover_engine::bundle::Limits {
        max_upload_bytes: bundle_bytes,
        max_expanded_bytes: bundle_bytes,
        max_files: a.max_bundle_files.max(1),
    };
    cfg.token_ttl = Duration::from_secs(a.token_ttl_hours.max(1) * 3600);
    let backend = store.backend();
    let engine = Engine::open(store, cfg).await.map_err(|e| anyhow::anyhow!("cannot start: {e}"))?;
    let given = std::env::var("DROVER_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    let from_env = given.is_some();
    if let Some(pw) = engine.ensure_first_admin(given, now_ms()).await.map_err(|e| anyhow::anyhow!("{e}"))?
        && !from_env
    {
        let file = data_dir.join("initial-admin-password");
        // a stale file (or a planted symlink) goes; the new one is created, never followed
        let _ = std::fs::remove_file(&file);
        drover_engine::datadir::write_private(&file, format!("{pw}\n").as_bytes())?;
        eprintln!(
            "First start: created user 'admin' with password {pw}\n(also saved in {}; change it with `drover passwd` after logging in)",
            file.display()
        );
    }
    let listener =
        tokio::net::TcpListener::bind(&a.listen).await.with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    engine.set_listen_port(addr.port());
    if let Some(n) = engine.restore_threads().await?
        && n != a.threads
    {
        eprintln!(
            "deployment threads: {n}, as an admin last set them live (--threads {} is only the start value)",
            a.threads
        );
    }
    let resumed = engine.recover().await.context("cannot pick up the targets left unfinished")?;
    if resumed > 0 {
        eprintln!("picked up {resumed} target(s) left unfinished by the previous run");
    }
    match &cert {
        Some(c) => eprintln!(
            "drover {} listening on https://{addr} (database: {backend})\nTLS certificate {}\n  SHA-256 fingerprint {}\n(`drover login` shows this fingerprint: compare it before you accept it)",
            env!("CARGO_PKG_VERSION"),
            c.cert_path.display(),
            drover_domain::cert_fingerprint::show(&c.sha256),
        ),
        None => eprintln!(
            "drover {} listening on http://{addr} (database: {backend}); PLAIN HTTP (--insecure-http): logins, tokens and package files cross the network in clear",
            env!("CARGO_PKG_VERSION")
        ),
    }
    let pruner = engine.clone();
    tokio::spawn(async move {
        loop {
            match pruner.prune_logs(now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("deleted the logs of {n} deployment(s) past the retention"),
                Err(e) => tracing::warn!("log retention: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
    // fires the deployment configurations that are due, once a second
    let _scheduler = engine.spawn_scheduler(Duration::from_secs(1), now_ms);
    // every minute: the targets of the last 24 h whose machine was unreachable when they
    // ended have their true outcome read from the machine, once it answers
    let _reconciler = engine.spawn_reconciler(Duration::from_secs(60), Duration::from_secs(24 * 3600), now_ms);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match &cert {
        Some(c) => drover_web::serve_tls(listener, engine, drover_web::ServeLimits::default(), c, shutdown).await?,
        None => drover_web::serve(listener, engine, shutdown).await?,
    }
    Ok(())
}

/// The certificate given with --tls-cert/--tls-key, or the data directory's own (made
/// on first start for this machine's names, the listen address and the public URL).
fn server_cert(a: &ServeArgs, data_dir: &std::path::Path) -> anyhow::Result<drover_engine::datadir::tls::ServerCert> {
    use drover_engine::datadir::tls;
    if let (Some(cert), Some(key)) = (&a.tls_cert, &a.tls_key) {
        return tls::from_files(cert, key).map_err(|e| anyhow::anyhow!("{e}"));
    }
    let mut addresses = vec![a.listen.as_str()];
    if let Some(u) = &a.public_url {
        addresses.push(u);
    }
    let cert = tls::load_or_create(data_dir, &tls::default_names(&addresses)).map_err(|e| anyhow::anyhow!("{e}"))?;
    if cert.created {
        eprintln!("First start: made a self-signed TLS certificate, {}", cert.cert_path.display());
    }
    Ok(cert)
}
