//! The step editor (operators): a new package, a new version of one, or a duplicate,
//! edited in one server-rendered form whose buttons (add, move up/down, delete, change
//! type, upload, save) post the whole form back; the form carries the state.

use super::editor_draft::{Draft, STEP_TYPES, StepDraft, Widget, kind_specs};
use super::session::{OperatorPage, check_csrf};
use super::{ConsoleError, Nav, PageResult, render};
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use drover_api::packages::PackageRef;
use drover_engine::package_edit::check_file_name;
use drover_engine::{Engine, EngineError};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/packages/new", get(new))
        .route("/packages/{id}/edit", get(edit))
        .route("/packages/{id}/duplicate", get(duplicate))
        .route("/packages/editor", post(submit).layer(DefaultBodyLimit::disable()))
}

/// The most the form's text fields may hold together (the upload is bounded apart).
const MAX_TEXT_BYTES: usize = 8 * 1024 * 1024;

/// One input of the form, ready to show.
struct FieldView {
    name: String,
    id: String,
    label: &'static str,
    value: String,
    widget: &'static str,
    hint: &'static str,
    error: String,
    options: Vec<(&'static str, bool)>,
}

impl FieldView {
    fn new(name: String, label: &'static str, value: &str, widget: Widget) -> FieldView {
        let widget = match widget {
            Widget::Text => "text",
            Widget::Area => "area",
            Widget::Number => "number",
            Widget::Check => "check",
        };
        FieldView {
            id: name.replace('.', "-"),
            name,
            label,
            value: value.to_string(),
            widget,
            hint: "",
            error: String::new(),
            options: vec![],
        }
    }

    fn hint(mut self, h: &'static str) -> Self {
        self.hint = h;
        self
    }

    fn error(mut self, e: Option<&String>) -> Self {
        self.error = e.cloned().unwrap_or_default();
        self
    }

    fn select(mut self, options: &[&'static str]) -> Self {
        self.widget = "select";
        self.options = options.iter().map(|o| (*o, *o == self.value)).collect();
        self
    }
}

struct StepView {
    index: usize,
    number: usize,
    title: String,
    kind: FieldView,
    fields: Vec<FieldView>,
    problems: Vec<String>,
    first: bool,
    last: bool,
    focus: &'static str,
}

struct FileView {
    index: usize,
    path: String,
    sha256: String,
    size: u64,
}

#[derive(Template)]
#[template(path = "editor.html")]
struct EditorPage {
    nav: Nav,
    heading: String,
    notice: String,
    settings: Vec<FieldView>,
    steps: Vec<StepView>,
    files: Vec<FileView>,
    problems: Vec<String>,
    upload_error: String,
    types: &'static [&'static str],
}

fn step_view(i: usize, st: &StepDraft, count: usize, focus: &'static str) -> StepView {
    let f = |key: &str, label: &'static str, value: &str, w: Widget| {
        FieldView::new(format!("s{i}.{key}"), label, value, w).error(st.errors.get(key))
    };
    let mut fields = vec![f("name", "Name", &st.name, Widget::Text)];
    fields.extend(kind_specs(&st.kind).iter().map(|s| f(s.key, s.label, st.field(s.key), s.widget).hint(s.hint)));
    fields.push(f("success_codes", "Success codes", &st.success_codes, Widget::Text).hint("exit codes, e.g. 0, 3010"));
    fields.push(
        f("on_success", "On success", &st.on_success, Widget::Text).hint("next, goto N, stop-success or stop-failure"),
    );
    fields.push(
        f("on_failure", "On failure", &st.on_failure, Widget::Text).hint("next, goto N, stop-success or stop-failure"),
    );
    fields.push(f("timeout_secs", "Timeout (seconds)", &st.timeout_secs, Widget::Number).hint("optional"));
    StepView {
        index: i,
        number: i + 1,
        title: if st.name.is_empty() { st.kind.clone() } else { st.name.clone() },
        kind: f("type", "Type", &st.kind, Widget::Text).select(&STEP_TYPES),
        fields,
        problems: st.problems.clone(),
        first: i == 0,
        last: i + 1 == count,
        focus,
    }
}

/// The page for a draft; `focus` is `(step, "up"|"down")` to keep the keyboard on a
/// moved step's button.
fn page(nav: Nav, heading: String, notice: String, d: &Draft, focus: Option<(usize, &'static str)>) -> EditorPage {
    let g = |key: &str, label: &'static str, value: &str, w: Widget| {
        FieldView::new(key.to_string(), label, value, w).error(d.errors.get(key))
    };
    let settings = vec![
        g("name", "Name", &d.name, Widget::Text),
        g("version", "Version", &d.version, Widget::Text)
            .hint("a name and version are saved once: a change is a new version"),
        g("description", "Description", &d.description, Widget::Area),
        g("run_mode", "Run mode", &d.run_mode, Widget::Text).select(&[
            "system",
            "scanning-credential",
            "logged-on-user",
            "ask",
        ]),
        g("max_duration_secs", "Max duration (seconds)", &d.max_duration_secs, Widget::Number)
            .hint("per asset; the run is ended after it"),
        g("final_action", "Final action", &d.final_action, Widget::Text)
            .select(&["none", "reboot", "shutdown", "logoff"]),
        g("final_delay_secs", "Final action delay (seconds)", &d.final_delay_secs, Widget::Number),
        g("rescan_after", "Rescan the asset afterwards", if d.rescan_after { "on" } else { "" }, Widget::Check),
    ];
    let count = d.steps.len();
    EditorPage {
        nav,
        heading,
        notice,
        settings,
        steps: d
            .steps
            .iter()
            .enumerate()
            .map(|(i, st)| step_view(i, st, count, focus.filter(|f| f.0 == i).map_or("", |f| f.1)))
            .collect(),
        files: d
            .files
            .iter()
            .enumerate()
            .map(|(index, f)| FileView { index, path: f.path.clone(), sha256: f.sha256.clone(), size: f.size })
            .collect(),
        problems: d.problems.clone(),
        upload_error: d.errors.get("upload").cloned().unwrap_or_default(),
        types: &STEP_TYPES,
    }
}

async fn new(OperatorPage(s): OperatorPage) -> PageResult {
    Ok(render(&page(s.nav("packages"), "New package".into(), String::new(), &Draft::empty(), None)))
}

async fn edit(State(engine): State<Engine>, OperatorPage(s): OperatorPage, Path(id): Path<i64>) -> PageResult {
    let p = engine.resolve_package(&PackageRef::Id(id), None).await?;
    let d = Draft::from_package(&p);
    let heading = format!("New version of {}", p.def.name);
    let notice = format!("Started from version {}: give the new one its own version, then save.", p.def.version);
    Ok(render(&page(s.nav("packages"), heading, notice, &d, None)))
}

async fn duplicate(State(engine): State<Engine>, OperatorPage(s): OperatorPage, Path(id): Path<i64>) -> PageResult {
    let p = engine.resolve_package(&PackageRef::Id(id), None).await?;
    let mut d = Draft::from_package(&p);
    d.name = format!("{} copy", p.def.name);
    let notice = format!("A copy of {} {} with its files: choose its name, then save.", p.def.name, p.def.version);
    Ok(render(&page(s.nav("packages"), format!("Duplicate {}", p.def.name), notice, &d, None)))
}

/// The form: `_csrf` first, then the fields; a chosen file (`upload`) is streamed to
/// the share within the server's upload limit and added to the package's files.
async fn submit(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    headers: HeaderMap,
    mut form: Multipart,
) -> PageResult {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        EngineError::Invalid(format!("cannot read the form: {}", e.body_text()))
    };
    let mut csrf_checked = false;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut text_bytes = 0usize;
    let mut uploaded = None;
    let mut upload_error = String::new();
    while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "_csrf" {
            let given = field.text().await.map_err(unreadable)?;
            check_csrf(&engine, &headers, &given)?;
            csrf_checked = true;
            continue;
        }
        if !csrf_checked {
            return Err(ConsoleError::Csrf);
        }
        if name == "upload" {
            let file_name = field.file_name().unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("").to_string();
            let mut up = engine.begin_upload().await?;
            let mut failed = None;
            while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                if let Err(e) = up.write(&chunk).await {
                    failed = Some(e);
                    break;
                }
            }
            match (failed, file_name.is_empty()) {
                (Some(EngineError::Invalid(m)), _) => {
                    // the file comes last in the form: what was typed is read already
                    upload_error = m;
                    break;
                }
                (Some(e), _) => return Err(e.into()),
                (None, true) => {}
                (None, false) => match check_file_name(&file_name) {
                    Ok(()) => uploaded = Some(engine.put_package_file(&s.actor(), &file_name, up).await?),
                    Err(m) => upload_error = m,
                },
            }
            continue;
        }
        let value = field.text().await.map_err(unreadable)?;
        text_bytes += name.len() + value.len();
        if text_bytes > MAX_TEXT_BYTES {
            return Err(EngineError::Invalid(format!(
                "the form holds more than {} MiB of text: put long scripts in a package file",
                MAX_TEXT_BYTES / (1024 * 1024)
            ))
            .into());
        }
        pairs.push((name, value));
    }
    if !csrf_checked {
        return Err(ConsoleError::Csrf);
    }
    let action = pairs.iter().rev().find(|(k, _)| k == "action").map(|(_, v)| v.clone()).unwrap_or_default();
    let heading = pairs.iter().find(|(k, _)| k == "heading").map_or("Package editor".to_string(), |(_, v)| v.clone());
    let mut d = Draft::from_pairs(&pairs);
    let mut notice = String::new();
    let mut focus = None;
    if let Some(f) = uploaded {
        notice = format!("Uploaded {} ({} bytes): name it {{PackageShare}}/{} in a step.", f.path, f.size, f.path);
        d.put_file(f);
    }
    if !upload_error.is_empty() {
        d.errors.insert("upload".into(), upload_error);
    }
    let (verb, arg) = action.split_once(':').unwrap_or((action.as_str(), ""));
    let arg: Option<usize> = arg.parse().ok();
    match (verb, arg) {
        ("add", _) => {
            let kind = pairs.iter().find(|(k, _)| k == "new_type").map_or("command", |(_, v)| v.as_str());
            let kind = STEP_TYPES.iter().find(|t| **t == kind).copied().unwrap_or("command");
            d.steps.push(StepDraft::new(kind));
        }
        ("up", Some(i)) if i > 0 && i < d.steps.len() => {
            d.steps.swap(i, i - 1);
            focus = Some((i - 1, if i - 1 == 0 { "down" } else { "up" }));
        }
        ("down", Some(i)) if i + 1 < d.steps.len() => {
            d.steps.swap(i, i + 1);
            focus = Some((i + 1, if i + 2 == d.steps.len() { "up" } else { "down" }));
        }
        ("delete", Some(i)) if i < d.steps.len() => {
            d.steps.remove(i);
        }
        ("unfile", Some(i)) if i < d.files.len() => {
            d.files.remove(i);
        }
        ("save", _) => {
            let status = match d.check() {
                Some(def) => match engine.save_package(&s.actor(), &def, &d.files).await {
                    Ok(p) => return Ok(Redirect::to(&format!("/packages/{}", p.id.0)).into_response()),
                    Err(EngineError::Conflict(m)) => {
                        d.errors.insert("version".into(), m);
                        StatusCode::CONFLICT
                    }
                    Err(EngineError::Invalid(m)) => {
                        d.problems.push(m);
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                    Err(e) => return Err(e.into()),
                },
                None => StatusCode::UNPROCESSABLE_ENTITY,
            };
            return Ok((status, render(&page(s.nav("packages"), heading, notice, &d, None))).into_response());
        }
        _ => {}
    }
    let status = if d.has_errors() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, render(&page(s.nav("packages"), heading, notice, &d, focus))).into_response())
}
