//! Deployments: the list with filters, a deployment's page whose target rows update live
//! (server-sent events, polled from the engine so it works across server nodes), a
//! target's steps with exit codes, durations and output, cancel, relaunch, retry queue.

use super::session::{CsrfForm, OperatorPage, ViewerPage};
use super::{Nav, PageResult, duration, render, time};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use drover_api::deployments::{DeploymentQuery, DeploymentView};
use drover_api::logs::LogQuery;
use drover_domain::deployment::{Target, TargetState};
use drover_domain::ids::DeploymentId;
use drover_engine::{Engine, EngineError};
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

/// How often the live page's event stream reads the deployment.
const POLL: Duration = Duration::from_millis(500);

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/deployments", get(list))
        .route("/deployments/{id}", get(show))
        .route("/deployments/{id}/events", get(events))
        .route("/deployments/{id}/targets/{target}", get(target))
        .route("/deployments/{id}/cancel", post(cancel))
        .route("/deployments/{id}/relaunch", post(relaunch))
        .route("/retry-queue", get(retry_queue))
}

#[derive(Debug, Default, Deserialize)]
struct Filters {
    #[serde(default)]
    package: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    executor: String,
}

struct ListRow {
    id: i64,
    package: String,
    executor: String,
    run_mode: &'static str,
    created: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "deployments.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<ListRow>,
    f: Filters,
}

async fn list(State(engine): State<Engine>, ViewerPage(s): ViewerPage, Query(f): Query<Filters>) -> PageResult {
    let all = engine.list_deployments(&DeploymentQuery { limit: 1000 }).await?;
    let rows = all
        .into_iter()
        .filter(|d| f.package.is_empty() || d.package_name.to_lowercase().contains(&f.package.to_lowercase()))
        .filter(|d| f.executor.is_empty() || d.executor.to_string().to_lowercase().contains(&f.executor.to_lowercase()))
        .map(|d| ListRow {
            id: d.id.0,
            package: format!("{} {}", d.package_name, d.package_version),
            executor: d.executor.to_string(),
            run_mode: d.run_mode.as_str(),
            created: time(Some(d.created_ms)),
            state: if d.finished_ms.is_some() { "finished" } else { "running" },
        })
        .filter(|r| f.state.is_empty() || r.state == f.state)
        .take(200)
        .collect();
    Ok(render(&ListPage { nav: s.nav("deployments"), rows, f }))
}

/// One target's cells in the deployment table; the live stream sends the same HTML.
#[derive(Template)]
#[template(path = "target_cells.html")]
struct TargetCells {
    deployment: i64,
    id: i64,
    asset: String,
    state: &'static str,
    attempts: i64,
    last_step: String,
    return_code: String,
    message: String,
    error_code: String,
    took: String,
}

fn cells(t: &Target) -> String {
    let cells = TargetCells {
        deployment: t.deployment_id.0,
        id: t.id.0,
        asset: t.asset_name.clone(),
        state: t.state.as_str(),
        attempts: t.attempts,
        last_step: t.last_step.clone().unwrap_or_default(),
        return_code: t.return_code.map(|c| c.to_string()).unwrap_or_default(),
        message: t.message.clone(),
        error_code: t.error_code.clone().unwrap_or_default(),
        took: t.finished_ms.map(|f| duration(f - t.created_ms)).unwrap_or_default(),
    };
    cells.render().unwrap_or_else(|e| format!("<td colspan=\"7\">cannot render: {e}</td>"))
}

/// "3 targets: 2 success, 1 running".
fn summary(v: &DeploymentView) -> String {
    let mut counts: Vec<(TargetState, usize)> = Vec::new();
    for t in &v.targets {
        match counts.iter_mut().find(|(s, _)| *s == t.state) {
            Some((_, n)) => *n += 1,
            None => counts.push((t.state, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let end = if v.targets.iter().all(|t| t.state.is_final()) { " — finished" } else { "" };
    format!("{} target(s): {}{end}", v.targets.len(), parts.join(", "))
}

struct Row {
    id: i64,
    cells: String,
}

#[derive(Template)]
#[template(path = "deployment.html")]
struct ShowPage {
    nav: Nav,
    id: i64,
    package: String,
    executor: String,
    run_mode: &'static str,
    created: String,
    summary: String,
    rows: Vec<Row>,
    actions: String,
}

/// The Cancel and Relaunch buttons, as they fit the deployment now (sent again by the
/// live page's events when that changes: Cancel goes once every target has ended).
#[derive(Template)]
#[template(path = "deployment_actions.html")]
struct Actions<'a> {
    nav: &'a Nav,
    id: i64,
    can_cancel: bool,
    can_relaunch: bool,
}

fn actions(nav: &Nav, id: i64, v: &DeploymentView) -> String {
    let t = Actions {
        nav,
        id,
        can_cancel: nav.operator && v.targets.iter().any(|t| !t.state.is_final()),
        can_relaunch: nav.operator
            && v.targets
                .iter()
                .any(|t| matches!(t.state, TargetState::Failed | TargetState::Offline | TargetState::TimedOut)),
    };
    t.render().unwrap_or_default()
}

async fn show(State(engine): State<Engine>, ViewerPage(s): ViewerPage, Path(id): Path<i64>) -> PageResult {
    let v = engine.deployment_view(DeploymentId(id)).await?;
    let d = &v.deployment;
    let nav = s.nav("deployments");
    let page = ShowPage {
        actions: actions(&nav, id, &v),
        nav,
        id,
        package: format!("{} {}", d.package_name, d.package_version),
        executor: d.executor.to_string(),
        run_mode: d.run_mode.as_str(),
        created: time(Some(d.created_ms)),
        summary: summary(&v),
        rows: v.targets.iter().map(|t| Row { id: t.id.0, cells: cells(t) }).collect(),
    };
    Ok(render(&page))
}

/// Server-sent events for a deployment page: every 500 ms, reads the deployment and
/// sends `t-<target id>` events with the cells of each target whose row changed, and a
/// `summary` event when the counts changed, and `actions` with the buttons when they
/// changed.
async fn events(
    State(engine): State<Engine>,
    ViewerPage(s): ViewerPage,
    Path(id): Path<i64>,
) -> Result<Response, super::ConsoleError> {
    let v0 = engine.deployment_view(DeploymentId(id)).await?;
    struct Seen {
        rows: HashMap<i64, String>,
        summary: String,
        actions: String,
        nav: Nav,
    }
    let nav = s.nav("deployments");
    let start = Seen { rows: HashMap::new(), summary: String::new(), actions: actions(&nav, id, &v0), nav };
    let stream = futures_util::stream::unfold((engine, start, true), move |(engine, mut seen, first)| async move {
        if !first {
            tokio::time::sleep(POLL).await;
        }
        let mut events: Vec<Result<Event, Infallible>> = Vec::new();
        match engine.deployment_view(DeploymentId(id)).await {
            Ok(v) => {
                for t in &v.targets {
                    let html = cells(t);
                    if seen.rows.get(&t.id.0) != Some(&html) {
                        events.push(Ok(Event::default().event(format!("t-{}", t.id.0)).data(html.replace('\n', " "))));
                        seen.rows.insert(t.id.0, html);
                    }
                }
                let s = summary(&v);
                if s != seen.summary {
                    events.push(Ok(Event::default().event("summary").data(s.clone())));
                    seen.summary = s;
                }
                let a = actions(&seen.nav, id, &v);
                if a != seen.actions {
                    events.push(Ok(Event::default().event("actions").data(a.replace('\n', " "))));
                    seen.actions = a;
                }
            }
            Err(EngineError::NotFound(_)) => return None,
            Err(e) => tracing::warn!("live deployment page {id}: {e}"),
        }
        Some((futures_util::stream::iter(events), (engine, seen, false)))
    });
    let flat = futures_util::StreamExt::flatten(stream);
    Ok(Sse::new(flat).keep_alive(KeepAlive::default()).into_response())
}

struct StepRow {
    index: i64,
    name: String,
    exit_code: String,
    ok: bool,
    took: String,
    output: String,
    message: String,
}

#[derive(Template)]
#[template(path = "target.html")]
struct TargetPage {
    nav: Nav,
    deployment: i64,
    asset: String,
    asset_id: i64,
    state: &'static str,
    facts: Vec<(&'static str, String)>,
    steps: Vec<StepRow>,
    events: Vec<(String, &'static str, String)>,
}

async fn target(
    State(engine): State<Engine>,
    ViewerPage(s): ViewerPage,
    Path((id, target)): Path<(i64, i64)>,
) -> PageResult {
    let log = engine.log(&LogQuery { deployment: Some(id), limit: 10_000, ..Default::default() }).await?;
    let e = log
        .into_iter()
        .find(|e| e.target.id.0 == target)
        .ok_or_else(|| EngineError::NotFound(format!("deployment {id} has no target {target}")))?;
    let t = &e.target;
    let facts = vec![
        ("Package", format!("{} {}", e.package_name, e.package_version)),
        ("Started by", e.executor.to_string()),
        ("Run mode", t.run_mode.as_str().to_string()),
        ("Credential", t.credential.clone().unwrap_or_default()),
        ("Message", t.message.clone()),
        ("Error code", t.error_code.clone().unwrap_or_default()),
        ("Deployer", t.deployer_version.clone().unwrap_or_default()),
        ("Server", t.server.clone().unwrap_or_default()),
        ("Attempts", t.attempts.to_string()),
        ("Created", time(Some(t.created_ms))),
        ("Finished", time(t.finished_ms)),
    ];
    let steps = e
        .steps
        .iter()
        .map(|st| StepRow {
            index: st.index + 1,
            name: st.name.clone(),
            exit_code: st.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            ok: st.success,
            took: duration(st.duration_ms),
            output: st.output_tail.clone(),
            message: st.message.clone(),
        })
        .collect();
    let events = e.events.iter().map(|ev| (time(Some(ev.at_ms)), ev.state.as_str(), ev.message.clone())).collect();
    Ok(render(&TargetPage {
        nav: s.nav("deployments"),
        deployment: id,
        asset: t.asset_name.clone(),
        asset_id: t.asset_id.0,
        state: t.state.as_str(),
        facts,
        steps,
        events,
    }))
}

#[derive(Deserialize)]
struct Ignored {}

async fn cancel(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.cancel(DeploymentId(id), &s.actor()).await?;
    Ok(Redirect::to(&format!("/deployments/{id}")).into_response())
}

async fn relaunch(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    let r = engine.relaunch(DeploymentId(id), s.actor()).await?;
    Ok(Redirect::to(&format!("/deployments/{}", r.view.deployment.id.0)).into_response())
}

struct RetryRow {
    deployment: i64,
    target: i64,
    asset: String,
    package: String,
    attempts: i64,
    next: String,
    until: String,
}

#[derive(Template)]
#[template(path = "retry.html")]
struct RetryPage {
    nav: Nav,
    rows: Vec<RetryRow>,
}

async fn retry_queue(State(engine): State<Engine>, ViewerPage(s): ViewerPage) -> PageResult {
    let rows = engine
        .retry_queue()
        .await?
        .into_iter()
        .map(|r| RetryRow {
            deployment: r.target.deployment_id.0,
            target: r.target.id.0,
            asset: r.target.asset_name.clone(),
            package: format!("{} {}", r.package_name, r.package_version),
            attempts: r.target.attempts,
            next: time(r.target.next_attempt_ms),
            until: time(Some(r.retry_until_ms)),
        })
        .collect();
    Ok(render(&RetryPage { nav: s.nav("retry"), rows }))
}
