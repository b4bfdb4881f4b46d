//! Logging in and out of the console, changing one's password, the session extractor
//! and the role extractors (`ViewerPage`, `OperatorPage`, `AdminPage`) and the CSRF-checked
//! form extractor [`CsrfForm`].

use super::{ConsoleError, Nav, PageResult, render};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use drover_domain::executor::Executor;
use drover_domain::user::{Role, User};
use drover_engine::sessions::{NewSession, SESSION_LIFETIME_MS};
use drover_engine::{Engine, EngineError, LoginAttempt, now_ms};
use serde::Deserialize;

/// The session cookie's name.
const COOKIE_NAME: &str = "drover_session";

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/password", get(password_page).post(change_password))
}

/// A logged-in console user, the session token of the cookie and its CSRF token.
pub(crate) struct Session {
    pub user: User,
    pub token: String,
    pub csrf: String,
}

impl Session {
    pub fn nav(&self, active: &'static str) -> Nav {
        Nav {
            user: self.user.name.clone(),
            role: self.user.role.as_str(),
            operator: self.user.role >= Role::Operator,
            admin: self.user.role >= Role::Admin,
            csrf: self.csrf.clone(),
            active,
        }
    }

    /// The user as the engine records who acted.
    pub fn actor(&self) -> Executor {
        Executor::user(&self.user.name)
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == COOKIE_NAME && !value.is_empty()).then(|| value.to_string())
    })
}

/// Whether the browser reached us over TLS (this server serves HTTPS, or a proxy says so).
fn over_tls(engine: &Engine, parts_headers: &HeaderMap, scheme: Option<&str>) -> bool {
    engine.config().tls_sha256.is_some()
        || scheme == Some("https")
        || parts_headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("drover_session=; Path=/"))
}

async fn session_of(parts: &Parts, engine: &Engine) -> Result<Session, ConsoleError> {
    let next = parts.uri.path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
    let token = cookie_token(&parts.headers).ok_or(ConsoleError::LoginNeeded { next: next.clone() })?;
    let user = match engine.console_user(&token, now_ms()).await {
        Ok(u) => u,
        Err(EngineError::Unauthorized(_)) => return Err(ConsoleError::LoginNeeded { next }),
        Err(e) => return Err(e.into()),
    };
    Ok(Session { csrf: engine.csrf_token(&token), user, token })
}

impl FromRequestParts<Engine> for Session {
    type Rejection = ConsoleError;
    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, ConsoleError> {
        session_of(parts, engine).await
    }
}

macro_rules! page_role {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        pub(crate) struct $name(pub Session);

        impl FromRequestParts<Engine> for $name {
            type Rejection = ConsoleError;
            async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, ConsoleError> {
                let s = session_of(parts, engine).await?;
                if s.user.role < $role {
                    return Err(EngineError::Forbidden(format!(
                        "This needs the role {} or higher; you ('{}') have the role {}. Ask an admin.",
                        $role.as_str(),
                        s.user.name,
                        s.user.role.as_str()
                    ))
                    .into());
                }
                Ok($name(s))
            }
        }
    };
}

page_role!(ViewerPage, Role::Viewer, "Any logged-in user: may look.");
page_role!(OperatorPage, Role::Operator, "May deploy and manage assets and packages.");
page_role!(AdminPage, Role::Admin, "May manage settings, credentials, users; reads the audit log.");

/// A urlencoded form whose `_csrf` field is the CSRF token of the cookie's session;
/// refused with 403 otherwise. Keeps every field in order (`pairs`, for repeated
/// names such as ticked assets) and typed (`value`).
pub(crate) struct CsrfForm<T> {
    pub value: T,
    pub pairs: Vec<(String, String)>,
}

impl<T: serde::de::DeserializeOwned> FromRequest<Engine> for CsrfForm<T> {
    type Rejection = ConsoleError;
    async fn from_request(req: Request, engine: &Engine) -> Result<Self, ConsoleError> {
        let token = cookie_token(req.headers());
        let body = Bytes::from_request(req, engine)
            .await
            .map_err(|e| EngineError::Invalid(format!("cannot read the form: {e}")))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| EngineError::Invalid(format!("the form is not url-encoded: {e}")))?;
        let given = pairs.iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v.as_str()).unwrap_or("");
        match token {
            Some(t) if engine.csrf_ok(&t, given) => {}
            _ => return Err(ConsoleError::Csrf),
        }
        let value = serde_urlencoded::from_bytes(&body).map_err(|e| EngineError::Invalid(format!("bad form: {e}")))?;
        Ok(CsrfForm { value, pairs })
    }
}

/// Checks a CSRF token read from elsewhere (a multipart form).
pub(crate) fn check_csrf(engine: &Engine, headers: &HeaderMap, given: &str) -> Result<(), ConsoleError> {
    match cookie_token(headers) {
        Some(t) if engine.csrf_ok(&t, given) => Ok(()),
        _ => Err(ConsoleError::Csrf),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    name: String,
    next: String,
    error: String,
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a path of this site, never another origin.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next.to_string() } else { "/".into() }
}

async fn login_page(Query(q): Query<NextQuery>) -> Response {
    render(&LoginPage { nav: Nav::anonymous(), name: String::new(), next: safe_next(&q.next), error: String::new() })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// The login form needs no CSRF token (there is no session yet); the cookie is
/// `SameSite=Strict`, so a cross-site form cannot log a victim in. The check is the
/// API's (one throttle per user name and per client address, as the connection loop
/// recorded the peer).
async fn login(State(engine): State<Engine>, req: Request) -> PageResult {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|e| EngineError::Invalid(format!("cannot read the login form: {e}")))?;
    let f: LoginForm =
        serde_urlencoded::from_bytes(&bytes).map_err(|e| EngineError::Invalid(format!("bad login form: {e}")))?;
    let client = crate::server::client_addr(&parts.extensions).map(|a| a.ip());
    let next = safe_next(&f.next);
    let refused = |error: String, status: StatusCode| {
        let page = LoginPage { nav: Nav::anonymous(), name: f.name.clone(), next: next.clone(), error };
        Ok((status, render(&page)).into_response())
    };
    let attempt = LoginAttempt { name: f.name.trim(), password: &f.password, client, now_ms: now_ms() };
    match engine.console_login(attempt).await {
        Ok(NewSession { token, .. }) => {
            let secure = over_tls(&engine, &parts.headers, parts.uri.scheme_str());
            let mut resp = Redirect::to(&next).into_response();
            resp.headers_mut().insert(SET_COOKIE, session_cookie(&token, SESSION_LIFETIME_MS / 1000, secure));
            Ok(resp)
        }
        Err(EngineError::Unauthorized(m)) => refused(format!("{m}."), StatusCode::UNAUTHORIZED),
        Err(EngineError::Throttled(m)) => refused(format!("{m}."), StatusCode::TOO_MANY_REQUESTS),
        Err(EngineError::Forbidden(m)) => refused(format!("{m}."), StatusCode::FORBIDDEN),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(State(engine): State<Engine>, s: Session, _f: CsrfForm<Empty>) -> PageResult {
    engine.console_logout(&s.user, &s.token, now_ms()).await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(SET_COOKIE, session_cookie("", 0, false));
    Ok(resp)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    error_current: String,
    error_new: String,
    done: bool,
}

async fn password_page(s: Session) -> Response {
    render(&PasswordPage { nav: s.nav(""), error_current: String::new(), error_new: String::new(), done: false })
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

async fn change_password(
    State(engine): State<Engine>,
    s: Session,
    headers: HeaderMap,
    f: CsrfForm<PasswordForm>,
) -> PageResult {
    let f = f.value;
    let again = |error_current: String, error_new: String| {
        let page = PasswordPage { nav: s.nav(""), error_current, error_new, done: false };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
    };
    if f.new != f.repeat {
        return again(String::new(), "The two new passwords differ.".into());
    }
    match engine.console_change_password(&s.user, &f.current, &f.new, now_ms()).await {
        Ok(new) => {
            let mut resp = render(&PasswordPage {
                nav: Session { csrf: engine.csrf_token(&new.token), user: s.user.clone(), token: new.token.clone() }
                    .nav(""),
                error_current: String::new(),
                error_new: String::new(),
                done: true,
            });
            resp.headers_mut().insert(
                SET_COOKIE,
                session_cookie(&new.token, SESSION_LIFETIME_MS / 1000, over_tls(&engine, &headers, None)),
            );
            Ok(resp)
        }
        Err(EngineError::Forbidden(m)) => again(m, String::new()),
        Err(EngineError::Invalid(m)) => again(String::new(), m),
        Err(e) => Err(e.into()),
    }
}
