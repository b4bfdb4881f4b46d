//! The next-run arithmetic: `next_after` and `preview` (DST rules in the parent module).

use super::{
    IntervalUnit, MonthDay, Nth, Repeat, Schedule, ScheduleKind, ShortMonths, end_instant, local_to_instant, time_zone,
};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// How many run days `next_after` looks through before giving up (a monthly schedule on
/// the 5th Monday finds one within a few months; this is decades of them).
const MAX_RUN_DAYS: usize = 20_000;
/// How many months a monthly schedule looks ahead for its next run day.
const MAX_MONTHS: i32 = 24;

/// A schedule with its time zone looked up and its start and end as instants.
pub(super) struct Resolved<'a> {
    schedule: &'a Schedule,
    tz: TimeZone,
    start: Timestamp,
    end: Option<Timestamp>,
}

impl Schedule {
    /// The first run strictly after `after`; `None` when there is none (after the end,
    /// after a one-time run, or when the schedule cannot be resolved: see `validate`).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.resolve()?.next_after(after)
    }

    /// The next `n` runs after `after`, in order.
    pub fn preview(&self, after: Timestamp, n: usize) -> Vec<Timestamp> {
        let Some(r) = self.resolve() else { return Vec::new() };
        let mut runs = Vec::with_capacity(n.min(1024));
        let mut at = after;
        while runs.len() < n {
            let Some(next) = r.next_after(at) else { break };
            runs.push(next);
            at = next;
        }
        runs
    }

    pub(super) fn resolve(&self) -> Option<Resolved<'_>> {
        let tz = time_zone(&self.time_zone).ok()?;
        let start = local_to_instant(&tz, self.start)?;
        let end = match self.end {
            Some(end) => Some(end_instant(&tz, end)?),
            None => None,
        };
        Some(Resolved { schedule: self, tz, start, end })
    }
}

impl Resolved<'_> {
    pub(super) fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let next = match &self.schedule.kind {
            ScheduleKind::Once => (self.start > after).then_some(self.start),
            ScheduleKind::Interval { every, unit: IntervalUnit::Minutes } => self.absolute(after, *every, 60),
            ScheduleKind::Interval { every, unit: IntervalUnit::Hours } => self.absolute(after, *every, 3600),
            ScheduleKind::Interval { every: _, unit: IntervalUnit::Days }
            | ScheduleKind::Daily { .. }
            | ScheduleKind::Weekly { .. }
            | ScheduleKind::Monthly { .. } => self.wall_clock(after),
        }?;
        match self.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// Every `every * unit_secs` seconds of real time from the start.
    fn absolute(&self, after: Timestamp, every: u32, unit_secs: i64) -> Option<Timestamp> {
        if every == 0 {
            return None;
        }
        if after < self.start {
            return Some(self.start);
        }
        let step = i128::from(every) * i128::from(unit_secs) * 1_000_000_000;
        let elapsed = after.as_nanosecond() - self.start.as_nanosecond();
        let k = elapsed / step + 1;
        Timestamp::from_nanosecond(self.start.as_nanosecond() + k * step).ok()
    }

    /// The first run day on or after the local day before `after`, then its local times.
    fn wall_clock(&self, after: Timestamp) -> Option<Timestamp> {
        let start_date = self.schedule.start.date();
        // The day before: a local time early on `after`'s day can be an instant after it
        // only in odd zones, but starting a day early never misses one.
        let from = self.tz.to_datetime(after).date().yesterday().ok()?;
        let mut day = from.max(start_date);
        let times = self.day_times();
        for _ in 0..MAX_RUN_DAYS {
            let run_day = self.run_day_on_or_after(day)?;
            for time in &times {
                let Some(at) = local_to_instant(&self.tz, DateTime::from_parts(run_day, *time)) else {
                    continue;
                };
                if at > after && at >= self.start {
                    return Some(at);
                }
                if let Some(end) = self.end
                    && at > end
                {
                    return None;
                }
            }
            day = run_day.tomorrow().ok()?;
        }
        None
    }

    /// The local times of a run day: the start time, and with `every_hours` the later
    /// ones of that day.
    fn day_times(&self) -> Vec<Time> {
        let first = self.schedule.start.time();
        let repeat = match &self.schedule.kind {
            ScheduleKind::Daily { repeat } | ScheduleKind::Weekly { repeat, .. } => *repeat,
            ScheduleKind::Monthly { repeat, .. } => *repeat,
            _ => Repeat::OnceADay,
        };
        match repeat {
            Repeat::OnceADay | Repeat::EveryHours(0) => vec![first],
            Repeat::EveryHours(h) => (0..24)
                .map(|k| i32::from(first.hour()) + k * i32::from(h))
                .take_while(|hour| *hour < 24)
                .filter_map(|hour| first.with().hour(hour as i8).build().ok())
                .collect(),
        }
    }

    /// The first day on or after `day` on which the schedule runs.
    fn run_day_on_or_after(&self, day: Date) -> Option<Date> {
        let start_date = self.schedule.start.date();
        match &self.schedule.kind {
            ScheduleKind::Daily { .. } => Some(day),
            ScheduleKind::Weekly { weekdays, .. } => {
                let mut d = day;
                for _ in 0..7 {
                    if weekdays.iter().any(|w| jiff::civil::Weekday::from(*w) == d.weekday()) {
                        return Some(d);
                    }
                    d = d.tomorrow().ok()?;
                }
                None
            }
            ScheduleKind::Interval { every, .. } => {
                let every = i64::from((*every).max(1));
                let elapsed = start_date.duration_until(day).as_secs().div_euclid(86_400).max(0);
                let k = (elapsed + every - 1) / every;
                start_date.checked_add(SignedDuration::from_hours(24 * k * every)).ok()
            }
            ScheduleKind::Monthly { day: month_day, short_months, .. } => {
                let mut first = day.first_of_month();
                for _ in 0..MAX_MONTHS {
                    if let Some(d) = day_in_month(first, *month_day, *short_months)
                        && d >= day
                    {
                        return Some(d);
                    }
                    first = first.last_of_month().tomorrow().ok()?;
                }
                None
            }
            ScheduleKind::Once => None,
        }
    }
}

/// The run day of a monthly schedule in the month that starts on `first`, if it has one.
fn day_in_month(first: Date, day: MonthDay, short_months: Option<ShortMonths>) -> Option<Date> {
    match day {
        MonthDay::DayOfMonth(d) if d as i8 <= first.days_in_month() => first.with().day(d as i8).build().ok(),
        MonthDay::DayOfMonth(_) => match short_months {
            Some(ShortMonths::LastDay) => Some(first.last_of_month()),
            Some(ShortMonths::Skip) | None => None,
        },
        MonthDay::LastDay => Some(first.last_of_month()),
        MonthDay::NthWeekday { nth, weekday } => {
            let n = match nth {
                Nth::Number(n) => i8::try_from(n).ok()?,
                Nth::Last => -1,
            };
            first.nth_weekday_of_month(n, weekday.into()).ok()
        }
    }
}
