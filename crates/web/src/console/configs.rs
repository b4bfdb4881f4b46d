//! Deployment configurations: the list with next runs, a form (schedule, package and a
//! fixed version or the newest, the assets ticked on the asset list, run mode and
//! options), enable, disable, delete, and a configuration's runs with their deployments.

use super::deploy::{Choice, Chosen, SHOWN_NAMES, Targets, number, read, resolve};
use super::session::{CsrfForm, OperatorPage, ViewerPage};
use super::{Nav, PageResult, render, time};
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use drover_api::deployments::OptionsRequest;
use drover_api::schedules::{ConfigRequest, ConfigView};
use drover_domain::deployment::RunMode;
use drover_engine::{Engine, EngineError};
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/configs", get(list))
        .route("/configs/new", get(new).post(create))
        .route("/configs/{id}", get(show))
        .route("/configs/{id}/enable", post(enable))
        .route("/configs/{id}/disable", post(disable))
        .route("/configs/{id}/delete", post(delete))
}

struct Row {
    id: i64,
    name: String,
    schedule: String,
    package: String,
    targets: usize,
    enabled: bool,
    next_run: String,
}

fn row(v: &ConfigView) -> Row {
    let c = &v.config.config;
    Row {
        id: v.config.id.0,
        name: c.name.clone(),
        schedule: v.schedule_name.clone().unwrap_or_else(|| "(none)".into()),
        package: format!("{} {}", c.package_name, c.package_version.as_deref().unwrap_or("(newest)")),
        targets: c.targets.assets.len(),
        enabled: c.enabled,
        next_run: v.next_run.as_ref().map(|r| r.local.clone()).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "configs.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
}

async fn list(State(engine): State<Engine>, ViewerPage(s): ViewerPage) -> PageResult {
    let rows = engine.list_configs().await?.iter().map(row).collect();
    Ok(render(&ListPage { nav: s.nav("schedules"), rows }))
}

#[derive(Template)]
#[template(path = "config_form.html")]
struct FormPage {
    nav: Nav,
    name: String,
    schedule: String,
    version: String,
    c: Choice,
    schedules: Vec<String>,
    packages: Vec<String>,
    count: usize,
    names: Vec<String>,
    more: usize,
    hidden: Vec<(String, String)>,
    errors: BTreeMap<String, String>,
}

impl FormPage {
    fn err(&self, key: &str) -> String {
        self.errors.get(key).cloned().unwrap_or_default()
    }
}

/// What the form holds besides the deploy dialog's fields.
struct Own {
    name: String,
    schedule: String,
    version: String,
}

async fn form_page(
    engine: &Engine,
    nav: Nav,
    t: &Targets,
    own: Own,
    c: Choice,
    errors: BTreeMap<String, String>,
) -> PageResult {
    let c = c.or_defaults(engine);
    let chosen = Chosen::of(engine, t).await?;
    let schedules = engine.list_schedules().await?.into_iter().map(|v| v.record.schedule.name).collect();
    let packages: BTreeSet<String> = engine.list_packages().await?.into_iter().map(|p| p.def.name).collect();
    let mut errors = errors;
    if chosen.refs.is_empty() && !errors.contains_key("assets") {
        errors
            .insert("assets".into(), "No asset chosen: tick assets on the Assets page, then New configuration.".into());
    }
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = FormPage {
        nav,
        name: own.name,
        schedule: own.schedule,
        version: own.version,
        c,
        schedules,
        packages: packages.into_iter().collect(),
        count: chosen.refs.len(),
        more: chosen.more(),
        names: chosen.names,
        hidden: chosen.hidden,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

fn own(pairs: &[(String, String)]) -> Own {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    Own { name: get("config_name"), schedule: get("schedule"), version: get("version") }
}

async fn new(State(engine): State<Engine>, OperatorPage(s): OperatorPage, RawQuery(q): RawQuery) -> PageResult {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let (targets, choice) = read(&pairs);
    form_page(&engine, s.nav("schedules"), &targets, own(&pairs), choice, BTreeMap::new()).await
}

#[derive(serde::Deserialize)]
struct Ignored {}

/// The field an engine message (`field: …`) is about.
fn field_of(m: &str) -> &'static str {
    match m.split(':').next().unwrap_or("").trim() {
        "name" => "config_name",
        "schedule" => "schedule",
        "package" => "package",
        "version" => "version",
        "run_mode" => "run_mode",
        "options" => "options",
        "assets" => "assets",
        _ => "",
    }
}

async fn create(State(engine): State<Engine>, OperatorPage(s): OperatorPage, f: CsrfForm<Ignored>) -> PageResult {
    let (targets, c) = read(&f.pairs);
    let o = own(&f.pairs);
    let nav = s.nav("schedules");
    let mut errors = BTreeMap::new();
    let run_mode = match c.run_mode.as_str() {
        "" => None,
        m => RunMode::parse(m).or_else(|| {
            errors.insert("run_mode".to_string(), format!("'{m}' is not a run mode."));
            None
        }),
    };
    let mut num = |label: &str, v: &str| {
        number(label, v).unwrap_or_else(|m| {
            errors.insert("options".to_string(), m);
            None
        })
    };
    let options = OptionsRequest {
        wake_on_lan: Some(c.wake_on_lan),
        boot_secs: num("Boot time", &c.boot_secs),
        retry_offline: Some(c.retry_offline),
        retry_interval_secs: num("Retry interval", &c.retry_interval_secs),
        retry_expiry_secs: num("Retry expiry", &c.retry_expiry_secs),
    };
    if c.package.is_empty() {
        errors.insert("package".into(), "Choose a package.".into());
    }
    if !errors.is_empty() {
        return form_page(&engine, nav, &targets, o, c, errors).await;
    }
    let req = ConfigRequest {
        name: o.name.clone(),
        schedule: (!o.schedule.is_empty()).then(|| o.schedule.clone()),
        package: c.package.clone(),
        version: (!o.version.trim().is_empty()).then(|| o.version.trim().to_string()),
        // a group or a report stays one, resolved at each run; ticked assets or all
        // results of a search are fixed now
        assets: if targets.selection.is_some() { Vec::new() } else { resolve(&engine, &targets).await? },
        selection: targets.selection.clone(),
        run_mode,
        options,
        trigger_on_scan: false,
        enabled: true,
    };
    match engine.create_config(&s.actor(), req).await {
        Ok(v) => Ok(Redirect::to(&format!("/configs/{}", v.config.id.0)).into_response()),
        Err(EngineError::Invalid(m)) | Err(EngineError::NotFound(m)) | Err(EngineError::Conflict(m)) => {
            errors.insert(field_of(&m).to_string(), m);
            form_page(&engine, nav, &targets, o, c, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

struct RunRow {
    at: String,
    deployment: Option<i64>,
}

#[derive(Template)]
#[template(path = "config.html")]
struct ShowPage {
    nav: Nav,
    r: Row,
    facts: Vec<(&'static str, String)>,
    runs: Vec<RunRow>,
}

async fn show(State(engine): State<Engine>, ViewerPage(s): ViewerPage, Path(id): Path<i64>) -> PageResult {
    let v = engine.show_config(&id.to_string()).await?;
    let c = &v.config.config;
    let mut assets = Vec::new();
    for a in c.targets.assets.iter().take(SHOWN_NAMES) {
        let name = match engine.resolve_asset(&drover_api::assets::AssetRef::Id(a.0)).await {
            Ok(a) => a.name,
            Err(_) => format!("#{} (deleted)", a.0),
        };
        assets.push(name);
    }
    if c.targets.assets.len() > SHOWN_NAMES {
        assets.push(format!("and {} more", c.targets.assets.len() - SHOWN_NAMES));
    }
    let o = &c.options;
    let facts = vec![
        ("Assets", assets.join(", ")),
        ("Run mode", o.run_mode.as_str().to_string()),
        ("Wake-on-LAN", format!("{} (boot {} s)", if o.deploy.wake_on_lan { "yes" } else { "no" }, o.deploy.boot_secs)),
        (
            "Retry offline",
            format!(
                "{} (every {} s, for {} s)",
                if o.deploy.retry_offline { "yes" } else { "no" },
                o.deploy.retry_interval_secs,
                o.deploy.retry_expiry_secs
            ),
        ),
        ("Last run", time(v.config.last_fire_ms)),
        ("Next run (UTC)", v.next_run.as_ref().map(|r| r.utc.clone()).unwrap_or_default()),
    ];
    let runs = engine
        .config_runs(&id.to_string())
        .await?
        .into_iter()
        .map(|r| RunRow { at: time(Some(r.fire_ms)), deployment: r.deployment_id.map(|d| d.0) })
        .collect();
    Ok(render(&ShowPage { nav: s.nav("schedules"), r: row(&v), facts, runs }))
}

async fn enable(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.enable_config(&s.actor(), &id.to_string()).await?;
    Ok(Redirect::to(&format!("/configs/{id}")).into_response())
}

async fn disable(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.disable_config(&s.actor(), &id.to_string()).await?;
    Ok(Redirect::to(&format!("/configs/{id}")).into_response())
}

async fn delete(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.delete_config(&s.actor(), &id.to_string()).await?;
    Ok(Redirect::to("/configs").into_response())
}
