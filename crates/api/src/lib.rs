//! Every request and response body of drover's JSON API under `/api/v1`, one module per
//! resource. The server (`drover-web`, over the engine) and the CLI both use these types,
//! so the two cannot drift apart. Domain types (assets, packages, deployments, …) appear
//! in them as they are; this crate adds only what the API itself shapes.

pub mod assets;
pub mod credentials;
pub mod deployments;
pub mod host_keys;
pub mod logs;
pub mod nodes;
pub mod packages;
pub mod retry;
pub mod scan;
pub mod schedules;
pub mod selections;
pub mod session;
pub mod settings;
pub mod share_locations;
pub mod threads;

use serde::{Deserialize, Serialize};

/// The answer of a request that changes something and has nothing else to return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// Always true (a failure is an [`ErrorBody`] with an HTTP error status).
    pub ok: bool,
    /// What was done, in words for people.
    #[serde(default)]
    pub message: String,
}

impl Done {
    pub fn new(message: impl Into<String>) -> Done {
        Done { ok: true, message: message.into() }
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong and what to do, for people.
    pub error: String,
    /// A stable code: `not_found`, `conflict`, `invalid`, `unauthorized`, `forbidden`,
    /// `internal`.
    pub code: String,
}

/// An empty request body (the POST routes that take no fields accept `{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `"12"` names the thing with id 12; anything else is a name.
fn id_or_name<T>(s: &str, id: fn(i64) -> T, name: fn(String) -> T) -> T {
    match s.parse::<i64>() {
        Ok(n) => id(n),
        Err(_) => name(s.to_string()),
    }
}

#[cfg(test)]
mod tests;
