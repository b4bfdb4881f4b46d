//! `drover schedule`: when deployment configurations run. `add` builds the schedule
//! from flags that read like the schedule (`--weekly mon,wed --every-hours 6`), and the
//! domain's own parsing names the field of a bad value before anything is sent.

use super::Ctx;
use super::output::out;
use super::output::{self, path_part};
use anyhow::{Context, bail};
use drover_api::Done;
use drover_api::schedules::{PreviewQuery, RunTime, ScheduleView};
use drover_domain::schedule::{IntervalUnit, MonthDay, Nth, Repeat, Schedule, ScheduleKind};
use serde_json::{Value, json};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Add a schedule: a start, a time zone, and one of --once, --interval, --daily,
    /// --weekly, --monthly.
    Add(Add),
    /// Every schedule with its next run and the configurations that use it.
    List,
    /// A schedule's definition, its next 5 runs and the configurations that use it.
    Show {
        /// Schedule name or id.
        schedule: String,
    },
    /// The next runs, in the schedule's time zone and in UTC.
    Preview {
        /// Schedule name or id.
        schedule: String,
        /// How many runs (1 to 1000).
        #[arg(short = 'n', default_value_t = 10)]
        n: usize,
    },
    /// Remove a schedule (refused while configurations use it; they are named).
    Rm {
        /// Schedule name or id.
        schedule: String,
    },
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["once", "interval", "daily", "weekly", "monthly"])))]
pub struct Add {
    name: String,
    /// The first run, local time in --tz: "2026-12-01 22:00".
    #[arg(long)]
    start: String,
    /// IANA time zone of --start and --end, e.g. Europe/Amsterdam.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// Run once, at --start.
    #[arg(long)]
    once: bool,
    /// Every N minutes, hours or days from --start: 30m, 4h, 2d (minutes and hours are
    /// real time; days keep the local time).
    #[arg(long, value_name = "N{m|h|d}")]
    interval: Option<String>,
    /// Every day at the time of --start.
    #[arg(long)]
    daily: bool,
    /// On these weekdays at the time of --start: mon,wed,fri.
    #[arg(long, value_name = "DAYS")]
    weekly: Option<String>,
    /// Once a month at the time of --start: a day (15), `last` (the last day), or the
    /// nth weekday (2nd-tue, last-fri).
    #[arg(long, value_name = "DAY")]
    monthly: Option<String>,
    /// With --monthly on day 29, 30 or 31: `skip` the months without that day, or run
    /// on their `last-day`.
    #[arg(long, value_name = "skip|last-day")]
    short_months: Option<String>,
    /// With --daily, --weekly or --monthly: from the start time, again every N hours
    /// until the day ends.
    #[arg(long, value_name = "N")]
    every_hours: Option<u8>,
    /// No run after this local time in --tz: "2027-06-30 18:00".
    #[arg(long)]
    end: Option<String>,
    /// Runs missed while the server was down: run-once (one catch-up run), skip, or
    /// late:N (one catch-up run if at most N minutes late).
    #[arg(long, default_value = "run-once", value_name = "run-once|skip|late:N")]
    missed: String,
}

/// "2026-12-01 22:00" as the domain writes it: "2026-12-01T22:00".
fn local(s: &str) -> String {
    s.trim().replacen(' ', "T", 1)
}

fn interval(s: &str) -> anyhow::Result<Value> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let unit = match unit {
        "m" | "min" | "minutes" => IntervalUnit::Minutes,
        "h" | "hours" => IntervalUnit::Hours,
        "d" | "days" => IntervalUnit::Days,
        _ => bail!("--interval '{s}': give a number and a unit, m, h or d (30m, 4h, 2d)"),
    };
    let every: u32 = n.parse().with_context(|| format!("--interval '{s}': give a number and a unit (30m, 4h, 2d)"))?;
    Ok(json!({"type": "interval", "every": every, "unit": unit}))
}

fn weekday(s: &str) -> anyhow::Result<&'static str> {
    let all = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let w = s.trim().to_ascii_lowercase();
    all.into_iter()
        .find(|d| w.len() >= 2 && d.starts_with(&w))
        .with_context(|| format!("'{s}' is not a weekday: use mon, tue, wed, thu, fri, sat, sun"))
}

fn month_day(s: &str) -> anyhow::Result<MonthDay> {
    let s = s.trim().to_ascii_lowercase();
    if s == "last" {
        return Ok(MonthDay::LastDay);
    }
    if let Ok(d) = s.parse::<u8>() {
        return Ok(MonthDay::DayOfMonth(d));
    }
    let Some((nth, day)) = s.split_once('-') else {
        bail!("--monthly '{s}': give a day (15), last, or an nth weekday (2nd-tue, last-fri)");
    };
    let nth = match nth {
        "last" => Nth::Last,
        n => Nth::Number(
            n.trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .parse()
                .with_context(|| format!("--monthly '{s}': '{n}' is not 1st to 5th or last"))?,
        ),
    };
    let weekday = serde_json::from_value(json!(weekday(day)?))?;
    Ok(MonthDay::NthWeekday { nth, weekday })
}

fn missed(s: &str) -> anyhow::Result<Value> {
    Ok(match s.trim() {
        "run-once" => json!("run_once"),
        "skip" => json!("skip"),
        other => match other.strip_prefix("late:").map(str::parse::<u32>) {
            Some(Ok(n)) => json!({"run_if_late": {"max_minutes": n}}),
            _ => bail!("--missed '{other}': choose run-once, skip or late:N (N minutes)"),
        },
    })
}

impl Add {
    /// The schedule these flags describe; the domain's parsing names a bad field.
    fn schedule(&self) -> anyhow::Result<Schedule> {
        let repeat = match self.every_hours {
            Some(h) => json!({"every_hours": h}),
            None => json!("once_a_day"),
        };
        let kind = if self.once {
            json!({"type": "once"})
        } else if let Some(i) = &self.interval {
            interval(i)?
        } else if self.daily {
            json!({"type": "daily", "repeat": repeat})
        } else if let Some(days) = &self.weekly {
            let days: Vec<&str> =
                days.split(',').filter(|d| !d.trim().is_empty()).map(weekday).collect::<anyhow::Result<_>>()?;
            json!({"type": "weekly", "weekdays": days, "repeat": repeat})
        } else if let Some(day) = &self.monthly {
            let mut k = json!({"type": "monthly", "day": month_day(day)?, "repeat": repeat});
            if let Some(sm) = &self.short_months {
                k["short_months"] = json!(sm.replace('-', "_"));
            }
            k
        } else {
            bail!("choose one of --once, --interval, --daily, --weekly, --monthly");
        };
        if self.every_hours.is_some() && (self.once || self.interval.is_some()) {
            bail!("--every-hours goes with --daily, --weekly or --monthly");
        }
        let mut s = json!({
            "name": self.name, "start": local(&self.start), "time_zone": self.tz, "kind": kind,
            "missed": missed(&self.missed)?,
        });
        if let Some(end) = &self.end {
            s["end"] = json!({"local": local(end)});
        }
        serde_json::from_value(s).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// The kind in words: `weekly mon,wed every 6 h`.
pub fn describe(s: &Schedule) -> String {
    let repeat = |r: &Repeat| match r {
        Repeat::OnceADay => String::new(),
        Repeat::EveryHours(h) => format!(", every {h} h that day"),
    };
    let at = s.start.time().strftime("%H:%M");
    match &s.kind {
        ScheduleKind::Once => format!("once at {}", s.start.strftime("%Y-%m-%d %H:%M")),
        ScheduleKind::Interval { every, unit } => {
            let u = match unit {
                IntervalUnit::Minutes => "min",
                IntervalUnit::Hours => "h",
                IntervalUnit::Days => "days",
            };
            format!("every {every} {u}")
        }
        ScheduleKind::Daily { repeat: r } => format!("daily at {at}{}", repeat(r)),
        ScheduleKind::Weekly { weekdays, repeat: r } => {
            let days: Vec<String> = weekdays.iter().map(|d| format!("{d:?}")[..3].to_ascii_lowercase()).collect();
            format!("weekly {} at {at}{}", days.join(","), repeat(r))
        }
        ScheduleKind::Monthly { day, repeat: r, .. } => {
            let d = match day {
                MonthDay::DayOfMonth(d) => format!("day {d}"),
                MonthDay::LastDay => "last day".into(),
                MonthDay::NthWeekday { nth: Nth::Number(n), weekday } => {
                    let th = match n {
                        1 => "st",
                        2 => "nd",
                        3 => "rd",
                        _ => "th",
                    };
                    format!("{n}{th} {weekday:?}")
                }
                MonthDay::NthWeekday { nth: Nth::Last, weekday } => format!("last {weekday:?}"),
            };
            format!("monthly on the {d} at {at}{}", repeat(r))
        }
    }
}

fn next(v: &ScheduleView) -> String {
    v.next_runs.first().map_or_else(|| "-".into(), |r| r.local.clone())
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::Add(a) => {
            let v: ScheduleView = c.post("/schedules", &a.schedule()?).await?;
            ctx.print(&v, |v| {
                out!(
                    "schedule {} '{}' added: {}; next run {}",
                    v.record.id,
                    v.record.schedule.name,
                    describe(&v.record.schedule),
                    next(v)
                )
            })?;
        }
        Cmd::List => {
            let list: Vec<ScheduleView> = c.get("/schedules").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "NAME", "WHEN", "TIME ZONE", "NEXT RUN", "USED BY"],
                    list.iter().map(|v| {
                        let s = &v.record.schedule;
                        vec![
                            v.record.id.to_string(),
                            s.name.clone(),
                            describe(s),
                            s.time_zone.clone(),
                            next(v),
                            v.used_by.join(", "),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Show { schedule } => {
            let v: ScheduleView = c.get(&format!("/schedules/{}", path_part(&schedule))).await?;
            ctx.print(&v, |v| {
                let s = &v.record.schedule;
                out!("schedule {} '{}': {}", v.record.id, s.name, describe(s));
                out!("  start   {} ({})", s.start.strftime("%Y-%m-%d %H:%M"), s.time_zone);
                if let Some(end) = &s.end {
                    out!("  end     {}", serde_json::to_string(end).unwrap_or_default());
                }
                out!("  missed  {}", serde_json::to_string(&s.missed).unwrap_or_default());
                out!("  used by {}", if v.used_by.is_empty() { "-".into() } else { v.used_by.join(", ") });
                out!("  next runs:");
                print_runs(&v.next_runs);
            })?;
        }
        Cmd::Preview { schedule, n } => {
            let path = format!("/schedules/{}/preview", path_part(&schedule));
            let runs: Vec<RunTime> = c.get_with(&path, &PreviewQuery { n }).await?;
            ctx.print(&runs, |runs| print_runs(runs))?;
        }
        Cmd::Rm { schedule } => {
            let done: Done = c.delete(&format!("/schedules/{}", path_part(&schedule))).await?;
            ctx.print(&done, |d| out!("{}", d.message))?;
        }
    }
    Ok(0)
}

fn print_runs(runs: &[RunTime]) {
    if runs.is_empty() {
        out!("    (no more runs)");
    }
    for r in runs {
        out!("    {:<34} {}", r.local, r.utc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        add: Add,
    }

    fn add(args: &[&str]) -> anyhow::Result<Schedule> {
        let t = T::try_parse_from(std::iter::once("add").chain(args.iter().copied()))?;
        t.add.schedule()
    }

    #[test]
    fn flags_make_the_schedule() {
        let s = add(&[
            "patch",
            "--start",
            "2026-12-01 22:00",
            "--tz",
            "Europe/Amsterdam",
            "--weekly",
            "mon,wed",
            "--every-hours",
            "6",
            "--missed",
            "late:30",
        ])
        .unwrap();
        assert_eq!(describe(&s), "weekly mon,wed at 22:00, every 6 h that day");
        assert_eq!(serde_json::to_value(s.missed).unwrap(), json!({"run_if_late": {"max_minutes": 30}}));
        let s = add(&["m", "--start", "2026-12-01 03:00", "--monthly", "2nd-tue"]).unwrap();
        assert_eq!(describe(&s), "monthly on the 2nd Tuesday at 03:00");
        assert_eq!(
            s.kind,
            ScheduleKind::Monthly {
                day: MonthDay::NthWeekday { nth: Nth::Number(2), weekday: drover_domain::schedule::Weekday::Tuesday },
                short_months: None,
                repeat: Repeat::OnceADay
            }
        );
        assert_eq!(s.time_zone, "UTC");
        let s = add(&["i", "--start", "2026-12-01 03:00", "--interval", "4h", "--end", "2027-01-01 00:00"]).unwrap();
        assert_eq!(s.kind, ScheduleKind::Interval { every: 4, unit: IntervalUnit::Hours });
        assert!(s.end.is_some());
        let s = add(&["l", "--start", "2026-12-01 03:00", "--monthly", "31", "--short-months", "last-day"]).unwrap();
        assert!(matches!(s.kind, ScheduleKind::Monthly { short_months: Some(_), .. }));
    }

    #[test]
    fn bad_flags_name_what_is_wrong() {
        let err = |args: &[&str]| add(args).unwrap_err().to_string();
        assert!(err(&["x", "--start", "2026-02-31 22:00", "--daily"]).contains("start: '2026-02-31T22:00'"));
        assert!(err(&["x", "--start", "2026-02-01 22:00", "--interval", "4x"]).contains("--interval"));
        assert!(err(&["x", "--start", "2026-02-01 22:00", "--weekly", "mon,xyz"]).contains("'xyz' is not a weekday"));
        assert!(err(&["x", "--start", "2026-02-01 22:00", "--daily", "--missed", "later"]).contains("--missed"));
        assert!(err(&["x", "--start", "2026-02-01 22:00"]).contains("--once"), "a kind is required");
        assert!(
            err(&["x", "--start", "2026-02-01 22:00", "--daily", "--weekly", "mon"]).contains("cannot be used with")
        );
    }
}
