//! The deploy dialog, the same from every Deploy button: package and version, the
//! targets (ticked assets, or every result of an asset search, resolved by the engine),
//! run mode, Wake-on-LAN, retries; Confirm deploys with the user as executor.

use super::assets::ListQuery;
use super::session::{CsrfForm, OperatorPage};
use super::{Nav, PageResult, render};
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use drover_api::assets::AssetRef;
use drover_api::deployments::{DeployRequest, OptionsRequest};
use drover_api::packages::PackageRef;
use drover_domain::deployment::RunMode;
use drover_domain::selection::Selection;
use drover_engine::{Engine, EngineError};

/// Names of the targets a form or page lists.
pub(super) const SHOWN_NAMES: usize = 10;

pub(super) fn routes() -> Router<Engine> {
    Router::new().route("/deploy", get(dialog).post(confirm))
}

/// What the dialog's form holds (also what it shows again after an error).
#[derive(Debug, Clone, Default)]
pub(super) struct Choice {
    pub package: String,
    pub run_mode: String,
    pub wake_on_lan: bool,
    pub boot_secs: String,
    pub retry_offline: bool,
    pub retry_interval_secs: String,
    pub retry_expiry_secs: String,
}

/// The targets: ticked ids, all results of the search in `search`, or a group or a
/// report (`group=NAME`, `report=NAME&p_PARAM=VALUE…`) deployed to as a selection.
pub(super) struct Targets {
    pub all: bool,
    pub ids: Vec<i64>,
    pub search: ListQuery,
    pub selection: Option<Selection>,
}

pub(super) fn read(pairs: &[(String, String)]) -> (Targets, Choice) {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let search = ListQuery {
        name: get("name"),
        address: get("address"),
        hostname: get("hostname"),
        os: get("os"),
        arch: get("arch"),
        ..Default::default()
    };
    let selection = if !get("group").is_empty() {
        Some(Selection::Group { group: get("group") })
    } else if !get("report").is_empty() {
        let params =
            pairs.iter().filter_map(|(k, v)| k.strip_prefix("p_").map(|k| (k.to_string(), v.clone()))).collect();
        Some(Selection::Report { report: get("report"), params })
    } else {
        None
    };
    let targets = Targets {
        selection,
        all: get("all") == "1",
        ids: pairs.iter().filter(|(k, _)| k == "a").filter_map(|(_, v)| v.parse().ok()).collect(),
        search,
    };
    let choice = Choice {
        package: get("package"),
        run_mode: get("run_mode"),
        wake_on_lan: get("wake_on_lan") == "1",
        boot_secs: get("boot_secs"),
        retry_offline: get("retry_offline") == "1",
        retry_interval_secs: get("retry_interval_secs"),
        retry_expiry_secs: get("retry_expiry_secs"),
    };
    (targets, choice)
}

impl Choice {
    /// A form opened without options starts from the server's deployment defaults.
    pub(super) fn or_defaults(mut self, engine: &Engine) -> Choice {
        if self.boot_secs.is_empty() && self.retry_interval_secs.is_empty() && self.retry_expiry_secs.is_empty() {
            let d = engine.settings().deployment_defaults;
            self.wake_on_lan = d.wake_on_lan;
            self.retry_offline = d.retry_offline;
            self.boot_secs = d.boot_secs.to_string();
            self.retry_interval_secs = d.retry_interval_secs.to_string();
            self.retry_expiry_secs = d.retry_expiry_secs.to_string();
        }
        self
    }
}

/// The targets as a form shows them: the assets, the names of the first few, and the
/// hidden fields that carry the choice to the form's answer.
pub(super) struct Chosen {
    pub refs: Vec<AssetRef>,
    pub names: Vec<String>,
    pub hidden: Vec<(String, String)>,
}

impl Chosen {
    pub(super) async fn of(engine: &Engine, t: &Targets) -> Result<Chosen, EngineError> {
        let refs = resolve(engine, t).await?;
        let mut names = Vec::new();
        for r in refs.iter().take(SHOWN_NAMES) {
            names.push(engine.resolve_asset(r).await?.name);
        }
        let mut hidden: Vec<(String, String)> = t
            .search
            .filter_pairs()
            .into_iter()
            .filter(|(k, _)| *k != "package")
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        match &t.selection {
            Some(Selection::Group { group }) => hidden.push(("group".into(), group.clone())),
            Some(Selection::Report { report, params }) => {
                hidden.push(("report".into(), report.clone()));
                hidden.extend(params.iter().map(|(k, v)| (format!("p_{k}"), v.clone())));
            }
            _ if t.all => hidden.push(("all".into(), "1".into())),
            _ => hidden.extend(t.ids.iter().map(|id| ("a".to_string(), id.to_string()))),
        }
        Ok(Chosen { refs, names, hidden })
    }

    /// How many assets are not among the names shown.
    pub(super) fn more(&self) -> usize {
        self.refs.len().saturating_sub(self.names.len())
    }
}

pub(super) async fn resolve(engine: &Engine, t: &Targets) -> Result<Vec<AssetRef>, EngineError> {
    if let Some(sel) = &t.selection {
        let found = engine.resolve_selection(sel).await?;
        return Ok(found.into_iter().map(|(id, _)| AssetRef::Id(id.0)).collect());
    }
    if t.all {
        engine.assets_matching(&t.search.search(0, 1)).await
    } else {
        Ok(t.ids.iter().map(|id| AssetRef::Id(*id)).collect())
    }
}

struct PackageOption {
    id: i64,
    label: String,
    selected: bool,
    run_mode: String,
}

#[derive(Template)]
#[template(path = "deploy.html")]
struct Dialog {
    nav: Nav,
    packages: Vec<PackageOption>,
    count: usize,
    names: Vec<String>,
    more: usize,
    /// Hidden fields that carry the targets to Confirm.
    hidden: Vec<(String, String)>,
    c: Choice,
    error_package: String,
    error_run_mode: String,
    error_options: String,
    error_targets: String,
}

async fn dialog_page(engine: &Engine, nav: Nav, t: &Targets, c: Choice, errors: [String; 4]) -> PageResult {
    let c = c.or_defaults(engine);
    let chosen = Chosen::of(engine, t).await?;
    let mut pkgs = engine.list_packages().await?;
    pkgs.sort_by(|a, b| (&a.def.name, b.created_ms).cmp(&(&b.def.name, a.created_ms)));
    let packages = pkgs
        .into_iter()
        .map(|p| PackageOption {
            selected: c.package == p.id.0.to_string() || c.package == p.def.name,
            id: p.id.0,
            label: format!("{} {}", p.def.name, p.def.version),
            run_mode: p.def.run_mode.as_str().to_string(),
        })
        .collect();
    let [error_package, error_run_mode, error_options, mut error_targets] = errors;
    if chosen.refs.is_empty() && error_targets.is_empty() {
        error_targets =
            "No asset chosen: go back to Assets and tick some, or tick “All results of this search”.".into();
    }
    let failed = [&error_package, &error_run_mode, &error_options, &error_targets].iter().any(|e| !e.is_empty());
    let page = Dialog {
        nav,
        packages,
        count: chosen.refs.len(),
        more: chosen.more(),
        names: chosen.names,
        hidden: chosen.hidden,
        c,
        error_package,
        error_run_mode,
        error_options,
        error_targets,
    };
    let status = if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, render(&page)).into_response())
}

async fn dialog(State(engine): State<Engine>, OperatorPage(s): OperatorPage, RawQuery(q): RawQuery) -> PageResult {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let (targets, choice) = read(&pairs);
    dialog_page(&engine, s.nav("assets"), &targets, choice, Default::default()).await
}

#[derive(serde::Deserialize)]
struct Ignored {}

pub(super) fn number(field: &str, v: &str) -> Result<Option<u64>, String> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    v.trim().parse().map(Some).map_err(|_| format!("{field} must be a whole number of seconds, not '{v}'"))
}

async fn confirm(State(engine): State<Engine>, OperatorPage(s): OperatorPage, f: CsrfForm<Ignored>) -> PageResult {
    let (targets, c) = read(&f.pairs);
    let nav = s.nav("assets");
    let mut errors: [String; 4] = Default::default();
    let package = match c.package.parse::<i64>() {
        Ok(id) => Some(PackageRef::Id(id)),
        Err(_) => {
            errors[0] = "Choose a package.".into();
            None
        }
    };
    let run_mode = match c.run_mode.as_str() {
        "" => None,
        m => match RunMode::parse(m) {
            Some(m) => Some(m),
            None => {
                errors[1] = format!("'{m}' is not a run mode.");
                None
            }
        },
    };
    let numbers = (|| {
        Ok::<_, String>((
            number("Boot time", &c.boot_secs)?,
            number("Retry interval", &c.retry_interval_secs)?,
            number("Retry expiry", &c.retry_expiry_secs)?,
        ))
    })();
    let (boot_secs, retry_interval_secs, retry_expiry_secs) = match numbers {
        Ok(n) => n,
        Err(m) => {
            errors[2] = m;
            (None, None, None)
        }
    };
    let (Some(package), true) = (package, errors.iter().all(String::is_empty)) else {
        return dialog_page(&engine, nav, &targets, c, errors).await;
    };
    // a group or report is sent as the selection (resolved again at the start, recorded)
    let assets = if targets.selection.is_some() { vec![] } else { resolve(&engine, &targets).await? };
    let req = DeployRequest {
        package,
        version: None,
        assets,
        selection: targets.selection.clone(),
        run_mode,
        options: OptionsRequest {
            wake_on_lan: Some(c.wake_on_lan),
            boot_secs,
            retry_offline: Some(c.retry_offline),
            retry_interval_secs,
            retry_expiry_secs,
        },
    };
    match engine.deploy(req, s.actor()).await {
        Ok((d, _)) => Ok(Redirect::to(&format!("/deployments/{}", d.id.0)).into_response()),
        Err(EngineError::Invalid(m)) | Err(EngineError::NotFound(m)) => {
            let lower = m.to_lowercase();
            let slot = if lower.contains("run mode") || lower.contains("run_mode") {
                1
            } else if lower.contains("secs") || lower.contains("retr") || lower.contains("boot") {
                2
            } else if lower.contains("asset") {
                3
            } else {
                0
            };
            errors[slot] = m;
            dialog_page(&engine, nav, &targets, c, errors).await
        }
        Err(e) => Err(e.into()),
    }
}
