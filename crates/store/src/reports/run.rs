//! Running a checked report: on SQLite a dedicated connection opened read-only with
//! `PRAGMA query_only`, stopped by a progress handler at its deadline; on PostgreSQL a
//! `READ ONLY` transaction with `SET LOCAL statement_timeout`, rolled back. The result
//! holds at most `max_rows` rows (`truncated` says when more existed).

use super::check::check_report_sql;
use crate::{Backend, Result, Store, StoreError};
use drover_domain::report::ReportResult;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Column, ColumnIndex, Connection, Decode, Row, Type};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long a report may run and how many rows it may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportLimits {
    pub timeout: Duration,
    pub max_rows: usize,
}

impl Default for ReportLimits {
    fn default() -> Self {
        ReportLimits { timeout: Duration::from_secs(10), max_rows: 10_000 }
    }
}

/// SQLite virtual-machine steps between two looks at the clock.
const PROGRESS_STEPS: i32 = 1000;

fn timed_out(limits: ReportLimits) -> StoreError {
    StoreError::Refused(format!(
        "report stopped: it ran past its time limit of {} ms (narrow it with WHERE, or ask for fewer rows)",
        limits.timeout.as_millis()
    ))
}

impl Store {
    /// Checks `sql` (see `check_report_sql`) and runs it with `binds` as `$1..`.
    pub async fn run_report_sql(&self, sql: &str, binds: &[String], limits: ReportLimits) -> Result<ReportResult> {
        let checked = check_report_sql(sql)?;
        let cap = limits.max_rows.max(1);
        let wrapped = format!("SELECT * FROM ({checked}) AS report LIMIT {}", cap + 1);
        let (columns, mut rows) = match self.backend {
            Backend::Sqlite => self.run_sqlite(&wrapped, binds, limits).await?,
            Backend::Postgres => self.run_postgres(&wrapped, binds, limits).await?,
        };
        let truncated = rows.len() > cap;
        rows.truncate(cap);
        Ok(ReportResult { columns, rows, truncated })
    }

    async fn run_sqlite(
        &self,
        sql: &str,
        binds: &[String],
        limits: ReportLimits,
    ) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
        let url = self.url.as_str();
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("cannot open the database for a report: {e}")))?
            .read_only(true)
            .create_if_missing(false);
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::raw_sql("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;").execute(&mut conn).await?;
        let deadline = Instant::now() + limits.timeout;
        conn.lock_handle().await?.set_progress_handler(PROGRESS_STEPS, move || Instant::now() < deadline);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        for b in binds {
            q = q.bind(b.clone());
        }
        let result = q.fetch_all(&mut conn).await;
        let _ = conn.close().await;
        match result {
            Ok(rows) => Ok(table(&rows)),
            Err(_) if Instant::now() >= deadline => Err(timed_out(limits)),
            Err(e) => Err(StoreError::Refused(format!("report failed: {e}"))),
        }
    }

    async fn run_postgres(
        &self,
        sql: &str,
        binds: &[String],
        limits: ReportLimits,
    ) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await?;
        let ms = limits.timeout.as_millis().max(1);
        sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL statement_timeout = {ms}"))).execute(&mut *tx).await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        for b in binds {
            q = q.bind(b.clone());
        }
        let result = q.fetch_all(&mut *tx).await;
        let _ = tx.rollback().await;
        match result {
            Ok(rows) => Ok(table(&rows)),
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("57014") => Err(timed_out(limits)),
            Err(e) => Err(StoreError::Refused(format!("report failed: {e}"))),
        }
    }
}

/// The id columns under their documented names (PostgreSQL folds them to lower case).
fn column_name(name: &str) -> String {
    for id in ["AssetID", "DeploymentID", "TargetID"] {
        if name.eq_ignore_ascii_case(id) {
            return id.to_string();
        }
    }
    name.to_string()
}

fn table<R>(rows: &[R]) -> (Vec<String>, Vec<Vec<Value>>)
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<f64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
{
    let columns = rows.first().map(|r| r.columns().iter().map(|c| column_name(c.name())).collect()).unwrap_or_default();
    let cells = rows.iter().map(|r| (0..r.len()).map(|i| cell(r, i)).collect()).collect();
    (columns, cells)
}

fn cell<R>(row: &R, i: usize) -> Value
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<f64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
{
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    Value::String("(a value of a type reports cannot show: CAST it to TEXT or BIGINT)".into())
}
