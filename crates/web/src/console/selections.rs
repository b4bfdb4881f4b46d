//! Groups and reports pages: the lists, a group's members, a report's result (with its
//! parameters), and Deploy Package from either — the deploy dialog with the group or the
//! report as its selection, which the deployment then records.

use super::session::ViewerPage;
use super::{Nav, PageResult, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use drover_engine::Engine;
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/groups", get(groups))
        .route("/groups/{id}", get(group))
        .route("/reports", get(reports))
        .route("/report", get(report))
}

/// `?k=v&…` with every value URL-encoded.
fn query(pairs: &[(String, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

struct GroupRow {
    id: i64,
    name: String,
    kind: String,
    rule: String,
    members: usize,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    nav: Nav,
    rows: Vec<GroupRow>,
}

async fn groups(State(engine): State<Engine>, ViewerPage(s): ViewerPage) -> PageResult {
    let rows = engine
        .list_groups()
        .await?
        .into_iter()
        .map(|g| GroupRow {
            id: g.group.id.0,
            name: g.group.name,
            kind: g.kind,
            rule: g.rule_text.unwrap_or_default(),
            members: g.member_count,
        })
        .collect();
    Ok(render(&GroupsPage { nav: s.nav("groups"), rows }))
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    nav: Nav,
    name: String,
    kind: String,
    rule: String,
    description: String,
    members: Vec<(i64, String)>,
    deploy_query: String,
}

async fn group(State(engine): State<Engine>, ViewerPage(s): ViewerPage, Path(id): Path<i64>) -> PageResult {
    let d = engine.group_detail(&id.to_string()).await?;
    let g = d.summary.group;
    Ok(render(&GroupPage {
        nav: s.nav("groups"),
        deploy_query: query(&[("group".into(), g.name.clone())]),
        kind: d.summary.kind,
        rule: d.summary.rule_text.unwrap_or_default(),
        description: g.description,
        name: g.name,
        members: d.members.into_iter().map(|m| (m.asset_id.0, m.name)).collect(),
    }))
}

struct ReportRow {
    name: String,
    description: String,
    params: String,
    builtin: bool,
    link: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    nav: Nav,
    rows: Vec<ReportRow>,
}

async fn reports(State(engine): State<Engine>, ViewerPage(s): ViewerPage) -> PageResult {
    let rows = engine
        .list_reports()
        .await?
        .into_iter()
        .map(|r| ReportRow {
            link: query(&[("report".into(), r.report.name.clone())]),
            params: r.report.params.join(", "),
            builtin: r.builtin,
            description: r.report.description,
            name: r.report.name,
        })
        .collect();
    Ok(render(&ReportsPage { nav: s.nav("reports"), rows }))
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    nav: Nav,
    name: String,
    description: String,
    sql: String,
    /// The parameters the user fills in (`now_ms` is the server's).
    params: Vec<(String, String)>,
    ran: bool,
    error: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    truncated: bool,
    deploy_query: String,
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `/report?report=NAME&p_NAME=VALUE…&run=1`: the report, its parameter form, and with
/// `run` its result.
async fn report(State(engine): State<Engine>, ViewerPage(s): ViewerPage, RawQuery(q): RawQuery) -> PageResult {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let name = get("report").unwrap_or_default();
    let r = engine.resolve_report(&name).await?;
    let mut given = BTreeMap::new();
    let mut params = Vec::new();
    for p in r.report.params.iter().filter(|p| *p != drover_domain::report::NOW_PARAM) {
        let v = get(&format!("p_{p}")).unwrap_or_default();
        given.insert(p.clone(), v.clone());
        params.push((p.clone(), v));
    }
    let mut page = ReportPage {
        nav: s.nav("reports"),
        name: r.report.name.clone(),
        description: r.report.description.clone(),
        sql: r.report.sql.clone(),
        params,
        ran: false,
        error: String::new(),
        columns: vec![],
        rows: vec![],
        truncated: false,
        deploy_query: String::new(),
    };
    if get("run").is_some() {
        page.ran = true;
        match engine.run_report(&r.report.name, &given).await {
            Ok(run) => {
                if run.deployable {
                    let mut q = vec![("report".to_string(), r.report.name.clone())];
                    q.extend(given.iter().map(|(k, v)| (format!("p_{k}"), v.clone())));
                    page.deploy_query = query(&q);
                }
                page.columns = run.result.columns;
                page.rows = run.result.rows.iter().map(|r| r.iter().map(cell).collect()).collect();
                page.truncated = run.result.truncated;
            }
            Err(e) => page.error = e.to_string(),
        }
    }
    Ok(render(&page))
}
