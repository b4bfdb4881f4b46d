//! Schedules: the list with next runs and the configurations on each, a form for every
//! schedule kind with a preview of the next 10 runs before saving and the validation
//! messages beside their fields, and delete (refused while configurations use it).

use super::session::{CsrfForm, OperatorPage, ViewerPage};
use super::{ConsoleError, Nav, PageResult, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use drover_api::schedules::RunTime;
use drover_domain::schedule::{Schedule, ScheduleKind, time_zone_names};
use drover_engine::{Engine, EngineError};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/schedules", get(list))
        .route("/schedules/new", get(new).post(submit))
        .route("/schedules/{id}/delete", post(delete))
}

/// How many runs the form's preview shows.
const PREVIEW_RUNS: usize = 10;

pub(super) const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

struct Row {
    id: i64,
    name: String,
    kind: String,
    time_zone: String,
    next_run: String,
    used_by: String,
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    error: String,
}

/// A schedule kind in words, e.g. `weekly (monday, friday)`.
pub(super) fn describe(kind: &ScheduleKind) -> String {
    let v = serde_json::to_value(kind).unwrap_or(Value::Null);
    let name = v.get("type").and_then(Value::as_str).unwrap_or("?").to_string();
    let rest: Vec<String> = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| *k != "type" && !(*k == "repeat" && v.as_str() == Some("once_a_day")))
                .map(|(k, v)| format!("{k} {v}"))
                .collect()
        })
        .unwrap_or_default();
    if rest.is_empty() { name } else { format!("{name} ({})", rest.join(", ").replace('"', "")) }
}

async fn list_page(engine: &Engine, nav: Nav, error: String) -> PageResult {
    let rows = engine
        .list_schedules()
        .await?
        .into_iter()
        .map(|v| Row {
            id: v.record.id.0,
            kind: describe(&v.record.schedule.kind),
            time_zone: v.record.schedule.time_zone.clone(),
            next_run: v.next_runs.first().map(|r| r.local.clone()).unwrap_or_else(|| "none (ended)".into()),
            used_by: v.used_by.join(", "),
            name: v.record.schedule.name,
        })
        .collect();
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::CONFLICT };
    Ok((status, render(&ListPage { nav, rows, error })).into_response())
}

async fn list(State(engine): State<Engine>, ViewerPage(s): ViewerPage) -> PageResult {
    list_page(&engine, s.nav("schedules"), String::new()).await
}

/// The form as typed.
#[derive(Debug, Clone)]
struct Form {
    name: String,
    kind: String,
    start: String,
    time_zone: String,
    end: String,
    missed: String,
    missed_minutes: String,
    every: String,
    unit: String,
    repeat: String,
    every_hours: String,
    weekdays: Vec<String>,
    month_day: String,
    day: String,
    short_months: String,
    nth: String,
    nth_weekday: String,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            name: String::new(),
            kind: "daily".into(),
            start: String::new(),
            time_zone: "UTC".into(),
            end: String::new(),
            missed: "run_once".into(),
            missed_minutes: "60".into(),
            every: "1".into(),
            unit: "hours".into(),
            repeat: "once_a_day".into(),
            every_hours: "6".into(),
            weekdays: vec!["monday".into()],
            month_day: "day_of_month".into(),
            day: "1".into(),
            short_months: String::new(),
            nth: "1".into(),
            nth_weekday: "monday".into(),
        }
    }
}

impl Form {
    fn from_pairs(pairs: &[(String, String)]) -> Form {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        Form {
            name: get("name"),
            kind: get("kind"),
            start: get("start"),
            time_zone: get("time_zone"),
            end: get("end"),
            missed: get("missed"),
            missed_minutes: get("missed_minutes"),
            every: get("every"),
            unit: get("unit"),
            repeat: get("repeat"),
            every_hours: get("every_hours"),
            weekdays: pairs.iter().filter(|(k, _)| k == "weekdays").map(|(_, v)| v.clone()).collect(),
            month_day: get("month_day"),
            day: get("day"),
            short_months: get("short_months"),
            nth: get("nth"),
            nth_weekday: get("nth_weekday"),
        }
    }

    /// The schedule, or messages by field.
    fn schedule(&self) -> Result<Schedule, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let mut number = |key: &str, text: &str, what: &str| -> Value {
            match text.trim().parse::<u32>() {
                Ok(n) => n.into(),
                Err(_) => {
                    errors.insert(key.to_string(), format!("{what}: '{text}' is not a whole number"));
                    Value::Null
                }
            }
        };
        let repeat = if self.repeat == "every_hours" {
            json!({ "every_hours": number("every_hours", &self.every_hours, "every X hours") })
        } else {
            json!("once_a_day")
        };
        let kind = match self.kind.as_str() {
            "once" => json!({"type": "once"}),
            "interval" => {
                json!({"type": "interval", "every": number("every", &self.every, "every"), "unit": self.unit})
            }
            "daily" => json!({"type": "daily", "repeat": repeat}),
            "weekly" => json!({"type": "weekly", "weekdays": self.weekdays, "repeat": repeat}),
            "monthly" => {
                let day = match self.month_day.as_str() {
                    "last_day" => json!("last_day"),
                    "nth_weekday" => {
                        let nth = if self.nth == "last" { json!("last") } else { number("nth", &self.nth, "nth") };
                        json!({"nth_weekday": {"nth": nth, "weekday": self.nth_weekday}})
                    }
                    _ => json!({"day_of_month": number("day", &self.day, "day of month")}),
                };
                let mut k = json!({"type": "monthly", "day": day, "repeat": repeat});
                if !self.short_months.is_empty() {
                    k["short_months"] = json!(self.short_months);
                }
                k
            }
            _ => Value::Null,
        };
        let missed = match self.missed.as_str() {
            "skip" => json!("skip"),
            "run_if_late" => {
                json!({"run_if_late": {"max_minutes": number("missed_minutes", &self.missed_minutes, "minutes late")}})
            }
            _ => json!("run_once"),
        };
        if kind.is_null() {
            let m = format!("kind: '{}' is not once, interval, daily, weekly or monthly", self.kind);
            errors.insert("kind".into(), m);
        }
        if self.start.trim().is_empty() {
            errors.insert("start".into(), "start: choose the first run's date and time".into());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut v = json!({
            "name": self.name, "start": self.start.trim(), "time_zone": self.time_zone,
            "kind": kind, "missed": missed,
        });
        if !self.end.trim().is_empty() {
            v["end"] = json!({"local": self.end.trim()});
        }
        serde_json::from_value(v).map_err(|e| place(&e.to_string()))
    }
}

/// Puts each message (`field: …`, several joined by `; `) beside its form field.
fn place(messages: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for m in messages.split("; ") {
        let head = m.split(':').next().unwrap_or("");
        let key = match head.trim() {
            "name" => "name",
            "start" => "start",
            "time_zone" => "time_zone",
            "end" | "end.local" | "end.instant" => "end",
            "kind.every" => "every",
            "kind.weekdays" => "weekdays",
            "kind.day.day_of_month" => "day",
            "kind.short_months" => "short_months",
            "kind.day.nth_weekday.nth" => "nth",
            "kind.repeat.every_hours" => "every_hours",
            _ if m.contains("start: ") => "start",
            _ if m.contains("end.local: ") => "end",
            _ => "",
        };
        let slot = out.entry(key.to_string()).or_default();
        if !slot.is_empty() {
            slot.push_str("; ");
        }
        slot.push_str(m);
    }
    out
}

#[derive(Template)]
#[template(path = "schedule_form.html")]
struct FormPage {
    nav: Nav,
    f: Form,
    errors: BTreeMap<String, String>,
    preview: Vec<RunTime>,
    zones: Vec<String>,
    weekdays: [&'static str; 7],
}

impl FormPage {
    fn err(&self, key: &str) -> String {
        self.errors.get(key).cloned().unwrap_or_default()
    }

    fn ticked(&self, day: &str) -> bool {
        self.f.weekdays.iter().any(|d| d == day)
    }
}

fn form_page(nav: Nav, f: Form, errors: BTreeMap<String, String>, preview: Vec<RunTime>) -> PageResult {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = FormPage { nav, f, errors, preview, zones: time_zone_names(), weekdays: WEEKDAYS };
    Ok((status, render(&page)).into_response())
}

async fn new(OperatorPage(s): OperatorPage) -> PageResult {
    form_page(s.nav("schedules"), Form::default(), BTreeMap::new(), vec![])
}

#[derive(serde::Deserialize)]
struct Ignored {}

/// `action=preview` shows the next runs; `action=save` stores the schedule.
async fn submit(State(engine): State<Engine>, OperatorPage(s): OperatorPage, form: CsrfForm<Ignored>) -> PageResult {
    let nav = s.nav("schedules");
    let f = Form::from_pairs(&form.pairs);
    let action = form.pairs.iter().find(|(k, _)| k == "action").map_or("", |(_, v)| v.as_str());
    let schedule = match f.schedule() {
        Ok(s) => s,
        Err(errors) => return form_page(nav, f, errors, vec![]),
    };
    let preview = match engine.preview_new_schedule(&schedule, PREVIEW_RUNS) {
        Ok(p) => p,
        Err(EngineError::Invalid(m)) => return form_page(nav, f, place(&m), vec![]),
        Err(e) => return Err(e.into()),
    };
    if action != "save" {
        return form_page(nav, f, BTreeMap::new(), preview);
    }
    match engine.create_schedule(&s.actor(), schedule).await {
        Ok(_) => Ok(Redirect::to("/schedules").into_response()),
        Err(EngineError::Invalid(m)) | Err(EngineError::Conflict(m)) => form_page(nav, f, place(&m), preview),
        Err(e) => Err(e.into()),
    }
}

async fn delete(
    State(engine): State<Engine>,
    OperatorPage(s): OperatorPage,
    Path(id): Path<i64>,
    _f: CsrfForm<Ignored>,
) -> PageResult {
    match engine.delete_schedule(&s.actor(), &id.to_string()).await {
        Ok(_) => Ok(Redirect::to("/schedules").into_response()),
        Err(EngineError::Conflict(m)) => list_page(&engine, s.nav("schedules"), m).await,
        Err(e) => Err(ConsoleError::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_sit_beside_their_fields() {
        let got = place("name: must not be empty; kind.weekdays: is empty: choose; time_zone: unknown");
        assert!(got["name"].starts_with("name:"));
        assert!(got["weekdays"].contains("is empty"));
        assert!(got["time_zone"].contains("unknown"));
    }

    #[test]
    fn a_typed_monthly_schedule_reads() {
        let f = Form {
            name: "patch".into(),
            kind: "monthly".into(),
            start: "2030-01-01T22:00".into(),
            month_day: "nth_weekday".into(),
            nth: "2".into(),
            nth_weekday: "tuesday".into(),
            repeat: "every_hours".into(),
            every_hours: "6".into(),
            ..Form::default()
        };
        let s = f.schedule().unwrap();
        assert!(describe(&s.kind).contains("nth_weekday"), "{}", describe(&s.kind));
        let bad = Form { start: "2030-02-31T22:00".into(), every: "x".into(), kind: "interval".into(), ..f };
        let errors = bad.schedule().unwrap_err();
        assert!(errors.contains_key("every"), "{errors:?}");
    }
}
