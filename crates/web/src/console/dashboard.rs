//! The dashboard: deployments running and recent, the success rate of the last 14 days
//! as a small bar chart, the retry queue, the next scheduled runs and the assets that
//! failed most.

use super::session::ViewerPage;
use super::{Nav, PageResult, civil_from_days, render, time};
use askama::Template;
use axum::extract::State;
use drover_api::deployments::DeploymentQuery;
use drover_domain::deployment::TargetState;
use drover_engine::{Engine, now_ms};
use std::collections::HashMap;

const DAYS: i64 = 14;
/// Deployments read for the chart and the failing assets.
const RECENT: i64 = 200;

struct DeploymentRow {
    id: i64,
    package: String,
    executor: String,
    created: String,
}

/// One day's bar: x position, bar heights (px) and labels.
struct Bar {
    x: i64,
    ok_h: i64,
    bad_h: i64,
    ok_y: i64,
    bad_y: i64,
    label: String,
    title: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    nav: Nav,
    running: Vec<DeploymentRow>,
    recent: Vec<DeploymentRow>,
    retry_count: usize,
    bars: Vec<Bar>,
    rate: String,
    failing: Vec<(String, i64, usize)>,
    /// (configuration id, name, package, run time) of the next runs, soonest first.
    next_runs: Vec<(i64, String, String, String)>,
}

/// How many of the next scheduled runs the dashboard lists.
const NEXT_RUNS: usize = 5;

pub(super) async fn show(State(engine): State<Engine>, ViewerPage(s): ViewerPage) -> PageResult {
    let now = now_ms();
    let today = now.div_euclid(86_400_000);
    let first_day = today - DAYS + 1;
    let deployments = engine.list_deployments(&DeploymentQuery { limit: RECENT }).await?;
    let row = |d: &drover_domain::deployment::Deployment| DeploymentRow {
        id: d.id.0,
        package: format!("{} {}", d.package_name, d.package_version),
        executor: d.executor.to_string(),
        created: time(Some(d.created_ms)),
    };
    let running = deployments.iter().filter(|d| d.finished_ms.is_none()).map(row).collect();
    let recent = deployments.iter().filter(|d| d.finished_ms.is_some()).take(10).map(row).collect();
    let mut per_day: HashMap<i64, (usize, usize)> = HashMap::new();
    let mut failing: HashMap<(String, i64), usize> = HashMap::new();
    for d in deployments.iter().filter(|d| d.created_ms.div_euclid(86_400_000) >= first_day) {
        for t in engine.deployment_view(d.id).await?.targets {
            let Some(end) = t.finished_ms.filter(|_| t.state.is_final()) else { continue };
            let day = per_day.entry(end.div_euclid(86_400_000)).or_default();
            match t.state {
                TargetState::Success => day.0 += 1,
                TargetState::Cancelled => {}
                _ => {
                    day.1 += 1;
                    *failing.entry((t.asset_name.clone(), t.asset_id.0)).or_default() += 1;
                }
            }
        }
    }
    const H: i64 = 80;
    let peak = per_day.values().map(|(o, b)| o + b).max().unwrap_or(0).max(1) as i64;
    let bars = (0..DAYS)
        .map(|i| {
            let day = first_day + i;
            let (ok, bad) = per_day.get(&day).copied().unwrap_or_default();
            let ok_h = ok as i64 * H / peak;
            let bad_h = bad as i64 * H / peak;
            let (_, m, d) = civil_from_days(day);
            Bar {
                x: i * 24 + 4,
                ok_h,
                bad_h,
                ok_y: H - ok_h,
                bad_y: H - ok_h - bad_h,
                label: format!("{d}"),
                title: format!("{m:02}-{d:02}: {ok} succeeded, {bad} failed"),
            }
        })
        .collect();
    let (ok, bad) = per_day.values().fold((0, 0), |(a, b), (o, f)| (a + o, b + f));
    let rate = match (ok * 100).checked_div(ok + bad) {
        None => "no finished targets".to_string(),
        Some(pct) => format!("{pct}% of {} targets", ok + bad),
    };
    let mut failing: Vec<(String, i64, usize)> = failing.into_iter().map(|((n, id), c)| (n, id, c)).collect();
    failing.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    failing.truncate(10);
    let mut configs: Vec<_> = engine
        .list_configs()
        .await?
        .into_iter()
        .filter(|v| v.config.config.enabled)
        .filter_map(|v| v.next_run.clone().map(|r| (r, v)))
        .collect();
    configs.sort_by_key(|(r, _)| r.at_ms);
    let next_runs = configs
        .into_iter()
        .take(NEXT_RUNS)
        .map(|(r, v)| {
            let c = v.config.config;
            let pkg = format!("{} {}", c.package_name, c.package_version.as_deref().unwrap_or("(newest)"));
            (v.config.id.0, c.name, pkg, r.local)
        })
        .collect();
    Ok(render(&Dashboard {
        next_runs,
        nav: s.nav("dashboard"),
        running,
        recent,
        retry_count: engine.retry_queue().await?.len(),
        bars,
        rate,
        failing,
    }))
}
