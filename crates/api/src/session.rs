//! Logging in and out, who am I, passwords and users: `/session`, `/me`, `/users`.

use drover_domain::user::{Role, User};
use serde::{Deserialize, Serialize};

/// `POST /session`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    pub name: String,
    pub password: String,
}

/// The answer to [`Login`]: a bearer token for the next requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedIn {
    pub token: String,
    pub user: User,
}

/// `POST /me/password`: every token of the user ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// `POST /users` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    pub role: Role,
}

/// `GET /users` (admin): a user, whether they are disabled and since when they exist.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserEntry {
    #[serde(flatten)]
    pub user: User,
    pub disabled: bool,
    pub created_ms: i64,
}

/// `GET /me/tokens`: one of the caller's API tokens (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Names the token for `DELETE /me/tokens/{id}`: the start of its hash.
    pub id: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// The token this request was made with.
    pub current: bool,
}
