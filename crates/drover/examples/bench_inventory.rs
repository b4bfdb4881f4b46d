//! Benchmark (not a test): the inventory at scale. Generates N assets with M installed
//! software rows each straight into the store (bench data through the store's own tables:
//! one multi-row `INSERT … SELECT` per 1,000 assets, committed in batches), then measures
//! through the real engine — and the real HTTP API for the asset list — the p50/p95 of
//! asset-list search + page (name filter, `software=` filter, sorts), of resolving a
//! dynamic group (`os starts-with Debian and software openssl < 3`) and of a built-in
//! report (`software-missing`), and prints them against the aims (search + page p95
//! ≤ 100 ms, group resolution ≤ 1 s). A benchmark prints figures; it asserts nothing.
//!
//! ```sh
//! cargo run --release -p drover --example bench-inventory -- --assets 100000 --software-per-asset 300
//! ```
//! Runs on SQLite, and also on PostgreSQL when `--postgres URL` or
//! `DROVER_TEST_POSTGRES_URL` names an admin URL (a fresh database is created on it and
//! dropped at the end; `--skip-sqlite` runs PostgreSQL only). `--requests N`: timed
//! requests per asset-list query kind (default 30); `--repeat N`: timed runs of the group
//! and the report (default 10). `--keep-postgres` keeps the loaded PostgreSQL database
//! (its URL is printed) and `--reuse-postgres URL` measures on such a database without
//! loading it again (its migrations are brought up to date first; loading 100,000 × 300
//! takes 15-30 minutes), with the engine's data directory kept beside it
//! (`$TMPDIR/<database>-data`, its vault key): drop both when done. The engine only reads the deployer file's bytes here:
//! `DROVER_DEPLOYER`, else the benchmark's own executable.

#[path = "common/assets.rs"]
mod generated;

use drover_api::selections::{GroupFile, RuleSpec};
use drover_domain::executor::Executor;
use drover_domain::selection::Selection;
use drover_engine::{Engine, EngineConfig, now_ms};
use drover_store::Store;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Distinct generated package names (`pkg-0000` …); M must stay below it.
const CATALOGUE: usize = 5000;
const GROUP_RULE: &str = "os starts-with Debian and software openssl < 3";

struct Opts {
    assets: usize,
    software: usize,
    requests: usize,
    repeat: usize,
    postgres: Option<String>,
    sqlite: bool,
    /// Keep the PostgreSQL database after the run.
    keep: bool,
    /// Measure on this already loaded PostgreSQL database.
    reuse: Option<String>,
}

fn opts() -> anyhow::Result<Opts> {
    let mut o = Opts {
        assets: 100_000,
        software: 300,
        requests: 30,
        repeat: 10,
        postgres: std::env::var("DROVER_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()),
        sqlite: true,
        keep: false,
        reuse: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    let usage = "use --assets N --software-per-asset M --requests N --repeat N [--postgres URL] [--skip-sqlite] [--keep-postgres] [--reuse-postgres URL]";
    while let Some(a) = it.next() {
        let mut num = || -> anyhow::Result<usize> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| anyhow::anyhow!("{a} needs a number: {usage}"))
        };
        match a.as_str() {
            "--assets" => o.assets = num()?,
            "--software-per-asset" => o.software = num()?,
            "--requests" => o.requests = num()?.max(1),
            "--repeat" => o.repeat = num()?.max(1),
            "--postgres" => {
                o.postgres = Some(it.next().cloned().ok_or_else(|| anyhow::anyhow!("--postgres needs a URL"))?)
            }
            "--skip-sqlite" => o.sqlite = false,
            "--keep-postgres" => o.keep = true,
            "--reuse-postgres" => {
                o.reuse = Some(it.next().cloned().ok_or_else(|| anyhow::anyhow!("--reuse-postgres needs a URL"))?)
            }
            other => anyhow::bail!("unknown argument {other}: {usage}"),
        }
    }
    anyhow::ensure!(o.software >= 2 && o.software < CATALOGUE, "--software-per-asset must be 2 to {}", CATALOGUE - 1);
    anyhow::ensure!(
        o.sqlite || o.postgres.is_some() || o.reuse.is_some(),
        "--skip-sqlite needs --postgres URL, --reuse-postgres URL or DROVER_TEST_POSTGRES_URL"
    );
    Ok(o)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One line of the result table.
struct Row {
    what: String,
    p50: Duration,
    p95: Duration,
    aim: Option<Duration>,
    note: String,
}

impl Row {
    fn new(what: &str, mut times: Vec<Duration>, aim: Option<Duration>, note: String) -> Row {
        times.sort();
        Row { what: what.into(), p50: percentile(&times, 0.5), p95: percentile(&times, 0.95), aim, note }
    }
}

/// Fills the store: assets (500 a statement), then their software (one `INSERT … SELECT`
/// over a generated series per 1,000 assets, a commit every 10 statements). Software row
/// 0 is `openssl` (1.1.1w on a third of the assets, else 3.0.15), row 1 `nginx` (missing,
/// `apache2` instead, on a quarter), the rest `pkg-NNNN` from a catalogue of 5,000 names.
async fn generate(url: &str, o: &Opts) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await?;
    let started = Instant::now();
    generated::insert_assets(&pool, o.assets).await?;
    println!("  {} assets inserted in {:.1} s", o.assets, started.elapsed().as_secs_f64());

    let started = Instant::now();
    let (lo, hi): (i64, i64) = sqlx::query_as("SELECT MIN(id), MAX(id) FROM assets").fetch_one(&pool).await?;
    let m = o.software as i64;
    let step = 1000i64;
    let mut tx = pool.begin().await?;
    let mut statements = 0;
    let mut from = lo;
    while from <= hi {
        let to = (from + step - 1).min(hi);
        let sql = format!(
            "INSERT INTO asset_software (asset_id, name, version) \
             WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < {last}) \
             SELECT a.id, \
                    CASE WHEN s.k = 0 THEN 'openssl' \
                         WHEN s.k = 1 THEN (CASE WHEN a.id % 4 = 0 THEN 'apache2' ELSE 'nginx' END) \
                         ELSE 'pkg-' || ((a.id + s.k) % {CATALOGUE}) END, \
                    CASE WHEN s.k = 0 THEN (CASE WHEN a.id % 3 = 0 THEN '1.1.1w-0+deb11u1' ELSE '3.0.15-1~deb12u1' END) \
                         ELSE '1.' || (s.k % 10) || '.' || (a.id % 7) || '-1' END \
             FROM assets a, s WHERE a.id BETWEEN {from} AND {to}",
            last = m - 1
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
        statements += 1;
        if statements % 10 == 0 {
            tx.commit().await?;
            tx = pool.begin().await?;
            if statements % 100 == 0 {
                println!("  … software of {} assets in {:.0} s", (to - lo + 1), started.elapsed().as_secs_f64());
            }
        }
        from = to + 1;
    }
    tx.commit().await?;
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM asset_software").fetch_one(&pool).await?;
    println!("  {} software rows inserted in {:.1} s", rows.0, started.elapsed().as_secs_f64());
    if url.starts_with("postgres") {
        // autovacuum would analyze the new tables shortly after a load this size
        let t = Instant::now();
        sqlx::query("ANALYZE").execute(&pool).await?;
        println!("  ANALYZE (PostgreSQL) in {:.1} s", t.elapsed().as_secs_f64());
    }
    pool.close().await;
    Ok(())
}

/// A new, empty database on the PostgreSQL server of `admin`: its URL and name.
async fn postgres_database(admin: &str) -> anyhow::Result<(String, String)> {
    let name = format!("drover_bench_{:016x}", rand::random::<u64>());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("bad PostgreSQL URL: postgres://user:password@host:port/database"))?;
    Ok((format!("{base}/{name}"), name))
}

async fn drop_postgres_database(admin: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await?;
    Ok(())
}

/// The asset-list queries: a name filter, `software=` filters, sorts, deep pages.
const QUERIES: [&str; 6] = [
    "name=host-09&sort=name&offset=50",
    "sort=last_seen&dir=desc&offset=0",
    "os=debian&sort=os&dir=desc&offset=5000",
    "software=openssl&sort=name&offset=0",
    "software=pkg-123&sort=last_seen&dir=desc&offset=100",
    "software=nginx&name=host-07&sort=name&offset=0",
];

/// The engine's data directory for a kept or reused PostgreSQL database (its vault key
/// must match the database's): next to the system's temporary files, named by the database.
fn kept_data_dir(url: &str) -> std::path::PathBuf {
    let name = url.rsplit('/').next().unwrap_or("drover_bench");
    std::env::temp_dir().join(format!("{name}-data"))
}

/// Measures on the database at `url`; `kept`: the engine's data directory lives on with it.
async fn measure(url: &str, o: &Opts, kept: bool) -> anyhow::Result<Vec<Row>> {
    let store = Store::connect(url).await?;
    let temp = tempfile::tempdir()?;
    let data = if kept { kept_data_dir(url) } else { temp.path().to_path_buf() };
    std::fs::create_dir_all(&data)?;
    let deployer = match std::env::var("DROVER_DEPLOYER") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => std::env::current_exe()?,
    };
    let engine = Engine::open(store, EngineConfig::new(data, deployer)).await?;
    engine.ensure_first_admin(Some("bench-password".into()), now_ms()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let e = engine.clone();
    tokio::spawn(async move { drover_web::serve(listener, e, std::future::pending()).await });

    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"name": "admin", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = token["token"].as_str().unwrap_or_default().to_string();

    let mut rows = Vec::new();
    let mut all = Vec::new();
    for q in QUERIES {
        let url = format!("{base}/api/v1/assets?limit=50&{q}");
        // one untimed request first: the figures are of a warm page cache
        let first: serde_json::Value = http.get(&url).bearer_auth(&token).send().await?.json().await?;
        let total = first["total"].as_i64().map_or_else(|| "?".to_string(), |t| t.to_string());
        let mut times = Vec::with_capacity(o.requests);
        for _ in 0..o.requests {
            let t = Instant::now();
            let resp = http.get(&url).bearer_auth(&token).send().await?;
            let status = resp.status();
            resp.bytes().await?;
            times.push(t.elapsed());
            anyhow::ensure!(status.is_success(), "GET /api/v1/assets?{q}: {status}");
        }
        all.extend(times.iter().copied());
        rows.push(Row::new(&format!("  {q}"), times, None, format!("{total} match")));
    }
    rows.insert(0, Row::new("asset list search+page (API, all)", all, Some(Duration::from_millis(100)), String::new()));

    let admin = Executor::User("admin".into());
    let group = GroupFile {
        name: "bench-debian-old-openssl".into(),
        description: String::new(),
        rule: Some(RuleSpec::Text(GROUP_RULE.into())),
        members: vec![],
    };
    if engine.group_detail("bench-debian-old-openssl").await.is_ok() {
        // a reused database holds the group of an earlier run
        engine.delete_group("bench-debian-old-openssl", &admin).await?;
    }
    let t = Instant::now();
    engine.create_group(group, &admin).await?;
    println!("  group created (and resolved once) in {:.0} ms", ms(t.elapsed()));
    let (mut detail, mut selection) = (Vec::new(), Vec::new());
    let mut members = 0;
    for _ in 0..o.repeat {
        let t = Instant::now();
        members = engine.group_detail("bench-debian-old-openssl").await?.members.len();
        detail.push(t.elapsed());
        let t = Instant::now();
        engine.resolve_selection(&Selection::Group { group: "bench-debian-old-openssl".into() }).await?;
        selection.push(t.elapsed());
    }
    let aim = Some(Duration::from_secs(1));
    rows.push(Row::new("dynamic group resolution (engine)", detail, aim, format!("{members} members: {GROUP_RULE}")));
    rows.push(Row::new("  same group as a deployment's selection", selection, aim, String::new()));

    let params = BTreeMap::from([("software".to_string(), "nginx".to_string())]);
    let mut times = Vec::new();
    let mut answered = String::new();
    for _ in 0..o.repeat {
        let t = Instant::now();
        let run = engine.run_report("software-missing", &params).await?;
        times.push(t.elapsed());
        answered = format!("{} rows{}", run.result.rows.len(), if run.result.truncated { " (capped)" } else { "" });
    }
    rows.push(Row::new("report software-missing nginx (engine)", times, None, answered));
    Ok(rows)
}

fn print(title: &str, rows: &[Row]) {
    println!();
    println!("{title}");
    println!("{:<62} {:>9} {:>9} {:>10} {:>5}  note", "measure", "p50 ms", "p95 ms", "aim p95", "met");
    for r in rows {
        let (aim, met) = match r.aim {
            Some(a) => (format!("≤ {:.0} ms", ms(a)), if r.p95 <= a { "yes" } else { "NO" }),
            None => (String::new(), ""),
        };
        println!("{:<62} {:>9.1} {:>9.1} {:>10} {:>5}  {}", r.what, ms(r.p50), ms(r.p95), aim, met, r.note);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = opts()?;
    println!(
        "bench-inventory: {} assets × {} software rows, {} requests per query, {} runs per group/report",
        o.assets, o.software, o.requests, o.repeat
    );
    if o.sqlite {
        let data = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", data.path().join("drover.db").display());
        drop(Store::connect(&url).await?);
        println!("SQLite: generating");
        generate(&url, &o).await?;
        let rows = measure(&url, &o, false).await?;
        print(&format!("SQLite, {} assets × {} software", o.assets, o.software), &rows);
    }
    if let Some(url) = &o.reuse {
        println!("PostgreSQL: reusing the loaded database {url}");
        let rows = measure(url, &o, true).await?;
        print(&format!("PostgreSQL (reused database), {} assets × {} software", o.assets, o.software), &rows);
    } else if let Some(admin) = &o.postgres {
        let (url, name) = postgres_database(admin).await?;
        let result = async {
            drop(Store::connect(&url).await?);
            println!("PostgreSQL: generating");
            generate(&url, &o).await?;
            measure(&url, &o, o.keep).await
        }
        .await;
        if o.keep {
            println!(
                "PostgreSQL: kept {url} and {} (measure again with --reuse-postgres {url}; \
                 DROP DATABASE {name} and remove that directory when done)",
                kept_data_dir(&url).display()
            );
        } else {
            drop_postgres_database(admin, &name).await?;
        }
        print(&format!("PostgreSQL, {} assets × {} software", o.assets, o.software), &result?);
    }
    Ok(())
}
