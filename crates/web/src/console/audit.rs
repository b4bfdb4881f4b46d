//! The audit log page (admins): newest first, 50 a page.

use super::session::AdminPage;
use super::{Nav, PageResult, render, time};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use drover_engine::Engine;
use serde::Deserialize;

const PAGE: i64 = 50;

pub(super) fn routes() -> Router<Engine> {
    Router::new().route("/audit", get(show))
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    rows: Vec<(String, String, &'static str, String)>,
    page: i64,
    pages: i64,
}

async fn show(State(engine): State<Engine>, AdminPage(s): AdminPage, Query(q): Query<PageQuery>) -> PageResult {
    let page = q.page.unwrap_or(1).max(1);
    let (total, entries) = engine.audit_page((page - 1) * PAGE, PAGE).await?;
    let rows =
        entries.into_iter().map(|e| (time(Some(e.at_ms)), e.actor.to_string(), e.action.as_str(), e.detail)).collect();
    Ok(render(&AuditPage { nav: s.nav("audit"), rows, page, pages: ((total + PAGE - 1) / PAGE).max(1) }))
}
