//! Who started a deployment: a user, a deployment configuration (on its schedule), or an
//! inventory scan. Stored and shown as text (`user:admin`, `config:nightly`, `scan`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who started a deployment. Its text form (`Display` / `FromStr`, and serde) is what
/// the store keeps and the API shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Executor {
    /// A person, by user name: `user:<name>`.
    User(String),
    /// A deployment configuration, by name, firing on its schedule: `config:<name>`.
    /// (`schedule:<name>`, the older text of the same thing, still reads as this.)
    Config(String),
    /// An inventory scan: `scan`.
    Scan,
}

impl Executor {
    pub fn user(name: impl Into<String>) -> Executor {
        Executor::User(name.into())
    }
}

impl fmt::Display for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Executor::User(name) => write!(f, "user:{name}"),
            Executor::Config(name) => write!(f, "config:{name}"),
            Executor::Scan => f.write_str("scan"),
        }
    }
}

/// Text that names no executor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an executor: expected user:<name>, config:<name> or scan")]
pub struct BadExecutor(pub String);

impl FromStr for Executor {
    type Err = BadExecutor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let named = |name: &str| (!name.is_empty()).then(|| name.to_string());
        match s.split_once(':') {
            Some(("user", name)) => named(name).map(Executor::User),
            Some(("config" | "schedule", name)) => named(name).map(Executor::Config),
            None if s == "scan" => Some(Executor::Scan),
            _ => None,
        }
        .ok_or_else(|| BadExecutor(s.to_string()))
    }
}

impl From<Executor> for String {
    fn from(e: Executor) -> String {
        e.to_string()
    }
}

impl TryFrom<String> for Executor {
    type Error = BadExecutor;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_bad_text_is_named() {
        for (e, text) in [
            (Executor::user("admin"), "user:admin"),
            (Executor::User("a:b".into()), "user:a:b"),
            (Executor::Config("nightly".into()), "config:nightly"),
            (Executor::Scan, "scan"),
        ] {
            assert_eq!(e.to_string(), text);
            assert_eq!(text.parse::<Executor>(), Ok(e.clone()));
            assert_eq!(serde_json::to_string(&e).unwrap(), format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Executor>(&format!("\"{text}\"")).unwrap(), e);
        }
        for bad in ["", "user:", "admin", "robot:x", "scan:x"] {
            let err = bad.parse::<Executor>().unwrap_err();
            assert!(err.to_string().contains("expected user:<name>"), "{bad}: {err}");
        }
        assert!(serde_json::from_str::<Executor>("\"nobody\"").is_err());
        assert_eq!("schedule:nightly".parse::<Executor>(), Ok(Executor::Config("nightly".into())), "older text");
    }
}
