//! Benchmark: the asset list over 100,000 assets in SQLite. Inserts them (one
//! transaction), starts the real server on port 0 and times search + page requests —
//! the JSON API's `GET /api/v1/assets?…` and the console's `/assets?…` page — and prints
//! p50/p95. A benchmark prints figures; it asserts nothing.
//!
//! `cargo run --release -p drover --example bench-assets [-- N]` (N requests per kind,
//! default 200). The engine only reads the deployer file's bytes here: `DROVER_DEPLOYER`,
//! else the benchmark's own executable.

#[path = "common/assets.rs"]
mod generated;

use drover_engine::{Engine, EngineConfig, now_ms};
use drover_store::Store;
use std::time::{Duration, Instant};

const ASSETS: usize = 100_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let data = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", data.path().join("drover.db").display());
    let store = Store::connect(&url).await?;

    let started = Instant::now();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await?;
    generated::insert_assets(&pool, ASSETS).await?;
    pool.close().await;
    println!("inserted {ASSETS} assets in {:.1} s", started.elapsed().as_secs_f64());

    // only the file's bytes are read: any file will do when no deployer is named
    let deployer = match std::env::var("DROVER_DEPLOYER") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => std::env::current_exe()?,
    };
    let engine = Engine::open(store, EngineConfig::new(data.path().to_path_buf(), deployer)).await?;
    engine.ensure_first_admin(Some("bench-password".into()), now_ms()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let e = engine.clone();
    tokio::spawn(async move { drover_web::serve(listener, e, std::future::pending()).await });

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let token: serde_json::Value = http
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"name": "admin", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = token["token"].as_str().unwrap_or_default().to_string();
    let login =
        http.post(format!("{base}/login")).form(&[("name", "admin"), ("password", "bench-password")]).send().await?;
    let cookie = login.headers()["set-cookie"].to_str()?.split(';').next().unwrap_or_default().to_string();

    let queries = [
        "sort=name&dir=asc&offset=0",
        "name=host-09&sort=name&offset=50",
        "os=debian&sort=os&dir=desc&offset=5000",
        "arch=aarch64&name=7&sort=last_seen&offset=100",
        "hostname=example&sort=address&offset=99950",
        "name=zzz-no-match",
    ];
    // the console pages by `page` (50 a page) where the API takes `offset`
    let console_query = |q: &str| -> String {
        q.split('&')
            .map(|kv| match kv.strip_prefix("offset=").and_then(|o| o.parse::<i64>().ok()) {
                Some(o) => format!("page={}", o / 50 + 1),
                None => kv.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    for (kind, path) in [("api", "/api/v1/assets?limit=50&"), ("console", "/assets?")] {
        let queries: Vec<String> =
            queries.iter().map(|q| if kind == "api" { q.to_string() } else { console_query(q) }).collect();
        // one untimed round first: the figures are of a server whose page cache is warm
        for q in &queries {
            let rb = http.get(format!("{base}{path}{q}"));
            let rb = if kind == "api" { rb.bearer_auth(&token) } else { rb.header("cookie", &cookie) };
            rb.send().await?.bytes().await?;
        }
        let mut times = Vec::with_capacity(n);
        let mut per_query: Vec<Vec<Duration>> = vec![Vec::new(); queries.len()];
        let mut total = 0;
        for i in 0..n {
            let q = &queries[i % queries.len()];
            let mut rb = http.get(format!("{base}{path}{q}"));
            rb = if kind == "api" { rb.bearer_auth(&token) } else { rb.header("cookie", &cookie) };
            let t = Instant::now();
            let resp = rb.send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            times.push(t.elapsed());
            per_query[i % queries.len()].push(t.elapsed());
            anyhow::ensure!(status.is_success(), "{kind} {q}: {status}");
            total += body.len();
        }
        times.sort();
        println!(
            "{kind:8} {n} search+page requests: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} KiB answered)",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.95).as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0,
            total / 1024
        );
        for (q, mut t) in queries.iter().zip(per_query) {
            t.sort();
            println!(
                "  {q:48} p50 {:6.1} ms  max {:6.1} ms",
                percentile(&t, 0.5).as_secs_f64() * 1000.0,
                t[t.len() - 1].as_secs_f64() * 1000.0
            );
        }
    }
    Ok(())
}
