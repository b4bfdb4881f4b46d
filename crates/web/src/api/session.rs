//! Logging in and out, who am I, my tokens, and users (admin: add, list, disable,
//! enable, remove, revoke their tokens).

use crate::auth::{Admin, Viewer, bearer};
use crate::error::ApiResult;
use crate::extract::{ClientAddr, Json, Path};
use axum::Router;
use axum::extract::State;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use drover_api::Done;
use drover_api::session::{LoggedIn, Login, NewUser, PasswordChange, TokenInfo, UserEntry};
use drover_domain::executor::Executor;
use drover_domain::user::User;
use drover_engine::{Engine, LoginAttempt, now_ms};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
        .route("/me/tokens", get(my_tokens))
        .route("/me/tokens/{id}", delete(revoke_my_token))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{name}", delete(delete_user))
        .route("/users/{name}/disable", post(disable_user))
        .route("/users/{name}/enable", post(enable_user))
        .route("/users/{name}/revoke-tokens", post(revoke_user_tokens))
}

async fn login(
    State(engine): State<Engine>,
    ClientAddr(client): ClientAddr,
    Json(l): Json<Login>,
) -> ApiResult<Json<LoggedIn>> {
    let attempt = LoginAttempt { name: &l.name, password: &l.password, client, now_ms: now_ms() };
    let (user, token) = engine.login(attempt).await?;
    Ok(Json(LoggedIn { token, user }))
}

async fn logout(State(engine): State<Engine>, _who: Viewer, parts: Parts) -> ApiResult<Json<Done>> {
    if let Some(token) = bearer(&parts) {
        engine.logout(token).await?;
    }
    Ok(Json(Done::new("logged out")))
}

async fn me(Viewer(user): Viewer) -> Json<User> {
    Json(user)
}

async fn change_password(
    State(engine): State<Engine>,
    Viewer(user): Viewer,
    Json(p): Json<PasswordChange>,
) -> ApiResult<Json<Done>> {
    engine.change_password(&user, &p.current, &p.new).await?;
    Ok(Json(Done::new("password changed; log in again")))
}

/// The caller's own tokens (the one of this request marked `current`).
async fn my_tokens(
    State(engine): State<Engine>,
    Viewer(user): Viewer,
    parts: Parts,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    let current = bearer(&parts).unwrap_or_default();
    Ok(Json(engine.my_tokens(&user, current, now_ms()).await?))
}

async fn revoke_my_token(
    State(engine): State<Engine>,
    Viewer(user): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    engine.revoke_my_token(&user, &id).await?;
    Ok(Json(Done::new(format!("token {id} revoked"))))
}

async fn list_users(State(engine): State<Engine>, _a: Admin) -> ApiResult<Json<Vec<UserEntry>>> {
    Ok(Json(engine.list_users().await?))
}

async fn create_user(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(u): Json<NewUser>,
) -> ApiResult<Json<User>> {
    let user = engine.create_user(&Executor::user(&admin.name), &u.name, &u.password, u.role, now_ms()).await?;
    tracing::info!(by = %admin.name, user = %user.name, role = user.role.as_str(), "user created");
    Ok(Json(user))
}

async fn disable_user(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<Done>> {
    let u = engine.set_user_disabled(&name, true, &admin).await?;
    Ok(Json(Done::new(format!("user '{}' disabled; their tokens ended", u.name))))
}

async fn enable_user(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<Done>> {
    let u = engine.set_user_disabled(&name, false, &admin).await?;
    Ok(Json(Done::new(format!("user '{}' enabled", u.name))))
}

async fn delete_user(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<Done>> {
    let u = engine.delete_user(&name, &admin).await?;
    Ok(Json(Done::new(format!("user '{}' removed", u.name))))
}

async fn revoke_user_tokens(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<Done>> {
    let n = engine.revoke_user_tokens(&name, &admin).await?;
    Ok(Json(Done::new(format!("{n} token(s) of '{name}' revoked"))))
}
