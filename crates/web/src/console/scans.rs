//! Scan targets: the list (what each covers, its schedule, enabled, next and last run,
//! what its last scan found), forms to add and to edit one with the messages beside their
//! fields, enable/disable and delete (admins, as in the API), and "run now" (operators),
//! which starts the scan in the background and comes back to the list.

use super::session::{AdminPage, CsrfForm, OperatorPage, ViewerPage};
use super::{Nav, PageResult, render, time};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use drover_api::scan::ScanTargetChange;
use drover_domain::scan::{NewScanTarget, ScanSchedule, ScanTarget};
use drover_engine::{Engine, EngineError};
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/scan-targets", get(list).post(add))
        .route("/scan-targets/{id}/edit", get(edit_page).post(edit))
        .route("/scan-targets/{id}/enable", post(enable))
        .route("/scan-targets/{id}/disable", post(disable))
        .route("/scan-targets/{id}/run", post(run))
        .route("/scan-targets/{id}/delete", post(delete))
}

struct Row {
    id: i64,
    name: String,
    target: String,
    port: u16,
    schedule: String,
    enabled: bool,
    next_run: String,
    last_run: String,
    last_result: String,
}

impl Row {
    fn of(t: ScanTarget) -> Row {
        let last_result = match t.last_result {
            Some(c) => format!("{} probed, {} answered, {} failed", c.probed, c.answered, c.failed),
            None if t.last_scan_ms.is_some() => "running or not recorded".into(),
            None => String::new(),
        };
        Row {
            id: t.id.0,
            schedule: t.target.schedule.to_string(),
            enabled: t.target.enabled,
            port: t.target.ssh_port,
            next_run: time(t.next_scan_ms),
            last_run: time(t.last_scan_ms),
            last_result,
            target: t.target.target,
            name: t.target.name,
        }
    }
}

/// The add and edit forms as typed.
#[derive(Debug, Clone, serde::Deserialize)]
struct Form {
    #[serde(default)]
    name: String,
    #[serde(default)]
    target: String,
    #[serde(default = "default_port")]
    ssh_port: String,
    #[serde(default = "manual")]
    schedule: String,
    /// A ticked checkbox sends `on`; an unticked one sends nothing.
    #[serde(default)]
    enabled: Option<String>,
}

fn default_port() -> String {
    "22".into()
}
fn manual() -> String {
    "manual".into()
}

impl Default for Form {
    fn default() -> Self {
        Form {
            name: String::new(),
            target: String::new(),
            ssh_port: default_port(),
            schedule: manual(),
            enabled: Some("on".into()),
        }
    }
}

impl Form {
    /// The scan target, or messages by field.
    fn target(&self) -> Result<NewScanTarget, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let ssh_port = match self.ssh_port.trim().parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                errors.insert("ssh_port", format!("SSH port '{}': give 1 to 65535", self.ssh_port));
                0
            }
        };
        let schedule = ScanSchedule::parse(self.schedule.trim()).unwrap_or_else(|m| {
            errors.insert("schedule", m);
            ScanSchedule::Manual
        });
        if self.target.trim().is_empty() {
            errors.insert(
                "target",
                "give an IP range (10.0.0.0/24 or 10.0.0.5-10.0.0.40), an address or a host name".into(),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewScanTarget {
            name: self.name.clone(),
            target: self.target.trim().to_string(),
            ssh_port,
            schedule,
            enabled: self.enabled.is_some(),
        })
    }
}

impl Form {
    /// The form showing a stored target.
    fn of(t: &NewScanTarget) -> Form {
        Form {
            name: t.name.clone(),
            target: t.target.clone(),
            ssh_port: t.ssh_port.to_string(),
            schedule: t.schedule.to_string(),
            enabled: t.enabled.then(|| "on".into()),
        }
    }
}

/// The field an engine message is about (its messages name the field first).
fn field_of(message: &str) -> &'static str {
    if message.starts_with("scan target name") || message.contains("already exists") {
        "name"
    } else if message.starts_with("ssh_port") {
        "ssh_port"
    } else if message.starts_with("every ") || message.starts_with("daily ") || message.starts_with("schedule") {
        "schedule"
    } else {
        "target"
    }
}

#[derive(serde::Deserialize)]
struct Notice {
    started: Option<String>,
}

#[derive(Template)]
#[template(path = "scan_targets.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    f: Form,
    errors: BTreeMap<&'static str, String>,
    notice: String,
}

impl ListPage {
    fn err(&self, key: &str) -> String {
        self.errors.get(key).cloned().unwrap_or_default()
    }
}

async fn page(
    engine: &Engine,
    nav: Nav,
    f: Form,
    errors: BTreeMap<&'static str, String>,
    notice: String,
) -> PageResult {
    let rows = engine.list_scan_targets().await?.into_iter().map(Row::of).collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(&ListPage { nav, rows, f, errors, notice })).into_response())
}

async fn list(State(engine): State<Engine>, ViewerPage(s): ViewerPage, Query(q): Query<Notice>) -> PageResult {
    let notice = match q.started {
        Some(name) => {
            format!("The scan of '{name}' started; its result shows under Last result when it ends (reload the page).")
        }
        None => String::new(),
    };
    page(&engine, s.nav("scans"), Form::default(), BTreeMap::new(), notice).await
}

async fn add(State(engine): State<Engine>, AdminPage(s): AdminPage, form: CsrfForm<Form>) -> PageResult {
    let nav = s.nav("scans");
    let f = form.value;
    let new = match f.target() {
        Ok(t) => t,
        Err(errors) => return page(&engine, nav, f, errors, String::new()).await,
    };
    match engine.add_scan_target(&s.actor(), new).await {
        Ok(_) => Ok(Redirect::to("/scan-targets").into_response()),
        Err(EngineError::Invalid(m)) | Err(EngineError::Conflict(m)) => {
            let errors = BTreeMap::from([(field_of(&m), m)]);
            page(&engine, nav, f, errors, String::new()).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "scan_target_edit.html")]
struct EditPage {
    nav: Nav,
    id: i64,
    /// The target's name before this edit.
    original: String,
    f: Form,
    errors: BTreeMap<&'static str, String>,
}

impl EditPage {
    fn err(&self, key: &str) -> String {
        self.errors.get(key).cloned().unwrap_or_default()
    }
}

async fn edit_page(State(engine): State<Engine>, AdminPage(s): AdminPage, Path(id): Path<i64>) -> PageResult {
    let t = engine.resolve_scan_target(&id.to_string()).await?;
    let page = EditPage {
        nav: s.nav("scans"),
        id,
        original: t.target.name.clone(),
        f: Form::of(&t.target),
        errors: BTreeMap::new(),
    };
    Ok(render(&page).into_response())
}

/// Saves the edit form through the engine call `PATCH /scan-targets/{t}` uses; its
/// messages come back beside their fields.
async fn edit(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(id): Path<i64>,
    form: CsrfForm<Form>,
) -> PageResult {
    let t = engine.resolve_scan_target(&id.to_string()).await?;
    let f = form.value;
    let again = |f: Form, errors: BTreeMap<&'static str, String>| {
        let page = EditPage { nav: s.nav("scans"), id, original: t.target.name.clone(), f, errors };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
    };
    let new = match f.target() {
        Ok(new) => new,
        Err(errors) => return again(f, errors),
    };
    let change = ScanTargetChange {
        name: Some(new.name),
        target: Some(new.target),
        ssh_port: Some(new.ssh_port),
        schedule: Some(new.schedule),
        enabled: Some(new.enabled),
    };
    match engine.edit_scan_target(&s.actor(), &id.to_string(), change).await {
        Ok(_) => Ok(Redirect::to("/scan-targets").into_response()),
        Err(EngineError::Invalid(m)) | Err(EngineError::Conflict(m)) => again(f, BTreeMap::from([(field_of(&m), m)])),
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
struct Ignored {}

async fn enable(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.set_scan_target_enabled(&s.actor(), &id.to_string(), true).await?;
    Ok(Redirect::to("/scan-targets").into_response())
}

async fn disable(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.set_scan_target_enabled(&s.actor(), &id.to_string(), false).await?;
    Ok(Redirect::to("/scan-targets").into_response())
}

async fn delete(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.remove_scan_target(&s.actor(), &id.to_string()).await?;
    Ok(Redirect::to("/scan-targets").into_response())
}

/// Starts the scan in the background (a /16 takes long) and returns to the list.
async fn run(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    let t = engine.resolve_scan_target(&id.to_string()).await?;
    let (by, name) = (s.actor(), t.target.name.clone());
    tokio::spawn(async move {
        if let Err(e) = engine.run_scan_target(&by, &id.to_string()).await {
            tracing::warn!(scan_target = id, "a scan started from the console did not run: {e}");
        }
    });
    let q = serde_urlencoded::to_string([("started", name.as_str())]).unwrap_or_default();
    Ok(Redirect::to(&format!("/scan-targets?{q}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_form_reads_and_its_errors_sit_beside_their_fields() {
        let f =
            Form { name: "lab".into(), target: " 10.0.0.0/24 ".into(), schedule: "every 6h".into(), ..Form::default() };
        let t = f.target().unwrap();
        assert_eq!((t.target.as_str(), t.ssh_port, t.enabled), ("10.0.0.0/24", 22, true));
        assert_eq!(t.schedule, ScanSchedule::EveryHours { n: 6 });
        let bad = Form { ssh_port: "x".into(), schedule: "hourly".into(), target: String::new(), enabled: None, ..f };
        let errors = bad.target().unwrap_err();
        assert_eq!(errors.keys().copied().collect::<Vec<_>>(), ["schedule", "ssh_port", "target"], "{errors:?}");
        assert_eq!(field_of("scan target name must be 1 to 200 characters"), "name");
        assert_eq!(field_of("a scan target named 'lab' already exists"), "name");
        assert_eq!(field_of("'x y' is not a scan target: give a CIDR"), "target");
    }

    #[test]
    fn the_edit_form_shows_a_stored_target_as_it_reads_back() {
        for schedule in ["manual", "every 30m", "every 6h", "daily 02:30 Europe/Amsterdam"] {
            let stored = NewScanTarget {
                name: "lab".into(),
                target: "10.0.0.5-10.0.0.40".into(),
                ssh_port: 2222,
                schedule: ScanSchedule::parse(schedule).unwrap(),
                enabled: false,
            };
            assert_eq!(Form::of(&stored).target().unwrap(), stored, "{schedule}");
        }
    }
}
