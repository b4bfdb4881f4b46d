//! Settings (admins): deployment threads (applied live), the deployment defaults,
//! credentials (secrets go in, never come back) with their mappings, and users.

use super::session::{AdminPage, CsrfForm, Session};
use super::{Nav, PageResult, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use drover_api::assets::AssetRef;
use drover_domain::credential::{CredentialSecret, NewCredential, SudoMode};
use drover_domain::ids::CredentialId;
use drover_domain::user::Role;
use drover_engine::{Engine, EngineError, now_ms};
use serde::Deserialize;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/settings", get(show))
        .route("/settings/threads", post(threads))
        .route("/settings/users", post(add_user))
        .route("/settings/credentials", post(add_credential))
        .route("/settings/credentials/{id}/delete", post(delete_credential))
        .route("/settings/credentials/{id}/map", post(map_credential))
}

/// What the forms show again after an error (never a secret), and the errors.
#[derive(Default)]
struct Forms {
    threads: String,
    error_threads: String,
    user_name: String,
    user_role: String,
    error_user: String,
    cred_name: String,
    cred_username: String,
    cred_sudo: String,
    error_credential: String,
    error_map: String,
    done: String,
}

struct CredRow {
    id: i64,
    name: String,
    username: String,
    kind: &'static str,
    sudo: &'static str,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct Page {
    nav: Nav,
    node: String,
    running: usize,
    waiting: usize,
    defaults: Vec<(&'static str, String)>,
    credentials: Vec<CredRow>,
    users: Vec<(String, &'static str)>,
    f: Forms,
}

async fn page(engine: &Engine, s: &Session, mut f: Forms) -> PageResult {
    let st = engine.settings();
    let info = engine.threads();
    if f.threads.is_empty() {
        f.threads = info.threads.to_string();
    }
    let d = st.deployment_defaults;
    let defaults = vec![
        ("Wake-on-LAN", if d.wake_on_lan { "on".into() } else { "off".into() }),
        ("Boot time", format!("{} s", d.boot_secs)),
        ("Retry offline", if d.retry_offline { "on".into() } else { "off".into() }),
        ("Retry interval", format!("{} s", d.retry_interval_secs)),
        ("Retries end after", format!("{} s", d.retry_expiry_secs)),
        ("Log retention", format!("{} days", st.log_retention_days)),
        ("Wake-on-LAN interface", st.wol_interface.clone().unwrap_or_else(|| "as routing decides".into())),
    ];
    let credentials = engine
        .list_credentials()
        .await?
        .into_iter()
        .map(|c| CredRow {
            id: c.id.0,
            name: c.name,
            username: c.username,
            kind: c.kind.as_str(),
            sudo: c.sudo.as_str(),
        })
        .collect();
    let users = engine.list_users().await?.into_iter().map(|u| (u.name, u.role.as_str())).collect();
    let failed = [&f.error_threads, &f.error_user, &f.error_credential, &f.error_map].iter().any(|e| !e.is_empty());
    let page = Page {
        nav: s.nav("settings"),
        node: st.node,
        running: info.running,
        waiting: info.queued,
        defaults,
        credentials,
        users,
        f,
    };
    let status = if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, render(&page)).into_response())
}

/// The message of an error a user can fix, or the error.
fn user_error(e: EngineError) -> Result<String, EngineError> {
    match e {
        EngineError::Invalid(m) | EngineError::Conflict(m) | EngineError::NotFound(m) => Ok(m),
        e => Err(e),
    }
}

async fn show(State(engine): State<Engine>, AdminPage(s): AdminPage) -> PageResult {
    page(&engine, &s, Forms::default()).await
}

#[derive(Deserialize)]
struct ThreadsForm {
    #[serde(default)]
    threads: String,
}

async fn threads(State(engine): State<Engine>, AdminPage(s): AdminPage, f: CsrfForm<ThreadsForm>) -> PageResult {
    let typed = f.value.threads.trim().to_string();
    let mut forms = Forms { threads: typed.clone(), ..Default::default() };
    match typed.parse::<usize>() {
        Err(_) => forms.error_threads = format!("'{typed}' is not a number: type 1 to 10000"),
        Ok(n) => match engine.set_threads(&s.actor(), n).await {
            Ok(info) => forms.done = format!("Deployment threads set to {}, applied now.", info.threads),
            Err(e) => forms.error_threads = user_error(e)?,
        },
    }
    page(&engine, &s, forms).await
}

#[derive(Deserialize)]
struct UserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

async fn add_user(State(engine): State<Engine>, AdminPage(s): AdminPage, f: CsrfForm<UserForm>) -> PageResult {
    let u = f.value;
    let mut forms = Forms { user_name: u.name.clone(), user_role: u.role.clone(), ..Default::default() };
    match Role::parse(&u.role) {
        None => forms.error_user = "Choose a role.".into(),
        Some(role) => match engine.create_user(&s.actor(), &u.name, &u.password, role, now_ms()).await {
            Ok(user) => {
                forms = Forms { done: format!("User '{}' added.", user.name), ..Default::default() };
            }
            Err(e) => forms.error_user = user_error(e)?,
        },
    }
    page(&engine, &s, forms).await
}

#[derive(Deserialize)]
struct CredentialForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    sudo: String,
    #[serde(default)]
    sudo_password: String,
}

async fn add_credential(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    f: CsrfForm<CredentialForm>,
) -> PageResult {
    let c = f.value;
    let mut forms = Forms {
        cred_name: c.name.clone(),
        cred_username: c.username.clone(),
        cred_sudo: c.sudo.clone(),
        ..Default::default()
    };
    let some = |s: String| (!s.is_empty()).then_some(s);
    let new = NewCredential {
        name: c.name,
        username: c.username,
        sudo: SudoMode::parse(&c.sudo).unwrap_or_default(),
        secret: CredentialSecret {
            password: some(c.password),
            private_key: some(c.private_key),
            passphrase: None,
            sudo_password: some(c.sudo_password),
        },
    };
    match engine.add_credential(&s.actor(), new).await {
        Ok(cred) => forms = Forms { done: format!("Credential '{}' added.", cred.name), ..Default::default() },
        Err(e) => forms.error_credential = user_error(e)?,
    }
    page(&engine, &s, forms).await
}

#[derive(Deserialize)]
struct Ignored {}

async fn delete_credential(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.delete_credential(&s.actor(), CredentialId(id)).await?;
    Ok(Redirect::to("/settings").into_response())
}

#[derive(Deserialize)]
struct MapForm {
    #[serde(default)]
    asset: String,
    #[serde(default)]
    priority: String,
}

async fn map_credential(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(id): Path<i64>,
    f: CsrfForm<MapForm>,
) -> PageResult {
    let m = f.value;
    let mut forms = Forms::default();
    let priority = m.priority.trim().parse::<i64>().unwrap_or(0);
    let asset = match m.asset.trim() {
        "" => Ok(None),
        name => engine.resolve_asset(&AssetRef::parse(name)).await.map(Some),
    };
    let result = match asset {
        Ok(a) => engine.map_credential(&s.actor(), CredentialId(id), a.as_ref().map(|a| a.id), priority).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => forms.done = format!("Credential {id} mapped."),
        Err(e) => forms.error_map = user_error(e)?,
    }
    page(&engine, &s, forms).await
}
