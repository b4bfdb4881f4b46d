//! Packages: the list, a package's steps, importing a bundle (file upload), exporting,
//! deleting, and Deploy Now (the asset list with the package preselected).

use super::session::{CsrfForm, OperatorPage, ViewerPage, check_csrf};
use super::{ConsoleError, Nav, PageResult, render, time};
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use drover_api::packages::PackageRef;
use drover_engine::{Engine, EngineError};
use serde::Deserialize;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/packages", get(list))
        .route("/packages/import", post(import).layer(DefaultBodyLimit::disable()))
        .route("/packages/{id}", get(show))
        .route("/packages/{id}/bundle", get(export))
        .route("/packages/{id}/delete", post(delete))
}

struct Row {
    id: i64,
    name: String,
    version: String,
    steps: usize,
    files: usize,
    run_mode: &'static str,
    created: String,
}

#[derive(Template)]
#[template(path = "packages.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    error_bundle: String,
}

async fn list_page(engine: &Engine, nav: Nav, error_bundle: String) -> PageResult {
    let mut pkgs = engine.list_packages().await?;
    pkgs.sort_by(|a, b| (&a.def.name, b.created_ms).cmp(&(&b.def.name, a.created_ms)));
    let rows = pkgs
        .into_iter()
        .map(|p| Row {
            id: p.id.0,
            steps: p.def.steps.len(),
            files: p.files.len(),
            run_mode: p.def.run_mode.as_str(),
            created: time(Some(p.created_ms)),
            name: p.def.name,
            version: p.def.version,
        })
        .collect();
    let status = if error_bundle.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(&ListPage { nav, rows, error_bundle })).into_response())
}

async fn list(State(engine): State<Engine>, ViewerPage(s): ViewerPage) -> PageResult {
    list_page(&engine, s.nav("packages"), String::new()).await
}

/// The upload form: `_csrf`, then `bundle` (a `.tar.gz`). The bundle is streamed to a file
/// in the data directory (bounded by the engine's bundle limits) like the API's upload,
/// and only after the form's CSRF token checked out.
async fn import(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    headers: HeaderMap,
    mut form: Multipart,
) -> PageResult {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        EngineError::Invalid(format!("cannot read the upload: {}", e.body_text()))
    };
    let mut csrf_checked = false;
    let mut upload = None;
    while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("_csrf") => {
                let given = field.text().await.map_err(unreadable)?;
                check_csrf(&engine, &headers, &given)?;
                csrf_checked = true;
            }
            Some("bundle") if csrf_checked => {
                let mut up = engine.begin_upload().await?;
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    if let Err(EngineError::Invalid(m)) = up.write(&chunk).await {
                        return list_page(&engine, s.nav("packages"), m).await;
                    }
                }
                if up.written() > 0 {
                    upload = Some(up);
                }
            }
            _ => {}
        }
    }
    if !csrf_checked {
        return Err(ConsoleError::Csrf);
    }
    let Some(upload) = upload else {
        return list_page(&engine, s.nav("packages"), "Choose a bundle file (.tar.gz) to import.".into()).await;
    };
    match engine.import_upload(&s.actor(), upload).await {
        Ok(p) => Ok(Redirect::to(&format!("/packages/{}", p.id.0)).into_response()),
        Err(EngineError::Invalid(m)) | Err(EngineError::Conflict(m)) => list_page(&engine, s.nav("packages"), m).await,
        Err(e) => Err(e.into()),
    }
}

struct StepRow {
    number: usize,
    name: String,
    kind: &'static str,
    success_codes: String,
    on_success: String,
    on_failure: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "package.html")]
struct ShowPage {
    nav: Nav,
    id: i64,
    name: String,
    version: String,
    description: String,
    settings: Vec<(&'static str, String)>,
    steps: Vec<StepRow>,
    files: Vec<(String, u64, String)>,
}

async fn show(State(engine): State<Engine>, ViewerPage(s): ViewerPage, Path(id): Path<i64>) -> PageResult {
    let p = engine.resolve_package(&PackageRef::Id(id), None).await?;
    let d = &p.def;
    let settings = vec![
        ("Run mode", d.run_mode.as_str().to_string()),
        ("Max duration", format!("{} s", d.max_duration_secs)),
        ("Final action", format!("{:?}", d.final_action.action).to_lowercase()),
        ("Rescan after", if d.rescan_after { "yes".into() } else { "no".into() }),
        ("Imported", time(Some(p.created_ms))),
    ];
    let steps = d
        .steps
        .iter()
        .enumerate()
        .map(|(i, st)| StepRow {
            number: i + 1,
            name: st.name.clone(),
            kind: st.kind.type_name(),
            success_codes: st.success_codes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", "),
            on_success: st.on_success.to_string(),
            on_failure: st.on_failure.to_string(),
            detail: serde_json::to_value(&st.kind)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| *k != "type")
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
        })
        .collect();
    Ok(render(&ShowPage {
        nav: s.nav("packages"),
        id,
        name: d.name.clone(),
        version: d.version.clone(),
        description: d.description.clone(),
        settings,
        steps,
        files: p.files.iter().map(|f| (f.path.clone(), f.size, f.sha256.clone())).collect(),
    }))
}

async fn export(State(engine): State<Engine>, _v: ViewerPage, Path(id): Path<i64>) -> PageResult {
    let (pkg, bytes) = engine.export_bundle(drover_domain::ids::PackageId(id)).await?;
    let file = format!("{}-{}.tar.gz", pkg.def.name, pkg.def.version).replace(['"', '/', '\\', '\r', '\n'], "_");
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
struct Ignored {}

async fn delete(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.delete_package(&s.actor(), &PackageRef::Id(id)).await?;
    Ok(Redirect::to("/packages").into_response())
}
