//! Settings (admins): deployment threads (applied live), the deployment defaults,
//! credentials (secrets go in, never come back) with their mappings to a scope (an
//! asset, an IP range, a DNS domain, or global), and users (add, disable, enable).

use super::session::{AdminPage, CsrfForm, Session};
use super::{Nav, PageResult, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use drover_api::assets::AssetRef;
use drover_api::credentials::Mapping;
use drover_domain::credential::{CredentialSecret, NewCredential, SudoMode};
use drover_domain::ids::{CredentialId, MappingId};
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
        .route("/settings/credentials/{id}/mappings/{mapping}/delete", post(unmap_credential))
        .route("/settings/users/{name}/disable", post(disable_user))
        .route("/settings/users/{name}/enable", post(enable_user))
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
    /// (mapping id, scope in words, priority)
    mappings: Vec<(i64, String, i64)>,
}

struct UserRow {
    name: String,
    role: &'static str,
    disabled: bool,
    /// The logged-in admin: no disable button for oneself.
    me: bool,
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
    users: Vec<UserRow>,
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
    let mut credentials = Vec::new();
    for c in engine.list_credentials().await? {
        let mappings = engine
            .credential_mappings(c.id)
            .await?
            .into_iter()
            .filter_map(|m| Some((m.id?.0, m.scope.to_string(), m.priority)))
            .collect();
        credentials.push(CredRow {
            id: c.id.0,
            name: c.name,
            username: c.username,
            kind: c.kind.as_str(),
            sudo: c.sudo.as_str(),
            mappings,
        });
    }
    let users = engine
        .list_users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            me: u.user.id == s.user.id,
            name: u.user.name,
            role: u.user.role.as_str(),
            disabled: u.disabled,
        })
        .collect();
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
    /// `asset`, `range`, `domain` or `global`.
    #[serde(default)]
    scope: String,
    /// The asset name, IP range or domain (nothing for global).
    #[serde(default)]
    value: String,
    #[serde(default)]
    priority: String,
}

/// The mapping a form asks for, as the API takes it.
fn mapping_of(m: &MapForm) -> Result<Mapping, String> {
    let priority = match m.priority.trim() {
        "" => 0,
        p => p.parse::<i64>().map_err(|_| format!("priority: '{p}' is not a whole number"))?,
    };
    let value = m.value.trim().to_string();
    let needs_value = |what: &str| {
        if value.is_empty() { Err(format!("Type the {what} to map the credential to.")) } else { Ok(value.clone()) }
    };
    Ok(match m.scope.as_str() {
        "asset" => Mapping::to_asset(AssetRef::parse(&needs_value("asset name")?), priority),
        "range" => Mapping {
            range: Some(needs_value("IP range (10.0.0.0/24 or 10.0.0.5-10.0.0.40)")?),
            priority,
            ..Default::default()
        },
        "domain" => Mapping { domain: Some(needs_value("DNS domain (corp.example)")?), priority, ..Default::default() },
        "global" => Mapping::global(priority),
        _ => return Err("Choose a scope: asset, IP range, domain or global.".into()),
    })
}

async fn map_credential(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(id): Path<i64>,
    f: CsrfForm<MapForm>,
) -> PageResult {
    let mut forms = Forms::default();
    match mapping_of(&f.value) {
        Err(m) => forms.error_map = m,
        Ok(mapping) => match engine.map_credential(&s.actor(), CredentialId(id), &mapping).await {
            Ok(m) => forms.done = format!("Credential {id} mapped to {} (priority {}).", m.scope, m.priority),
            Err(e) => forms.error_map = user_error(e)?,
        },
    }
    page(&engine, &s, forms).await
}

async fn unmap_credential(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path((id, mapping)): Path<(i64, i64)>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    engine.unmap_credential(&s.actor(), CredentialId(id), MappingId(mapping)).await?;
    Ok(Redirect::to("/settings").into_response())
}

async fn set_disabled(engine: &Engine, s: &Session, name: &str, disabled: bool) -> PageResult {
    let mut forms = Forms::default();
    match engine.set_user_disabled(name, disabled, &s.user).await {
        Ok(u) => forms.done = format!("User '{}' {}.", u.name, if disabled { "disabled" } else { "enabled" }),
        Err(e) => forms.error_user = user_error(e)?,
    }
    page(engine, s, forms).await
}

async fn disable_user(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(name): Path<String>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    set_disabled(&engine, &s, &name, true).await
}

async fn enable_user(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(name): Path<String>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    set_disabled(&engine, &s, &name, false).await
}
