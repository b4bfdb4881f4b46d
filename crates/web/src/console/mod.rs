//! The web console: server-rendered pages (askama templates) over the same engine calls
//! as the JSON API, behind a session cookie, roles and CSRF tokens. One module per page
//! group; the layout, errors and static files live here.

mod assets;
mod audit;
mod configs;
mod dashboard;
mod deploy;
mod deployments;
mod editor;
mod editor_draft;
mod packages;
mod scans;
mod schedules;
mod selections;
mod session;
mod settings;
mod statics;

use askama::Template;
use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use drover_engine::{Engine, EngineError};

pub(crate) fn routes() -> Router<Engine> {
    Router::new()
        .route("/", get(dashboard::show))
        .merge(session::routes())
        .merge(assets::routes())
        .merge(deploy::routes())
        .merge(deployments::routes())
        .merge(packages::routes())
        .merge(selections::routes())
        .merge(editor::routes())
        .merge(schedules::routes())
        .merge(scans::routes())
        .merge(configs::routes())
        .merge(settings::routes())
        .merge(audit::routes())
        .merge(statics::routes())
}

/// What every page's layout needs: who is logged in, the form token, the current section.
pub(crate) struct Nav {
    pub user: String,
    pub role: &'static str,
    pub operator: bool,
    pub admin: bool,
    pub csrf: String,
    pub active: &'static str,
}

impl Nav {
    /// The layout of a page shown before or without a session (login, errors).
    pub fn anonymous() -> Nav {
        Nav { user: String::new(), role: "", operator: false, admin: false, csrf: String::new(), active: "" }
    }
}

/// Renders a page as HTML.
pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        // pages are per user: a browser keeps none of them (not after a logout either)
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!("cannot render a console page: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered; see the server log").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    title: String,
    message: String,
}

/// What a console page fails with; each becomes an HTML page with the right status.
#[derive(Debug)]
pub(crate) enum ConsoleError {
    /// No session: go to the login page, then back to `next`.
    LoginNeeded {
        next: String,
    },
    /// A form without this session's CSRF token.
    Csrf,
    Engine(EngineError),
}

impl From<EngineError> for ConsoleError {
    fn from(e: EngineError) -> Self {
        ConsoleError::Engine(e)
    }
}

pub(crate) type PageResult = Result<Response, ConsoleError>;

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            ConsoleError::LoginNeeded { next } => {
                let q = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
                return Redirect::to(&format!("/login?{q}")).into_response();
            }
            ConsoleError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form was sent without this session's security token (CSRF), so it was refused. \
                 Go back, reload the page and send the form again."
                    .to_string(),
            ),
            ConsoleError::Engine(e) => match e {
                EngineError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
                EngineError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
                EngineError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "Log in", m),
                EngineError::Conflict(m) => (StatusCode::CONFLICT, "Conflict", m),
                EngineError::Throttled(m) => (StatusCode::TOO_MANY_REQUESTS, "Too many requests", m),
                EngineError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid request", m),
                EngineError::Unavailable(m) => {
                    tracing::warn!("storage unavailable: {m}");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Storage unavailable",
                        "The database did not answer; try again in a moment (the server log says more).".to_string(),
                    )
                }
                EngineError::Internal(m) => {
                    tracing::error!("internal error: {m}");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Server error",
                        "Something went wrong on the server; the server log says what.".to_string(),
                    )
                }
            },
        };
        let page = ErrorPage { nav: Nav::anonymous(), title: title.to_string(), message };
        (status, render(&page)).into_response()
    }
}

/// Unknown routes: a JSON error under the API, the deployer's and the share's paths, a
/// 404 page elsewhere.
pub(crate) async fn not_found(uri: Uri) -> Response {
    if ["/api/", "/agent/", "/share/"].iter().any(|p| uri.path().starts_with(p)) {
        return crate::extract::Rejection {
            status: StatusCode::NOT_FOUND,
            message: format!("no route {} (the API is under /api/v1)", uri.path()),
        }
        .into_response();
    }
    ConsoleError::Engine(EngineError::NotFound(format!("there is no page at {}", uri.path()))).into_response()
}

/// Formats epoch milliseconds as `2025-01-31 12:34:56 UTC` (empty for none).
pub(crate) fn time(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return String::new() };
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A duration in milliseconds for people: `850 ms`, `12.3 s`, `4 min 5 s`.
pub(crate) fn duration(ms: i64) -> String {
    match ms {
        ..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_and_durations_read_well() {
        assert_eq!(super::time(Some(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::time(Some(1_700_000_000_000)), "2023-11-14 22:13:20 UTC");
        assert_eq!(super::duration(12_340), "12.3 s");
        assert_eq!(super::duration(245_000), "4 min 5 s");
    }
}
