//! Schedules: when a deployment configuration runs, as data (the same JSON for the API
//! and the store), its validation, and the pure next-run arithmetic.
//!
//! # Time zones and daylight saving time
//!
//! A schedule's `start` is a civil (wall-clock) date-time in its IANA `time_zone`; the
//! time zone data is jiff's bundled copy, so results never depend on the host's tzdata.
//!
//! - **Wall-clock kinds** (daily, weekly, monthly, and intervals counted in days) keep
//!   their local time across DST changes: 09:00 stays 09:00 in summer and in winter.
//! - A local time that **does not exist** on a day (the spring-forward gap) runs at the
//!   same offset as just before the gap, i.e. shifted forward by the gap: 02:30 on the
//!   day clocks jump from 02:00 to 03:00 runs at 03:30 (jiff's `compatible`
//!   disambiguation).
//! - A local time that **happens twice** (the fall-back fold) runs **once**, at its
//!   first occurrence (the earlier instant, still in summer time).
//! - **Intervals in minutes or hours** are absolute durations: every 4 hours is every 4
//!   hours of real time, so across a DST change the local times shift by an hour.
//! - `every_hours` within a day (`Repeat::EveryHours`) counts on the wall clock: the
//!   start time, then `h` hours later, and so on while still on the same local day.
//!
//! Runs are instants (`jiff::Timestamp`); `next_after` is strictly after its argument,
//! and consecutive runs never repeat an instant (two local times that fall on the same
//! instant in a gap run once).

mod missed;
mod next;

pub use missed::{Decision, MissedRunPolicy, ON_TIME_GRACE_SECS};

use crate::ids::ScheduleId;
use jiff::Timestamp;
use jiff::civil::{DateTime, Weekday as JiffWeekday};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// When something runs: from `start` (local time in `time_zone`) by `kind`, until `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    /// The first run's local date-time, e.g. `2026-03-01T09:00`.
    #[serde(with = "civil_start")]
    pub start: DateTime,
    /// An IANA time zone name such as `Europe/Amsterdam`.
    pub time_zone: String,
    /// No run after this (inclusive); `None` runs for ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<ScheduleEnd>,
    pub kind: ScheduleKind,
    /// What happens to runs the server missed (it was down).
    #[serde(default)]
    pub missed: MissedRunPolicy,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    pub id: ScheduleId,
    /// Not flattened: `Schedule` refuses unknown fields.
    pub schedule: Schedule,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The last moment a schedule may run: a local date-time in the schedule's time zone,
/// or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleEnd {
    /// `{"local": "2026-12-31T18:00"}`
    Local(#[serde(with = "civil_end")] DateTime),
    /// `{"instant": "2026-12-31T17:00:00Z"}`
    Instant(#[serde(with = "instant")] Timestamp),
}

/// How a schedule repeats. JSON: `{"type": "weekly", "weekdays": ["monday"], ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleKind {
    /// Exactly once, at `start`.
    Once,
    /// Every `every` units from `start`; minutes and hours are real time, days keep the
    /// local time.
    Interval { every: u32, unit: IntervalUnit },
    /// Every day at the start time.
    Daily {
        #[serde(default)]
        repeat: Repeat,
    },
    /// On the chosen weekdays at the start time.
    Weekly {
        weekdays: BTreeSet<Weekday>,
        #[serde(default)]
        repeat: Repeat,
    },
    /// Once a month on the chosen day at the start time.
    Monthly {
        day: MonthDay,
        /// Required when `day` is a day of month above 28.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        short_months: Option<ShortMonths>,
        #[serde(default)]
        repeat: Repeat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalUnit {
    Minutes,
    Hours,
    Days,
}

/// How often a wall-clock kind runs on a day it runs: `"once_a_day"` or
/// `{"every_hours": 6}` (the start time, then every 6 hours until the day ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repeat {
    #[default]
    OnceADay,
    EveryHours(u8),
}

/// Which day of the month: `{"day_of_month": 15}`, `"last_day"`, or
/// `{"nth_weekday": {"nth": 2, "weekday": "tuesday"}}` (`nth` 1 to 5 or `"last"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthDay {
    DayOfMonth(u8),
    LastDay,
    NthWeekday { nth: Nth, weekday: Weekday },
}

/// The 1st to 5th, or the last, weekday of a month. JSON: a number or `"last"`. A month
/// without a 5th such weekday has no run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "NthRepr", into = "NthRepr")]
pub enum Nth {
    Number(u8),
    Last,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum NthRepr {
    Number(u8),
    Word(String),
}

impl TryFrom<NthRepr> for Nth {
    type Error = String;
    fn try_from(r: NthRepr) -> Result<Self, String> {
        match r {
            NthRepr::Number(n @ 1..=5) => Ok(Nth::Number(n)),
            NthRepr::Word(w) if w == "last" => Ok(Nth::Last),
            NthRepr::Number(n) => Err(format!("nth is {n}, but it must be 1 to 5 or \"last\"")),
            NthRepr::Word(w) => Err(format!("nth is \"{w}\", but it must be 1 to 5 or \"last\"")),
        }
    }
}

impl From<Nth> for NthRepr {
    fn from(n: Nth) -> Self {
        match n {
            Nth::Number(n) => NthRepr::Number(n),
            Nth::Last => NthRepr::Word("last".into()),
        }
    }
}

/// What a monthly schedule on day 29, 30 or 31 does in a month without that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShortMonths {
    /// No run that month.
    Skip,
    /// Run on the month's last day instead.
    LastDay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl From<Weekday> for JiffWeekday {
    fn from(w: Weekday) -> Self {
        match w {
            Weekday::Monday => JiffWeekday::Monday,
            Weekday::Tuesday => JiffWeekday::Tuesday,
            Weekday::Wednesday => JiffWeekday::Wednesday,
            Weekday::Thursday => JiffWeekday::Thursday,
            Weekday::Friday => JiffWeekday::Friday,
            Weekday::Saturday => JiffWeekday::Saturday,
            Weekday::Sunday => JiffWeekday::Sunday,
        }
    }
}

/// The bundled IANA database: the same answers on every host, whatever its tzdata.
static TZDB: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// The time zone of that IANA name, from the bundled database.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TZDB.get(name).map_err(|_| {
        format!("time_zone: unknown time zone '{name}': use an IANA name such as Europe/Amsterdam or America/New_York")
    })
}

/// Every IANA time zone name of the bundled database, sorted (for a form's choice).
pub fn time_zone_names() -> Vec<String> {
    let mut names: Vec<String> = TZDB.available().map(|n| n.as_str().to_string()).collect();
    names.sort();
    names
}

/// A local date-time as an instant: a time in a gap moves forward by the gap, a time in
/// a fold is its first occurrence (jiff's `compatible`).
pub(crate) fn local_to_instant(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

impl Schedule {
    /// Parses the JSON of a schedule (API and store) and validates it against `now`;
    /// every problem is one message naming its field.
    pub fn from_json(json: &str, now: Timestamp) -> Result<Schedule, Vec<String>> {
        let schedule: Schedule = serde_json::from_str(json).map_err(|e| vec![e.to_string()])?;
        schedule.validate(now)?;
        Ok(schedule)
    }

    /// Checks what the types cannot: each message names the field and says what to do.
    pub fn validate(&self, now: Timestamp) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() {
            problems.push("name: must not be empty".to_string());
        }
        match &self.kind {
            ScheduleKind::Once => {}
            ScheduleKind::Interval { every, .. } => {
                if *every == 0 {
                    problems.push("kind.every: is 0, but an interval must be at least 1".into());
                }
            }
            ScheduleKind::Daily { repeat } => check_repeat(*repeat, &mut problems),
            ScheduleKind::Weekly { weekdays, repeat } => {
                if weekdays.is_empty() {
                    problems.push("kind.weekdays: is empty: choose at least one weekday, e.g. [\"monday\"]".into());
                }
                check_repeat(*repeat, &mut problems);
            }
            ScheduleKind::Monthly { day, short_months, repeat } => {
                match day {
                    MonthDay::DayOfMonth(d) if !(1..=31).contains(d) => {
                        problems.push(format!("kind.day.day_of_month: is {d}, but it must be 1 to 31"));
                    }
                    MonthDay::DayOfMonth(d) if *d > 28 && short_months.is_none() => problems.push(format!(
                        "kind.short_months: day {d} does not exist in every month: set short_months to \"skip\" \
                         (no run in those months) or \"last_day\" (run on the month's last day instead)"
                    )),
                    MonthDay::NthWeekday { nth: Nth::Number(n), .. } if !(1..=5).contains(n) => {
                        problems.push(format!("kind.day.nth_weekday.nth: is {n}, but it must be 1 to 5 or \"last\""));
                    }
                    _ => {}
                }
                check_repeat(*repeat, &mut problems);
            }
        }
        match time_zone(&self.time_zone) {
            Err(e) => problems.push(e),
            Ok(tz) => self.check_times(&tz, now, &mut problems),
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    fn check_times(&self, tz: &TimeZone, now: Timestamp, problems: &mut Vec<String>) {
        let Some(start) = local_to_instant(tz, self.start) else {
            problems.push(format!("start: {} cannot be placed in {}", self.start, self.time_zone));
            return;
        };
        if let Some(end) = self.end {
            match end_instant(tz, end) {
                Some(end_at) if end_at < start => problems.push(format!(
                    "end: {} is before the start {} ({}): the schedule would never run",
                    end_text(end),
                    self.start,
                    self.time_zone
                )),
                Some(_) => {}
                None => problems.push(format!("end: {} cannot be placed in {}", end_text(end), self.time_zone)),
            }
        }
        if self.kind == ScheduleKind::Once && start < now {
            problems.push(format!(
                "start: a one-time schedule must start in the future, but {} in {} is before now ({})",
                self.start,
                self.time_zone,
                now.round(jiff::Unit::Second).unwrap_or(now)
            ));
        }
    }
}

fn check_repeat(repeat: Repeat, problems: &mut Vec<String>) {
    if let Repeat::EveryHours(h) = repeat
        && !(1..=23).contains(&h)
    {
        problems.push(format!("kind.repeat.every_hours: is {h}, but it must be 1 to 23"));
    }
}

fn end_instant(tz: &TimeZone, end: ScheduleEnd) -> Option<Timestamp> {
    match end {
        ScheduleEnd::Local(dt) => local_to_instant(tz, dt),
        ScheduleEnd::Instant(t) => Some(t),
    }
}

fn end_text(end: ScheduleEnd) -> String {
    match end {
        ScheduleEnd::Local(dt) => dt.to_string(),
        ScheduleEnd::Instant(t) => t.to_string(),
    }
}

/// Serde for a civil date-time field, with the field's name in the error: an impossible
/// date such as 31 February fails here, with jiff's reason.
macro_rules! civil_field {
    ($module:ident, $field:literal) => {
        mod $module {
            use jiff::civil::DateTime;
            use serde::{Deserialize, Deserializer, Serializer};

            pub fn serialize<S: Serializer>(dt: &DateTime, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(dt)
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime, D::Error> {
                let text = String::deserialize(d)?;
                text.parse::<DateTime>().map_err(|e| {
                    serde::de::Error::custom(format!(
                        "{}: '{text}' is not a local date-time (YYYY-MM-DDTHH:MM, no offset): {e}",
                        $field
                    ))
                })
            }
        }
    };
}
civil_field!(civil_start, "start");
civil_field!(civil_end, "end.local");

mod instant {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Timestamp>().map_err(|e| {
            serde::de::Error::custom(format!(
                "end.instant: '{text}' is not an instant (e.g. 2026-12-31T17:00:00Z): {e}"
            ))
        })
    }
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;
