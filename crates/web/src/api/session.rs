//! Logging in and out, who am I, and users.

use crate::auth::{Admin, Viewer, bearer};
use crate::error::ApiResult;
use axum::extract::State;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use drover_domain::user::{Role, User};
use drover_engine::{Engine, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
        .route("/users", post(create_user))
}

#[derive(Deserialize)]
struct Login {
    name: String,
    password: String,
}

async fn login(State(engine): State<Engine>, Json(l): Json<Login>) -> ApiResult<Json<Value>> {
    let (user, token) = engine.login(&l.name, &l.password, now_ms()).await?;
    Ok(Json(json!({ "token": token, "user": user })))
}

async fn logout(State(engine): State<Engine>, _who: Viewer, parts: Parts) -> ApiResult<Json<Value>> {
    if let Some(token) = bearer(&parts) {
        engine.logout(token).await?;
    }
    Ok(Json(json!({ "ok": true })))
}

async fn me(Viewer(user): Viewer) -> Json<User> {
    Json(user)
}

#[derive(Deserialize)]
struct PasswordChange {
    current: String,
    new: String,
}

async fn change_password(
    State(engine): State<Engine>,
    Viewer(user): Viewer,
    Json(p): Json<PasswordChange>,
) -> ApiResult<Json<Value>> {
    engine.change_password(&user, &p.current, &p.new).await?;
    Ok(Json(json!({ "ok": true, "message": "password changed; log in again" })))
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    password: String,
    role: Role,
}

async fn create_user(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(u): Json<NewUser>,
) -> ApiResult<Json<User>> {
    let user = engine.create_user(&u.name, &u.password, u.role, now_ms()).await?;
    tracing::info!(by = %admin.name, user = %user.name, role = user.role.as_str(), "user created");
    Ok(Json(user))
}
