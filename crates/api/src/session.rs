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
