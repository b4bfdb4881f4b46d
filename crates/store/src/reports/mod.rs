//! Reports: saved SQL over the report views (`reports` table), checked by `check` and
//! run by `run` read-only, with a time limit and a row cap, on both backends.

mod check;
mod run;

pub use check::{ALLOWED_FUNCTIONS, REFUSED_EXAMPLES, STORE_TABLES, check_report_sql};
pub use run::ReportLimits;

use crate::error::{corrupt, unique_as};
use crate::{Result, Store, StoreError};
use drover_domain::ids::ReportId;
use drover_domain::report::{NewReport, Report};
use sqlx::Row;
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, name, description, sql_text, params, created_ms";

fn report_from_row(row: &AnyRow) -> Result<Report> {
    let params: String = row.try_get("params")?;
    Ok(Report {
        id: ReportId(row.try_get("id")?),
        report: NewReport {
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            sql: row.try_get("sql_text")?,
            params: serde_json::from_str(&params).map_err(|_| corrupt("report parameters", &params))?,
        },
        builtin: false,
        created_ms: row.try_get("created_ms")?,
    })
}

impl Store {
    /// Saves a report after checking its SQL; the name is unique.
    pub async fn create_report(&self, r: &NewReport, now_ms: i64) -> Result<Report> {
        check_report_sql(&r.sql)?;
        let params = serde_json::to_string(&r.params).map_err(|e| StoreError::Other(e.to_string()))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO reports (name, description, sql_text, params, created_ms) VALUES ($1, $2, $3, $4, $5) \
             RETURNING {COLUMNS}"
        )))
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.sql)
        .bind(params)
        .bind(now_ms)
        .fetch_one(self.writer())
        .await
        .map_err(unique_as(|| format!("a report named '{}' already exists", r.name)))?;
        report_from_row(&row)
    }

    /// The saved reports, by name (the built-in ones are the domain's).
    pub async fn list_reports(&self) -> Result<Vec<Report>> {
        let sql = format!("SELECT {COLUMNS} FROM reports ORDER BY name, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(report_from_row).collect()
    }

    pub async fn report(&self, id: ReportId) -> Result<Report> {
        let sql = format!("SELECT {COLUMNS} FROM reports WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0).fetch_optional(&self.pool).await?;
        report_from_row(&row.ok_or_else(|| StoreError::NotFound(format!("report {id} not found")))?)
    }

    pub async fn report_by_name(&self, name: &str) -> Result<Report> {
        let sql = format!("SELECT {COLUMNS} FROM reports WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name).fetch_optional(&self.pool).await?;
        report_from_row(&row.ok_or_else(|| StoreError::NotFound(format!("no report named '{name}'")))?)
    }

    pub async fn delete_report(&self, id: ReportId) -> Result<()> {
        let done = sqlx::query("DELETE FROM reports WHERE id = $1").bind(id.0).execute(self.writer()).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("report {id} not found")));
        }
        Ok(())
    }
}
