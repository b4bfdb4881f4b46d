//! The step editor's state as the form carries it: every field as typed (so a refused
//! save shows the text again), read from the form's fields, turned into a
//! [`PackageDef`] and validated by the domain, each problem put beside its field.

use drover_domain::package::{FinalActionKind, Package, PackageDef, RunModeSetting, validate};
use drover_proto::{Action, JobFile, Step, StepKind};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The step types, in the order the editor offers them.
pub(super) const STEP_TYPES: [&str; 10] = [
    "command",
    "installer",
    "script",
    "file-copy",
    "kill-process",
    "condition",
    "uninstall",
    "sleep",
    "message",
    "reboot",
];

/// How a field is typed into the form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Widget {
    Text,
    Area,
    Number,
    Check,
}

/// A field of one step type: its key (as in package files), label, widget and hint.
pub(super) struct Spec {
    pub key: &'static str,
    pub label: &'static str,
    pub widget: Widget,
    pub hint: &'static str,
}

/// A [`Spec`] literal (a literal, so the tables below are constants).
macro_rules! spec {
    ($key:expr, $label:expr, $widget:expr, $hint:expr $(,)?) => {
        Spec { key: $key, label: $label, widget: $widget, hint: $hint }
    };
}

const SHARE_HINT: &str = "a package file: {PackageShare}/name";

/// The fields of a step type (beyond name, type, success codes, actions, timeout).
pub(super) fn kind_specs(type_name: &str) -> &'static [Spec] {
    use Widget::*;
    match type_name {
        "installer" => &[
            spec!("path", "Installer", Text, SHARE_HINT),
            spec!("parameters", "Parameters", Text, "given to the installer"),
        ],
        "command" => &[spec!("command", "Command", Area, "run with /bin/sh -c")],
        "script" => &[
            spec!("path", "Script", Text, SHARE_HINT),
            spec!("interpreter", "Interpreter", Text, "optional; by default from the extension (.sh → sh)"),
            spec!("parameters", "Parameters", Text, ""),
        ],
        "kill-process" => &[
            spec!("process", "Process name", Text, "exact name"),
            spec!("force", "Force (SIGKILL)", Check, ""),
            spec!("children", "Also its children", Check, ""),
        ],
        "condition" => &[spec!(
            "criteria",
            "Criteria (JSON list)",
            Area,
            "all must hold, e.g. [{\"check\": \"file-exists\", \"path\": \"/etc/x\"}]; checks: file-exists, file-absent \
             (path), file-hash (path, sha256), software-installed, software-absent (name), software-version (name, op, \
             version), os (id, op, version), arch (arch), command-exit (command, codes), user-logged-on (user)",
        )],
        "uninstall" => &[spec!("packages", "Packages", Area, "dpkg/rpm names, one a line")],
        "file-copy" => &[
            spec!("source", "Source", Text, SHARE_HINT),
            spec!("destination", "Destination", Text, "a path on the target"),
            spec!("mode", "Mode", Text, "optional, octal like 0644"),
            spec!("owner", "Owner", Text, "optional, user or user:group"),
        ],
        "sleep" => &[spec!("seconds", "Seconds", Number, "")],
        "message" => &[spec!("text", "Message", Area, "shown on the logged-on users' terminals")],
        "reboot" => &[spec!("delay_secs", "Delay (seconds)", Number, "")],
        _ => &[],
    }
}

/// One step as typed.
#[derive(Debug, Clone, Default)]
pub(super) struct StepDraft {
    pub name: String,
    pub kind: String,
    pub success_codes: String,
    pub on_success: String,
    pub on_failure: String,
    pub timeout_secs: String,
    /// The type's own fields by key (checkboxes: "on" when ticked).
    pub fields: BTreeMap<String, String>,
    /// Messages by field key (`name`, `command`, …).
    pub errors: BTreeMap<String, String>,
    /// Messages about the step as a whole.
    pub problems: Vec<String>,
}

impl StepDraft {
    pub fn new(kind: &str) -> StepDraft {
        StepDraft {
            kind: kind.to_string(),
            success_codes: "0".into(),
            on_success: "next".into(),
            on_failure: "stop-failure".into(),
            ..StepDraft::default()
        }
    }

    fn from_step(st: &Step) -> StepDraft {
        let mut d = StepDraft::new(st.kind.type_name());
        d.name = st.name.clone();
        d.success_codes = st.success_codes.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
        d.on_success = st.on_success.to_string();
        d.on_failure = st.on_failure.to_string();
        d.timeout_secs = st.timeout_secs.map(|t| t.to_string()).unwrap_or_default();
        let Ok(serde_json::Value::Object(obj)) = serde_json::to_value(&st.kind) else { return d };
        for (k, v) in obj {
            let text = match (k.as_str(), v) {
                ("type", _) => continue,
                ("packages", serde_json::Value::Array(a)) => {
                    a.iter().filter_map(|p| p.as_str()).collect::<Vec<_>>().join("\n")
                }
                ("criteria", v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
                (_, serde_json::Value::String(s)) => s,
                (_, serde_json::Value::Bool(b)) => {
                    if b {
                        "on".into()
                    } else {
                        String::new()
                    }
                }
                (_, v) => v.to_string(),
            };
            d.fields.insert(k, text);
        }
        d
    }

    pub fn field(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }

    /// The type's fields as the package format has them (JSON), or messages by field.
    fn kind_value(&self) -> Result<StepKind, BTreeMap<String, String>> {
        let mut obj = serde_json::Map::new();
        obj.insert("type".into(), self.kind.clone().into());
        let mut errors = BTreeMap::new();
        for s in kind_specs(&self.kind) {
            let text = self.field(s.key);
            let value: serde_json::Value = match (s.key, s.widget) {
                (_, Widget::Check) => (!text.is_empty()).into(),
                (_, Widget::Number) => match text.trim().parse::<u64>() {
                    Ok(n) => n.into(),
                    Err(_) => {
                        errors.insert(s.key.to_string(), format!("'{}' must be a whole number of seconds", s.key));
                        continue;
                    }
                },
                ("packages", _) => text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().into(),
                ("criteria", _) => match serde_json::from_str(text) {
                    Ok(v) => v,
                    Err(e) => {
                        errors.insert("criteria".into(), format!("'criteria' is not a JSON list: {e}"));
                        continue;
                    }
                },
                ("interpreter" | "mode" | "owner", _) if text.trim().is_empty() => continue,
                _ => text.into(),
            };
            obj.insert(s.key.to_string(), value);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        serde_json::from_value(serde_json::Value::Object(obj)).map_err(|e| {
            let key = if self.kind == "condition" { "criteria" } else { "type" };
            BTreeMap::from([(key.to_string(), format!("'{key}': {e}"))])
        })
    }
}

/// The whole editor form.
#[derive(Debug, Clone, Default)]
pub(super) struct Draft {
    pub name: String,
    pub version: String,
    pub description: String,
    pub run_mode: String,
    pub max_duration_secs: String,
    pub final_action: String,
    pub final_delay_secs: String,
    pub rescan_after: bool,
    pub files: Vec<JobFile>,
    pub steps: Vec<StepDraft>,
    /// Messages by package field key.
    pub errors: BTreeMap<String, String>,
    /// Messages about the package as a whole.
    pub problems: Vec<String>,
}

impl Draft {
    pub fn empty() -> Draft {
        Draft {
            version: "1.0".into(),
            run_mode: "system".into(),
            max_duration_secs: "3600".into(),
            final_action: "none".into(),
            final_delay_secs: "0".into(),
            ..Draft::default()
        }
    }

    pub fn from_package(p: &Package) -> Draft {
        let d = &p.def;
        Draft {
            name: d.name.clone(),
            version: d.version.clone(),
            description: d.description.clone(),
            run_mode: d.run_mode.as_str().into(),
            max_duration_secs: d.max_duration_secs.to_string(),
            final_action: d.final_action.action.as_str().into(),
            final_delay_secs: d.final_action.delay_secs.to_string(),
            rescan_after: d.rescan_after,
            files: p.files.clone(),
            steps: d.steps.iter().map(StepDraft::from_step).collect(),
            ..Draft::default()
        }
    }

    /// Reads the form's fields: package settings by name, steps as `s<N>.<key>`, files
    /// as `f<N>.path|sha256|size`. Unknown names are ignored.
    pub fn from_pairs(pairs: &[(String, String)]) -> Draft {
        let mut d = Draft::default();
        let mut steps: BTreeMap<usize, StepDraft> = BTreeMap::new();
        let mut files: BTreeMap<usize, JobFile> = BTreeMap::new();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => d.name = v.clone(),
                "version" => d.version = v.clone(),
                "description" => d.description = v.clone(),
                "run_mode" => d.run_mode = v.clone(),
                "max_duration_secs" => d.max_duration_secs = v.clone(),
                "final_action" => d.final_action = v.clone(),
                "final_delay_secs" => d.final_delay_secs = v.clone(),
                "rescan_after" => d.rescan_after = !v.is_empty(),
                _ => {
                    if let Some((i, key)) = indexed(k, 's') {
                        let st = steps.entry(i).or_default();
                        match key {
                            "name" => st.name = v.clone(),
                            "type" => st.kind = v.clone(),
                            "success_codes" => st.success_codes = v.clone(),
                            "on_success" => st.on_success = v.clone(),
                            "on_failure" => st.on_failure = v.clone(),
                            "timeout_secs" => st.timeout_secs = v.clone(),
                            other => {
                                st.fields.insert(other.to_string(), v.clone());
                            }
                        }
                    } else if let Some((i, key)) = indexed(k, 'f') {
                        let f = files.entry(i).or_insert_with(|| JobFile {
                            path: String::new(),
                            sha256: String::new(),
                            size: 0,
                        });
                        match key {
                            "path" => f.path = v.clone(),
                            "sha256" => f.sha256 = v.clone(),
                            "size" => f.size = v.parse().unwrap_or(0),
                            _ => {}
                        }
                    }
                }
            }
        }
        d.steps = steps.into_values().collect();
        d.files = files.into_values().filter(|f| !f.path.is_empty()).collect();
        d
    }

    /// Adds a file, replacing one of the same name.
    pub fn put_file(&mut self, f: JobFile) {
        self.files.retain(|g| g.path != f.path);
        self.files.push(f);
    }

    /// The definition, or false with every message put in place.
    pub fn check(&mut self) -> Option<PackageDef> {
        self.errors.clear();
        self.problems.clear();
        let mut bad = false;
        let mut err = |map: &mut BTreeMap<String, String>, key: &str, msg: String| {
            map.insert(key.to_string(), msg);
            bad = true;
        };
        let run_mode: RunModeSetting = parse_enum(&self.run_mode).unwrap_or_else(|| {
            err(
                &mut self.errors,
                "run_mode",
                "'run_mode' must be ask, system, scanning-credential or logged-on-user".into(),
            );
            RunModeSetting::System
        });
        let final_kind: FinalActionKind = parse_enum(&self.final_action).unwrap_or_else(|| {
            err(&mut self.errors, "final_action", "'final_action' must be none, reboot, shutdown or logoff".into());
            FinalActionKind::None
        });
        let max_duration_secs = self.max_duration_secs.trim().parse().unwrap_or_else(|_| {
            err(&mut self.errors, "max_duration_secs", "'max_duration_secs' must be a whole number of seconds".into());
            0
        });
        let delay_secs = self.final_delay_secs.trim().parse().unwrap_or_else(|_| {
            err(
                &mut self.errors,
                "final_delay_secs",
                "the final action's delay must be a whole number of seconds".into(),
            );
            0
        });
        let mut steps = Vec::new();
        for (i, st) in self.steps.iter_mut().enumerate() {
            st.errors.clear();
            st.problems.clear();
            let label = format!("step {}", i + 1);
            let codes: Result<Vec<i32>, _> =
                st.success_codes.split([',', ' ']).filter(|c| !c.trim().is_empty()).map(|c| c.trim().parse()).collect();
            let codes = codes.unwrap_or_else(|_| {
                err(
                    &mut st.errors,
                    "success_codes",
                    format!("{label}: 'success_codes' must be exit codes separated by commas"),
                );
                vec![0]
            });
            let mut action = |key: &str, text: &str, errors: &mut BTreeMap<String, String>| {
                Action::from_str(text).unwrap_or_else(|e| {
                    err(errors, key, format!("{label}: '{key}': {e}"));
                    Action::Next
                })
            };
            let on_success = action("on_success", &st.on_success, &mut st.errors);
            let on_failure = action("on_failure", &st.on_failure, &mut st.errors);
            let timeout_secs = match st.timeout_secs.trim() {
                "" => None,
                t => Some(t.parse().unwrap_or_else(|_| {
                    err(
                        &mut st.errors,
                        "timeout_secs",
                        format!("{label}: 'timeout_secs' must be a whole number of seconds"),
                    );
                    1
                })),
            };
            match st.kind_value() {
                Ok(kind) => steps.push(Step {
                    name: st.name.clone(),
                    kind,
                    success_codes: codes,
                    on_success,
                    on_failure,
                    timeout_secs,
                }),
                Err(es) => {
                    for (k, m) in es {
                        err(&mut st.errors, &k, format!("{label}: {m}"));
                    }
                }
            }
        }
        if bad {
            return None;
        }
        let def = PackageDef {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            run_mode,
            max_duration_secs,
            rescan_after: self.rescan_after,
            final_action: drover_domain::package::FinalAction { action: final_kind, delay_secs },
            steps,
        };
        let names: Vec<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
        match validate(&def, &names) {
            Ok(()) => Some(def),
            Err(e) => {
                for p in e.problems {
                    self.place(p);
                }
                None
            }
        }
    }

    /// Puts a validation message beside the field it names (`step N …: 'field' …`).
    pub fn place(&mut self, problem: String) {
        if let Some((i, rest)) = step_of(&problem)
            && let Some(st) = self.steps.get_mut(i)
        {
            let mut keys: Vec<&str> = vec!["name", "success_codes", "on_success", "on_failure", "timeout_secs"];
            keys.extend(kind_specs(&st.kind).iter().map(|s| s.key));
            let key = keys
                .iter()
                .find(|k| rest.contains(&format!("'{k}'")) || rest.starts_with(&format!("{k} ")))
                .map(|k| k.to_string())
                .or_else(|| {
                    let share_field = ["path", "source"].into_iter().find(|k| st.fields.contains_key(*k));
                    (rest.contains("{PackageShare}") || rest.contains("names the file"))
                        .then_some(share_field)
                        .flatten()
                        .map(str::to_string)
                })
                .or_else(|| rest.contains("condition needs").then(|| "criteria".to_string()));
            match key {
                Some(k) if !st.errors.contains_key(&k) => {
                    st.errors.insert(k, problem);
                }
                _ => st.problems.push(problem),
            }
            return;
        }
        let key = ["name", "version", "description", "max_duration_secs", "run_mode"]
            .into_iter()
            .find(|k| problem.starts_with(&format!("'{k}'")));
        match key {
            Some(k) => {
                self.errors.insert(k.to_string(), problem);
            }
            None => self.problems.push(problem),
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
            || !self.problems.is_empty()
            || self.steps.iter().any(|s| !s.errors.is_empty() || !s.problems.is_empty())
    }
}

/// `s3.command` → (3, "command") for prefix 's'.
fn indexed(name: &str, prefix: char) -> Option<(usize, &str)> {
    let (head, key) = name.split_once('.')?;
    let i = head.strip_prefix(prefix)?.parse().ok()?;
    (i < drover_domain::package::MAX_STEPS + 1).then_some((i, key))
}

/// `step 3 'x': rest` or `step 3: rest` → (2, rest).
fn step_of(problem: &str) -> Option<(usize, &str)> {
    let tail = problem.strip_prefix("step ")?;
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    let n: usize = digits.parse().ok()?;
    let rest = problem.split_once(": ").map_or("", |(_, r)| r);
    Some((n.checked_sub(1)?, rest))
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.trim().to_string())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_typed_form_becomes_a_package() {
        let mut d = Draft::from_pairs(&pairs(&[
            ("name", "hello"),
            ("version", "2"),
            ("run_mode", "system"),
            ("max_duration_secs", "60"),
            ("final_action", "none"),
            ("final_delay_secs", "0"),
            ("s0.name", "copy"),
            ("s0.type", "file-copy"),
            ("s0.source", "{PackageShare}/a.conf"),
            ("s0.destination", "/tmp/a.conf"),
            ("s0.mode", ""),
            ("s0.success_codes", "0, 3"),
            ("s0.on_success", "next"),
            ("s0.on_failure", "goto 2"),
            ("s1.name", "check"),
            ("s1.type", "condition"),
            ("s1.criteria", r#"[{"check":"file-exists","path":"/tmp/a.conf"}]"#),
            ("s1.success_codes", "0"),
            ("s1.on_success", "stop-success"),
            ("s1.on_failure", "stop-failure"),
            ("f0.path", "a.conf"),
            ("f0.sha256", "ab"),
            ("f0.size", "3"),
        ]));
        let def = d.check().unwrap_or_else(|| panic!("{:?} {:?}", d.problems, d.steps[0].errors));
        assert_eq!(def.steps.len(), 2);
        assert_eq!(def.steps[0].success_codes, vec![0, 3]);
        assert_eq!(def.steps[0].on_failure, Action::GoTo(2));
        assert!(matches!(def.steps[0].kind, StepKind::FileCopy { mode: None, .. }));
        // and back: a package read into the editor gives the same definition
        let pkg =
            Package { id: drover_domain::ids::PackageId(1), def: def.clone(), files: d.files.clone(), created_ms: 0 };
        assert_eq!(Draft::from_package(&pkg).check(), Some(def));
    }

    #[test]
    fn problems_sit_beside_their_field_and_keep_the_text() {
        let mut d = Draft::from_pairs(&pairs(&[
            ("name", "hello"),
            ("version", ""),
            ("run_mode", "system"),
            ("max_duration_secs", "60"),
            ("final_action", "none"),
            ("final_delay_secs", "0"),
            ("s0.name", "run"),
            ("s0.type", "command"),
            ("s0.command", "echo typed"),
            ("s0.success_codes", "0"),
            ("s0.on_success", "goto 7"),
            ("s0.on_failure", "stop-failure"),
            ("s0.timeout_secs", "0"),
            ("s1.name", "copy"),
            ("s1.type", "file-copy"),
            ("s1.source", "{PackageShare}/missing.conf"),
            ("s1.destination", "/tmp/x"),
            ("s1.success_codes", "0"),
            ("s1.on_success", "next"),
            ("s1.on_failure", "stop-failure"),
        ]));
        assert!(d.check().is_none());
        assert!(d.errors["version"].contains("'version'"), "{:?}", d.errors);
        let s0 = &d.steps[0];
        assert!(s0.errors["on_success"].contains("step 1"), "{:?}", s0.errors);
        assert!(s0.errors["timeout_secs"].contains("at least 1"), "{:?}", s0.errors);
        assert_eq!(s0.field("command"), "echo typed");
        assert!(d.steps[1].errors["source"].contains("missing.conf"), "{:?}", d.steps[1]);
        // a field that does not parse is named before validation runs
        d.steps[0].success_codes = "0, x".into();
        assert!(d.check().is_none());
        assert!(d.steps[0].errors["success_codes"].contains("exit codes"));
        assert_eq!(d.steps[0].success_codes, "0, x");
    }
}
