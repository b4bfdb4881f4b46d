//! The report checker: a report's SQL must parse (with `sqlparser`) as exactly ONE
//! `SELECT` query (joins, subqueries, CTEs, UNION allowed) whose relations are all report
//! views or its own CTEs, calling only allow-listed functions, with no `INTO`, no
//! locking clause, no statement nested inside it. What runs is the checked AST printed
//! back, so comments and anything the parser skipped never reach the database.

use crate::{Result, StoreError};
use drover_domain::report::VIEWS;
use sqlparser::ast::{Expr, ObjectName, ObjectNamePart, Query, SetExpr, Statement, TableFactor, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// Functions a report may call: aggregates, string, number, date and conditional ones
/// that exist on SQLite or PostgreSQL and touch neither files nor the server.
pub const ALLOWED_FUNCTIONS: &[&str] = &[
    // aggregates
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "total",
    "group_concat",
    "string_agg",
    "array_agg",
    "bool_and",
    "bool_or",
    // conditional and null handling
    "coalesce",
    "nullif",
    "ifnull",
    "iif",
    "greatest",
    "least",
    // strings
    "lower",
    "upper",
    "length",
    "char_length",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "replace",
    "instr",
    "strpos",
    "position",
    "concat",
    "concat_ws",
    "left",
    "right",
    "lpad",
    "rpad",
    "split_part",
    "printf",
    "format",
    "reverse",
    "starts_with",
    // numbers
    "abs",
    "round",
    "ceil",
    "ceiling",
    "floor",
    "mod",
    "sign",
    // dates and times
    "date",
    "time",
    "datetime",
    "julianday",
    "strftime",
    "unixepoch",
    "now",
    "to_timestamp",
    "to_char",
    "date_trunc",
    "date_part",
    "extract",
    "age",
    // window functions
    "row_number",
    "rank",
    "dense_rank",
    "lag",
    "lead",
    "first_value",
    "last_value",
];

/// The relations of the store that a report must never read, even through a CTE of the
/// same name (a conformance test checks this list against the real schema).
pub const STORE_TABLES: &[&str] = &[
    "users",
    "api_tokens",
    "credentials",
    "assets",
    "credential_mappings",
    "packages",
    "package_files",
    "deployments",
    "targets",
    "target_events",
    "step_records",
    "settings",
    "schedules",
    "deploy_configs",
    "config_runs",
    "console_sessions",
    "audit_log",
    "host_keys",
    "host_authorities",
    "asset_groups",
    "asset_group_members",
    "reports",
    "asset_software",
    "asset_interfaces",
    "software_history",
    "asset_logins",
    "scan_targets",
    "share_locations",
    "share_files",
    "share_chunks",
    "nodes",
    "_sqlx_migrations",
];

fn refused(why: impl std::fmt::Display) -> StoreError {
    StoreError::Refused(format!("report refused: {why}"))
}

/// Checks `sql` and answers the statement to run (the AST printed back).
pub fn check_report_sql(sql: &str) -> Result<String> {
    let statements =
        Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| refused(format!("it does not parse: {e}")))?;
    let statement = match statements.as_slice() {
        [one] => one,
        [] => return Err(refused("it holds no statement: write one SELECT")),
        _ => return Err(refused(format!("it holds {} statements: a report is ONE SELECT", statements.len()))),
    };
    let Statement::Query(query) = statement else {
        return Err(refused(format!("only a SELECT may run, not: {}", first_words(statement))));
    };
    let mut c = Checker::default();
    if let ControlFlow::Break(e) = query.visit(&mut c) {
        return Err(e);
    }
    for r in &c.relations {
        if !c.ctes.contains(r) && !VIEWS.iter().any(|(v, _)| v == r) {
            return Err(refused(format!("it reads '{r}', which is not a report view: use {}", view_names())));
        }
    }
    Ok(statement.to_string())
}

fn view_names() -> String {
    VIEWS.iter().map(|(v, _)| *v).collect::<Vec<_>>().join(", ")
}

fn first_words(s: &Statement) -> String {
    s.to_string().split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Collects relations and CTE names, refuses what may never appear.
#[derive(Default)]
struct Checker {
    relations: BTreeSet<String>,
    ctes: BTreeSet<String>,
}

/// A one-part name, lower case; a schema-qualified or computed name is refused.
fn simple_name(n: &ObjectName, what: &str) -> ControlFlow<StoreError, String> {
    match n.0.as_slice() {
        [ObjectNamePart::Identifier(i)] => ControlFlow::Continue(i.value.to_lowercase()),
        _ => ControlFlow::Break(refused(format!("{what} '{n}' names a schema or is computed: use a plain name"))),
    }
}

impl Visitor for Checker {
    type Break = StoreError;

    fn pre_visit_statement(&mut self, s: &Statement) -> ControlFlow<StoreError> {
        ControlFlow::Break(refused(format!("it holds a nested statement: {}", first_words(s))))
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<StoreError> {
        if !q.locks.is_empty() {
            return ControlFlow::Break(refused("a locking clause (FOR UPDATE/SHARE) is not allowed"));
        }
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = cte.alias.name.value.to_lowercase();
                if STORE_TABLES.contains(&name.as_str()) || name.starts_with("pg_") || name.starts_with("sqlite_") {
                    return ControlFlow::Break(refused(format!(
                        "the CTE name '{name}' is the name of a table of the store: choose another"
                    )));
                }
                self.ctes.insert(name);
            }
        }
        if !matches!(
            *q.body,
            SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::SetOperation { .. } | SetExpr::Values(_)
        ) {
            return ControlFlow::Break(refused("only SELECT queries are allowed (no INSERT/UPDATE/DELETE/TABLE)"));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &sqlparser::ast::Select) -> ControlFlow<StoreError> {
        if s.into.is_some() {
            return ControlFlow::Break(refused("SELECT … INTO creates a table: not allowed"));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<StoreError> {
        match t {
            TableFactor::Table { name, args, .. } => {
                let n = simple_name(name, "relation")?;
                if args.is_some() {
                    return ControlFlow::Break(refused(format!("the table function '{n}' is not allowed")));
                }
                self.relations.insert(n);
                ControlFlow::Continue(())
            }
            TableFactor::Derived { .. } | TableFactor::NestedJoin { .. } => ControlFlow::Continue(()),
            other => ControlFlow::Break(refused(format!("this FROM item is not allowed: {other}"))),
        }
    }

    fn pre_visit_relation(&mut self, r: &ObjectName) -> ControlFlow<StoreError> {
        let n = simple_name(r, "relation")?;
        self.relations.insert(n);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<StoreError> {
        if let Expr::Function(f) = e {
            let n = simple_name(&f.name, "function")?;
            if !ALLOWED_FUNCTIONS.contains(&n.as_str()) {
                return ControlFlow::Break(refused(format!(
                    "the function '{n}' is not allowed (allowed: aggregates, string, number and date functions)"
                )));
            }
        }
        ControlFlow::Continue(())
    }
}

/// Each bad pattern, with words its refusal holds: the checker's unit test and the
/// conformance suite (which runs each on both databases) share it.
#[doc(hidden)]
pub const REFUSED_EXAMPLES: &[(&str, &str)] = &[
    ("DELETE FROM report_assets", "only a SELECT"),
    ("UPDATE assets SET name = 'x'", "only a SELECT"),
    ("INSERT INTO users (name) VALUES ('x')", "only a SELECT"),
    ("DROP TABLE users", "only a SELECT"),
    ("SELECT 1; DELETE FROM users", "2 statements"),
    ("SELECT * FROM users", "'users', which is not a report view"),
    ("SELECT token_hash FROM api_tokens", "'api_tokens'"),
    ("SELECT secret FROM credentials", "'credentials'"),
    ("SELECT * FROM settings", "'settings'"),
    ("SELECT * FROM console_sessions", "'console_sessions'"),
    ("SELECT * FROM report_assets WHERE AssetID IN (SELECT user_id FROM api_tokens)", "'api_tokens'"),
    ("SELECT * FROM main.users", "names a schema"),
    ("SELECT * FROM pg_catalog.pg_user", "names a schema"),
    ("SELECT * FROM sqlite_master", "'sqlite_master'"),
    ("WITH users AS (SELECT * FROM users) SELECT * FROM users", "the name of a table"),
    ("WITH x AS (DELETE FROM users RETURNING *) SELECT * FROM x", "only SELECT queries"),
    ("ATTACH DATABASE '/tmp/x.db' AS x", "only a SELECT"),
    ("PRAGMA writable_schema = 1", "only a SELECT"),
    ("SELECT load_extension('/tmp/evil.so')", "'load_extension'"),
    ("SELECT pg_read_file('/etc/passwd')", "'pg_read_file'"),
    ("SELECT lo_import('/etc/passwd')", "'lo_import'"),
    ("SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", "not allowed"),
    ("SELECT pg_sleep(10)", "'pg_sleep'"),
    ("SELECT set_config('statement_timeout', '0', false)", "'set_config'"),
    ("SELECT * FROM pragma_table_info('users')", "not allowed"),
    ("SELECT * INTO stolen FROM report_assets", "INTO"),
    ("SELECT * FROM report_assets FOR UPDATE", "locking"),
    ("SET statement_timeout = 0", "only a SELECT"),
    ("COPY report_assets TO '/tmp/x'", "only a SELECT"),
    ("", "no statement"),
];

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
