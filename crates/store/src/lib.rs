//! drover's storage: one SQL implementation over sqlx's `Any` driver that runs on SQLite
//! and PostgreSQL, with a migration folder per backend (`migrations/sqlite`,
//! `migrations/postgres`).
//!
//! Rules every query follows so that the same SQL runs on both backends: `$1`
//! placeholders, `RETURNING` for generated ids, ids and times as BIGINT (epoch
//! milliseconds), booleans as BIGINT 0/1, no backend-specific functions. Time is always
//! an argument (`now_ms`), never read here. The conformance suite in
//! `tests/conformance` runs every test on both backends.

mod asset_search;
mod assets;
mod audit;
mod credentials;
mod deployments;
mod error;
mod group_sql;
mod groups;
mod host_keys;
mod inventory;
mod nodes;
mod packages;
mod reports;
mod schedules;
mod schedules_stuck;
mod sessions;
mod settings;
mod share_files;
mod share_locations;
mod sqlite_writer;
mod users;

pub use asset_search::SearchBounds;
pub use deployments::{LogFilter, NewDeployment, TargetUpdate};
pub use error::{Result, StoreError};
pub use nodes::{Claim, NodeLease};
pub use reports::{ALLOWED_FUNCTIONS, REFUSED_EXAMPLES, ReportLimits, STORE_TABLES, check_report_sql};
pub use schedules::RunClaim;
pub use share_files::StoredShareFile;
pub use users::{LoginRecord, TOKEN_ID_LEN, TokenRow, UserRow};

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool};
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Milliseconds SQLite waits for a lock before giving up with "database is locked": as
/// long as the pool waits for a connection. 5 s was passed once by a writer among 50
/// scans at once, each replacing ~750 software rows.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 30_000;

/// The database: a connection pool, cheap to clone and share between tasks.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Where writes go. On SQLite a pool of one connection, so that writers of this
    /// process queue here in order instead of meeting in SQLite's busy handler, which
    /// sleeps 1 to 100 ms between tries (on the scale benchmark, 1,000 deployment threads,
    /// the gain in throughput was small: a few per cent); on PostgreSQL the same pool as
    /// reads.
    write_pool: AnyPool,
    backend: Backend,
    /// The URL it was opened with, for reports' dedicated read-only SQLite connection
    /// (only ever a SQLite URL, which holds no password; empty for PostgreSQL).
    url: String,
    /// On SQLite, the group-commit writer that runs the hot calls of deployments
    /// (`sqlite_writer`); None on PostgreSQL.
    sqlite: Option<sqlite_writer::Writer>,
    /// Write calls through this store and its clones, and those of them sqlx ran (each in
    /// a transaction of its own): the benchmarks' "store writes" and, with the SQLite
    /// writer's, "transactions".
    writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    sqlx_writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Store {
    /// Opens the database named by `url` and brings its schema up to date.
    ///
    /// `sqlite:///abs/path/drover.db?mode=rwc` (created if missing) or
    /// `postgres://user:password@host:port/database`.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Other(format!(
                "unsupported database URL '{}': use sqlite:///path/drover.db?mode=rwc or postgres://user:password@host:port/database",
                redact(url)
            )));
        };
        let open = |connections: u32| async move {
            let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30)).max_connections(connections);
            let options = match backend {
                Backend::Sqlite => options.after_connect(|conn, _| Box::pin(sqlite_pragmas(conn))),
                Backend::Postgres => options.after_connect(|conn, _| Box::pin(postgres_settings(conn))),
            };
            options
                .connect(url)
                .await
                .map_err(|e| StoreError::Other(format!("cannot open the database {}: {e}", redact(url))))
        };
        let pool = open(match backend {
            // each SQLite connection is a thread of sqlx's, and each thread that allocates
            // gets a malloc arena of its own: memory freed in one is not reused by the
            // others. Two readers per core keep the cores busy (8 on 2 cores held 25 to
            // 45 MiB more at 10,000 simulated targets in flight than 4).
            Backend::Sqlite => std::thread::available_parallelism().map_or(4, |n| (2 * n.get()).clamp(2, 8)) as u32,
            Backend::Postgres => 16,
        })
        .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let write_pool = match backend {
            Backend::Sqlite => open(1).await?,
            Backend::Postgres => pool.clone(),
        };
        let sqlite = match backend {
            Backend::Sqlite => Some(sqlite_writer::Writer::start(url, write_pool.clone(), SQLITE_BUSY_TIMEOUT_MS)?),
            Backend::Postgres => None,
        };
        let url = if backend == Backend::Sqlite { url.to_string() } else { String::new() };
        Ok(Store {
            pool,
            write_pool,
            backend,
            url,
            sqlite,
            writes: Default::default(),
            sqlx_writes: Default::default(),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The names of every table and view of the schema (for the check that reports'
    /// list of store tables is complete).
    pub async fn table_names(&self) -> Result<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT name AS n FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name",
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) AS n FROM information_schema.tables \
                 WHERE table_schema = current_schema() ORDER BY table_name"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(sqlx::Row::try_get::<String, _>(r, "n")?)).collect()
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), waiting up to the busy timeout for it: a transaction that
    /// read first and writes later cannot upgrade once another writer committed since
    /// its read, and fails at once with "database is locked" whatever the busy timeout
    /// (seen with 50 scans at once).
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        self.wrote_through_sqlx();
        Ok(match self.backend {
            Backend::Sqlite => self.write_pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write_pool.begin().await?,
        })
    }

    /// The pool, for one write statement outside a transaction (counted as a write).
    pub(crate) fn writer(&self) -> &AnyPool {
        self.wrote_through_sqlx();
        &self.write_pool
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A write in a transaction of its own.
    fn wrote_through_sqlx(&self) {
        self.wrote();
        self.sqlx_writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Runs a hot call: on SQLite `sqlite` in the group-commit writer (counted as a write,
    /// and run in a savepoint, when `writes`), else None and the caller runs its sqlx
    /// version.
    pub(crate) async fn on_sqlite_writer<T: Send + 'static>(
        &self,
        writes: bool,
        sqlite: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Option<Result<T>> {
        let w = self.sqlite.as_ref()?;
        if writes {
            self.wrote();
        }
        Some(w.run(writes, sqlite).await)
    }

    /// One write statement (`$1`, `$2`, … bound to `args` in order) on either backend: on
    /// SQLite in the group-commit writer. The rows it changed; a unique violation is a
    /// `Conflict`, a foreign-key violation `NotFound` (callers say what of).
    pub(crate) async fn execute(&self, sql: &'static str, args: Vec<sqlite_writer::Arg>) -> Result<u64> {
        let unique = || "unique".to_string();
        let Some(w) = &self.sqlite else {
            let q = args.into_iter().fold(sqlx::query(sql), |q, a| a.bind(q));
            let done = q.execute(self.writer()).await.map_err(|e| error::db_error(e, unique, || "missing".into()))?;
            return Ok(done.rows_affected());
        };
        self.wrote();
        let done = w.run(false, move |c| {
            sqlite_writer::execute(c, sql, &sqlite_writer::refs(&args))
                .map_err(sqlite_writer::constraint_as_store_error)
        });
        Ok(done.await? as u64)
    }

    /// The rows of a read (`$1`, `$2`, … bound to `args` in order) on either backend: on
    /// SQLite in the group-commit writer, whose connection reads without a thread hop (the
    /// reads a deployment makes per target go here).
    pub(crate) async fn fetch_all<T: sqlite_writer::FromRow>(
        &self,
        sql: String,
        args: Vec<sqlite_writer::Arg>,
    ) -> Result<Vec<T>> {
        let Some(w) = &self.sqlite else {
            let q = args.into_iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, a| a.bind(q));
            return q.fetch_all(&self.pool).await?.iter().map(T::from_row).collect();
        };
        w.run(false, move |c| sqlite_writer::query_all(c, &sql, &sqlite_writer::refs(&args), |r| T::from_row(r))).await
    }

    /// The first row of such a read.
    pub(crate) async fn fetch_optional<T: sqlite_writer::FromRow>(
        &self,
        sql: String,
        args: Vec<sqlite_writer::Arg>,
    ) -> Result<Option<T>> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    /// How many write calls this store (and its clones) made so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many transactions those writes took: one per write through sqlx, one per batch
    /// of SQLite's group-commit writer.
    pub fn transactions(&self) -> u64 {
        self.sqlx_writes.load(std::sync::atomic::Ordering::Relaxed) + self.sqlite.as_ref().map_or(0, |w| w.commits())
    }

    /// Closes every connection of the pool (they also close when the last clone drops).
    pub async fn close(&self) {
        self.pool.close().await;
        self.write_pool.close().await;
    }
}

/// Per-connection SQLite settings: pragmas in a migration would not stick (WAL needs no
/// transaction, the others are per connection).
async fn sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
         PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// Per-connection PostgreSQL settings: no JIT compilation. The store's queries are short
/// lookups and pages whose cost estimates can pass `jit_above_cost` (a 20,000-asset
/// search count spent 17 ms compiling to run in 24 ms).
async fn postgres_settings(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("SET jit = off").execute(conn).await?;
    Ok(())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let sep = if rest.contains('/') { "/" } else { "" };
            format!("{scheme}://{user}:***@{host}{sep}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://drover:secret@127.0.0.1:5432/db"), "postgres://drover:***@127.0.0.1:5432/db");
        assert_eq!(redact("sqlite:///var/lib/drover.db?mode=rwc"), "sqlite:///var/lib/drover.db?mode=rwc");
    }
}
