//! Fresh stores for each test, and the macro that runs a test on both backends.

use drover_store::Store;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::OnceCell;

pub async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    (Store::connect(&url).await.unwrap(), dir)
}

/// A database of its own on the test server; `drop` removes it after the test.
pub struct PgDatabase {
    admin: String,
    name: String,
}

/// Test databases are named `drover_t_<unix seconds>_<random>`; ones older than this
/// (left by failed or killed runs) are removed by the next run.
const STALE_SECS: u64 = 3600;

pub async fn postgres() -> (Store, PgDatabase) {
    let admin = std::env::var("DROVER_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "DROVER_TEST_POSTGRES_URL is not set, so the PostgreSQL half of the store suite cannot run: \
             run `export DROVER_TEST_POSTGRES_URL=$(scripts/pg-test-server)` first (scripts/test, the README's \
             test command, does both)"
        )
    });
    sqlx::any::install_default_drivers();
    static REAPED: OnceCell<()> = OnceCell::const_new();
    REAPED.get_or_init(|| remove_stale(&admin)).await;
    let name = format!("drover_t_{}_{:016x}", now_secs(), rand_u64());
    admin_exec(&admin, &format!("CREATE DATABASE {name}")).await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    let store = Store::connect(&format!("{base}/{name}")).await.unwrap();
    (store, PgDatabase { admin, name })
}

impl PgDatabase {
    /// Closes the store's connections, then drops the database. Best effort: what is
    /// left (a failed test keeps its database for a look) goes at the next run.
    pub async fn drop(self, store: Store) {
        store.close().await;
        // Not `WITH (FORCE)`: it may not end an autovacuum worker, whereas a plain DROP
        // ends those itself.
        let sql = format!("DROP DATABASE IF EXISTS {}", self.name);
        if let Err(e) = try_admin_exec(&self.admin, &sql).await {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

async fn admin_exec(admin: &str, sql: &str) {
    try_admin_exec(admin, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql} on the test PostgreSQL at DROVER_TEST_POSTGRES_URL failed: {e}"));
}

async fn try_admin_exec(admin: &str, sql: &str) -> Result<(), sqlx::Error> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut conn).await?;
    sqlx::Connection::close(conn).await
}

async fn remove_stale(admin: &str) {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT datname::text FROM pg_database WHERE datname LIKE 'drover_t_%'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let cutoff = now_secs().saturating_sub(STALE_SECS);
    for (name,) in rows {
        let born = name.strip_prefix("drover_t_").and_then(|r| r.split('_').next()).and_then(|s| s.parse::<u64>().ok());
        if born.is_none_or(|b| b < cutoff) {
            let drop = format!("DROP DATABASE IF EXISTS {name}");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut conn).await;
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// `conformance!(name)` makes `name::sqlite` and `name::postgres` from `async fn name(Store)`.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (store, _dir) = $crate::backends::sqlite().await;
                assert_eq!(store.backend(), "sqlite");
                super::$name(store).await;
            }
            #[tokio::test]
            async fn postgres() {
                let (store, db) = $crate::backends::postgres().await;
                assert_eq!(store.backend(), "postgres");
                super::$name(store.clone()).await;
                db.drop(store).await;
            }
        }
    )*};
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let (store, dir) = sqlite().await;
    drop(store);
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal", "set on connect: a pragma in a migration would not stick");
}

#[tokio::test]
async fn reconnecting_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.create_user("ann", "h", drover_domain::user::Role::Admin, 1).await.unwrap();
    store.close().await;
    let again = Store::connect(&url).await.unwrap();
    assert_eq!(again.count_users().await.unwrap(), 1, "migrations ran once; the data stayed");
}

#[tokio::test]
async fn unknown_urls_are_refused_without_the_password() {
    let err = Store::connect("mysql://u:secret@h/db").await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unsupported database URL") && !msg.contains("secret"), "{msg}");
}
