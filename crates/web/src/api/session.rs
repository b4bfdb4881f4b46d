//! Logging in and out, who am I, and users.

use crate::auth::{Admin, Viewer, bearer};
use crate::error::ApiResult;
use axum::extract::State;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use drover_api::Done;
use drover_api::session::{LoggedIn, Login, NewUser, PasswordChange};
use drover_domain::executor::Executor;
use drover_domain::user::User;
use drover_engine::{Engine, now_ms};

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
        .route("/users", post(create_user))
}

async fn login(State(engine): State<Engine>, Json(l): Json<Login>) -> ApiResult<Json<LoggedIn>> {
    let (user, token) = engine.login(&l.name, &l.password, now_ms()).await?;
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

async fn create_user(
    State(engine): State<Engine>,
    Admin(admin): Admin,
    Json(u): Json<NewUser>,
) -> ApiResult<Json<User>> {
    let user = engine.create_user(&Executor::user(&admin.name), &u.name, &u.password, u.role, now_ms()).await?;
    tracing::info!(by = %admin.name, user = %user.name, role = user.role.as_str(), "user created");
    Ok(Json(user))
}
