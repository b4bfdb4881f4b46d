//! Packages and their file format (`package.toml`), with validation that names the step
//! and field at fault.
//!
//! ```toml
//! name = "hello"
//! version = "1.0"
//! run_mode = "system"          # ask | system | scanning-credential | logged-on-user
//! max_duration_secs = 3600     # per asset; the task is killed after it
//! rescan_after = false
//! final_action = { action = "none", delay_secs = 0 }   # none | reboot | shutdown | logoff
//!
//! [[steps]]
//! name = "copy config"
//! type = "file-copy"
//! source = "{PackageShare}/hello.conf"
//! destination = "/etc/hello.conf"
//! mode = "0644"
//! success_codes = [0]          # default [0]
//! on_success = "next"          # next | goto N | stop-success | stop-failure
//! on_failure = "stop-failure"
//! timeout_secs = 60            # optional
//! ```

use crate::deployment::RunMode;
use crate::ids::PackageId;
use drover_proto::{Action, JobFile, PACKAGE_SHARE, Step};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A stored package: its definition plus the files it carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub id: PackageId,
    #[serde(flatten)]
    pub def: PackageDef,
    pub files: Vec<JobFile>,
    pub created_ms: i64,
}

/// The definition as written in `package.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageDef {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub run_mode: RunModeSetting,
    #[serde(default = "default_max_duration")]
    pub max_duration_secs: u64,
    #[serde(default)]
    pub rescan_after: bool,
    #[serde(default)]
    pub final_action: FinalAction,
    pub steps: Vec<Step>,
}

fn default_max_duration() -> u64 {
    3600
}

/// The package's run mode, or `ask` to make the user choose at deploy time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RunModeSetting {
    Ask,
    #[default]
    System,
    ScanningCredential,
    LoggedOnUser,
}

impl RunModeSetting {
    pub fn as_str(self) -> &'static str {
        match self {
            RunModeSetting::Ask => "ask",
            RunModeSetting::System => "system",
            RunModeSetting::ScanningCredential => "scanning-credential",
            RunModeSetting::LoggedOnUser => "logged-on-user",
        }
    }

    /// The run mode for a deployment: the override if given, else the package's own.
    pub fn resolve(self, chosen: Option<RunMode>) -> Result<RunMode, String> {
        match (chosen, self) {
            (Some(m), _) => Ok(m),
            (None, RunModeSetting::System) => Ok(RunMode::System),
            (None, RunModeSetting::ScanningCredential) => Ok(RunMode::ScanningCredential),
            (None, RunModeSetting::LoggedOnUser) => Ok(RunMode::LoggedOnUser),
            (None, RunModeSetting::Ask) => Err(
                "the package asks for the run mode at deploy time: choose system, scanning-credential or logged-on-user".into(),
            ),
        }
    }
}

impl std::fmt::Display for RunModeSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to the machine after the package, after `delay_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FinalAction {
    pub action: FinalActionKind,
    #[serde(default)]
    pub delay_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FinalActionKind {
    #[default]
    None,
    Reboot,
    Shutdown,
    Logoff,
}

impl FinalActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalActionKind::None => "none",
            FinalActionKind::Reboot => "reboot",
            FinalActionKind::Shutdown => "shutdown",
            FinalActionKind::Logoff => "logoff",
        }
    }
}

/// Why a package file was refused: every problem found, each naming where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid package: {}", problems.join("; "))]
pub struct PackageError {
    pub problems: Vec<String>,
}

impl PackageError {
    fn one(p: impl Into<String>) -> Self {
        PackageError { problems: vec![p.into()] }
    }
}

const TOP_KEYS: &[&str] =
    &["name", "version", "description", "run_mode", "max_duration_secs", "rescan_after", "final_action", "steps"];
const COMMON_STEP_KEYS: &[&str] = &["name", "type", "success_codes", "on_success", "on_failure", "timeout_secs"];

fn kind_keys(type_name: &str) -> Option<&'static [&'static str]> {
    Some(match type_name {
        "installer" => &["path", "parameters"],
        "command" => &["command"],
        "script" => &["path", "interpreter", "parameters"],
        "kill-process" => &["process", "force", "children"],
        "condition" => &["criteria"],
        "uninstall" => &["packages"],
        "file-copy" => &["source", "destination", "mode", "owner"],
        "sleep" => &["seconds"],
        "message" => &["text"],
        "reboot" => &["delay_secs"],
        _ => return None,
    })
}

const STEP_TYPES: &str =
    "installer, command, script, kill-process, condition, uninstall, file-copy, sleep, message, reboot";

/// Parses and validates `package.toml`. `files` are the paths (relative to
/// `{PackageShare}/`) that come with the package; every step's share path must be one.
pub fn parse_package(text: &str, files: &[&str]) -> Result<PackageDef, PackageError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| PackageError::one(format!("package.toml: {e}")))?;
    let mut problems = Vec::new();
    for key in table.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            problems.push(format!("unknown key '{key}' (known: {})", TOP_KEYS.join(", ")));
        }
    }
    match table.get("steps") {
        Some(toml::Value::Array(steps)) => {
            for (i, step) in steps.iter().enumerate() {
                check_step_keys(i, step, &mut problems);
            }
        }
        Some(_) => problems.push("'steps' must be a list of [[steps]] tables".into()),
        None => problems.push("the package has no steps: add at least one [[steps]] table".into()),
    }
    if !problems.is_empty() {
        return Err(PackageError { problems });
    }
    let def: PackageDef = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| PackageError::one(format!("package.toml: {}", e.message())))?;
    validate(&def, files)?;
    Ok(def)
}

fn step_label(i: usize, step: &toml::Value) -> String {
    match step.get("name").and_then(toml::Value::as_str) {
        Some(name) => format!("step {} '{name}'", i + 1),
        None => format!("step {}", i + 1),
    }
}

fn check_step_keys(i: usize, step: &toml::Value, problems: &mut Vec<String>) {
    let label = step_label(i, step);
    let Some(table) = step.as_table() else {
        problems.push(format!("{label}: must be a table"));
        return;
    };
    let Some(type_name) = table.get("type").and_then(toml::Value::as_str) else {
        problems.push(format!("{label}: missing 'type' (one of {STEP_TYPES})"));
        return;
    };
    let Some(specific) = kind_keys(type_name) else {
        problems.push(format!("{label}: unknown type '{type_name}' (one of {STEP_TYPES})"));
        return;
    };
    for key in table.keys() {
        if !COMMON_STEP_KEYS.contains(&key.as_str()) && !specific.contains(&key.as_str()) {
            problems.push(format!(
                "{label}: unknown field '{key}' for type '{type_name}' (allowed: {}, {})",
                specific.join(", "),
                COMMON_STEP_KEYS.join(", ")
            ));
        }
    }
    if let Err(e) = step.clone().try_into::<Step>() {
        problems.push(format!("{label}: {}", e.message()));
    }
}

/// The longest description.
pub const MAX_DESCRIPTION: usize = 4096;
/// The longest step name.
pub const MAX_STEP_NAME: usize = 200;
/// The most a step's fields may hold together (commands, parameters, criteria), as JSON.
pub const MAX_STEP_BYTES: usize = 64 * 1024;
/// The most steps a package has.
pub const MAX_STEPS: usize = 1000;

/// Whether a name would read as an id (all digits): such names are refused for assets
/// and packages, so `show 123` always means id 123.
pub fn is_all_digits(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_digit())
}

/// The rules a package obeys whatever way it was written.
pub fn validate(def: &PackageDef, files: &[&str]) -> Result<(), PackageError> {
    let mut problems = Vec::new();
    if def.name.trim().is_empty() || def.name.len() > 200 {
        problems.push("'name' must be 1 to 200 characters".to_string());
    } else if is_all_digits(def.name.trim()) {
        problems.push(format!("'name' must not be all digits ('{}' would read as a package id)", def.name));
    }
    if def.description.len() > MAX_DESCRIPTION {
        problems.push(format!(
            "'description' has {} bytes: at most {MAX_DESCRIPTION} (put long documentation in a file of the package)",
            def.description.len()
        ));
    }
    if def.steps.len() > MAX_STEPS {
        problems.push(format!("the package has {} steps: at most {MAX_STEPS}", def.steps.len()));
    }
    if def.version.trim().is_empty() || def.version.len() > 100 {
        problems.push("'version' must be 1 to 100 characters".to_string());
    }
    if def.max_duration_secs == 0 {
        problems.push("'max_duration_secs' must be at least 1".to_string());
    }
    if def.steps.is_empty() {
        problems.push("the package has no steps: add at least one [[steps]] table".into());
    }
    let count = def.steps.len();
    let mut names = BTreeSet::new();
    for (i, step) in def.steps.iter().enumerate() {
        let label = format!("step {} '{}'", i + 1, step.name);
        if step.name.trim().is_empty() {
            problems.push(format!("step {}: 'name' must not be empty", i + 1));
        } else if step.name.len() > MAX_STEP_NAME {
            problems.push(format!("step {}: 'name' has {} bytes, at most {MAX_STEP_NAME}", i + 1, step.name.len()));
        } else if !names.insert(step.name.as_str()) {
            problems.push(format!("{label}: another step has the same name"));
        }
        let size = serde_json::to_vec(&step.kind).map_or(0, |v| v.len());
        if size > MAX_STEP_BYTES {
            problems.push(format!("{label}: its fields hold {size} bytes, at most {MAX_STEP_BYTES} (put long scripts in a file of the package)"));
        }
        if step.success_codes.is_empty() {
            problems.push(format!("{label}: 'success_codes' must list at least one exit code"));
        }
        if step.timeout_secs == Some(0) {
            problems.push(format!("{label}: 'timeout_secs' must be at least 1"));
        }
        for (field, action) in [("on_success", step.on_success), ("on_failure", step.on_failure)] {
            if let Action::GoTo(n) = action {
                if n as usize > count {
                    problems.push(format!("{label}: {field} goes to step {n}, but the package has {count} steps"));
                } else if n as usize == i + 1 {
                    problems.push(format!("{label}: {field} goes to itself (step {n})"));
                }
            }
        }
        for path in step.kind.share_paths() {
            match share_relative(path) {
                Some(rel) if files.contains(&rel) => {}
                Some(rel) => problems.push(format!(
                    "{label}: '{path}' names the file '{rel}', which the package does not contain (put it in the bundle's files/ folder)"
                )),
                None => problems.push(format!(
                    "{label}: '{path}' must be '{PACKAGE_SHARE}/<relative path>' without '..'"
                )),
            }
        }
        if let drover_proto::StepKind::FileCopy { mode: Some(mode), .. } = &step.kind
            && (mode.is_empty() || mode.len() > 4 || !mode.chars().all(|c| ('0'..='7').contains(&c)))
        {
            problems.push(format!("{label}: mode '{mode}' must be octal like 0644"));
        }
        if let drover_proto::StepKind::Condition { criteria } = &step.kind
            && criteria.is_empty()
        {
            problems.push(format!("{label}: a condition needs at least one criterion"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(PackageError { problems }) }
}

/// `{PackageShare}/a/b.sh` → `a/b.sh`; None if not under the share or escaping it.
pub fn share_relative(path: &str) -> Option<&str> {
    let rel = path.strip_prefix(PACKAGE_SHARE)?.strip_prefix('/')?;
    let ok = !rel.is_empty() && rel.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    ok.then_some(rel)
}

/// Writes the definition back as `package.toml`.
pub fn to_toml(def: &PackageDef) -> Result<String, PackageError> {
    toml::to_string_pretty(def).map_err(|e| PackageError::one(format!("cannot write package.toml: {e}")))
}

#[cfg(test)]
#[path = "package_tests.rs"]
mod tests;
