//! Schedule tests: DST in three zones, every kind, the end, missed runs, validation, JSON.

use super::*;
use jiff::SignedDuration;

const AMS: &str = "Europe/Amsterdam";
const NYC: &str = "America/New_York";
const SYD: &str = "Australia/Sydney";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn dt(s: &str) -> DateTime {
    s.parse().unwrap()
}

fn sched(start: &str, tz: &str, kind: ScheduleKind) -> Schedule {
    Schedule {
        name: "s".into(),
        start: dt(start),
        time_zone: tz.into(),
        end: None,
        kind,
        missed: MissedRunPolicy::RunOnce,
    }
}

fn daily() -> ScheduleKind {
    ScheduleKind::Daily { repeat: Repeat::OnceADay }
}

fn monthly(day: MonthDay, short_months: Option<ShortMonths>) -> ScheduleKind {
    ScheduleKind::Monthly { day, short_months, repeat: Repeat::OnceADay }
}

/// The instant of a local date-time in the schedule's zone.
fn at(s: &Schedule, local: &str) -> Timestamp {
    local_to_instant(&time_zone(&s.time_zone).unwrap(), dt(local)).unwrap()
}

/// The first `n` runs, from the start on, as local times with their offset.
fn first_runs(s: &Schedule, n: usize) -> Vec<String> {
    let before_start = at(s, &s.start.to_string()) - SignedDuration::from_nanos(1);
    show(s, &s.preview(before_start, n))
}

fn show(s: &Schedule, runs: &[Timestamp]) -> Vec<String> {
    let tz = time_zone(&s.time_zone).unwrap();
    runs.iter().map(|t| t.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%dT%H:%M%:z").to_string()).collect()
}

fn gaps_hours(runs: &[Timestamp]) -> Vec<i64> {
    runs.windows(2).map(|w| (w[1] - w[0]).as_hours()).collect()
}

#[test]
fn daily_keeps_nine_o_clock_across_dst_in_amsterdam() {
    let s = sched("2026-03-27T09:00", AMS, daily());
    assert_eq!(
        first_runs(&s, 4),
        ["2026-03-27T09:00+01:00", "2026-03-28T09:00+01:00", "2026-03-29T09:00+02:00", "2026-03-30T09:00+02:00"]
    );
    assert_eq!(gaps_hours(&s.preview(at(&s, "2026-03-27T08:00"), 4)), [24, 23, 24], "the spring day is 23 h long");
    let autumn = s.preview(at(&s, "2026-10-24T00:00"), 3);
    assert_eq!(show(&s, &autumn), ["2026-10-24T09:00+02:00", "2026-10-25T09:00+01:00", "2026-10-26T09:00+01:00"]);
    assert_eq!(gaps_hours(&autumn), [25, 24]);
}

#[test]
fn daily_keeps_nine_o_clock_across_dst_in_new_york() {
    let s = sched("2026-03-07T09:00", NYC, daily());
    assert_eq!(first_runs(&s, 3), ["2026-03-07T09:00-05:00", "2026-03-08T09:00-04:00", "2026-03-09T09:00-04:00"]);
    let autumn = s.preview(at(&s, "2026-10-31T00:00"), 3);
    assert_eq!(show(&s, &autumn), ["2026-10-31T09:00-04:00", "2026-11-01T09:00-05:00", "2026-11-02T09:00-05:00"]);
    assert_eq!(gaps_hours(&autumn), [25, 24]);
}

#[test]
fn daily_keeps_nine_o_clock_across_dst_in_sydney() {
    // Southern hemisphere: summer time ends in April and starts in October.
    let s = sched("2026-04-04T09:00", SYD, daily());
    assert_eq!(first_runs(&s, 3), ["2026-04-04T09:00+11:00", "2026-04-05T09:00+10:00", "2026-04-06T09:00+10:00"]);
    let spring = s.preview(at(&s, "2026-10-03T00:00"), 3);
    assert_eq!(show(&s, &spring), ["2026-10-03T09:00+10:00", "2026-10-04T09:00+11:00", "2026-10-05T09:00+11:00"]);
    assert_eq!(gaps_hours(&spring), [23, 24]);
}

#[test]
fn a_time_in_the_spring_gap_runs_shifted_forward() {
    // 2026-03-29 in Amsterdam: 02:00 becomes 03:00, so 02:30 does not exist that day.
    let s = sched("2026-03-28T02:30", AMS, daily());
    assert_eq!(first_runs(&s, 3), ["2026-03-28T02:30+01:00", "2026-03-29T03:30+02:00", "2026-03-30T02:30+02:00"]);
    let s = sched("2026-03-07T02:30", NYC, daily());
    assert_eq!(first_runs(&s, 3), ["2026-03-07T02:30-05:00", "2026-03-08T03:30-04:00", "2026-03-09T02:30-04:00"]);
}

#[test]
fn a_time_in_the_autumn_fold_runs_once_at_its_first_occurrence() {
    // 2026-11-01 in New York: 02:00 goes back to 01:00, so 01:30 happens twice.
    let s = sched("2026-10-31T01:30", NYC, daily());
    assert_eq!(first_runs(&s, 3), ["2026-10-31T01:30-04:00", "2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00"]);
    let first = at(&s, "2026-11-01T01:30");
    assert_eq!(s.next_after(first), Some(at(&s, "2026-11-02T01:30")), "not again an hour later");
    let s = sched("2026-10-24T02:30", AMS, daily());
    assert_eq!(first_runs(&s, 3), ["2026-10-24T02:30+02:00", "2026-10-25T02:30+02:00", "2026-10-26T02:30+01:00"]);
}

#[test]
fn every_four_hours_is_real_time_across_dst() {
    let every_4h = ScheduleKind::Interval { every: 4, unit: IntervalUnit::Hours };
    let s = sched("2026-03-28T22:00", AMS, every_4h.clone());
    let runs = s.preview(at(&s, "2026-03-28T21:00"), 5);
    assert_eq!(gaps_hours(&runs), [4, 4, 4, 4], "the clock shows 22:00, 03:00, 07:00: the night lost an hour");
    assert_eq!(
        show(&s, &runs),
        [
            "2026-03-28T22:00+01:00",
            "2026-03-29T03:00+02:00",
            "2026-03-29T07:00+02:00",
            "2026-03-29T11:00+02:00",
            "2026-03-29T15:00+02:00"
        ]
    );
    let s = sched("2026-10-31T22:00", NYC, every_4h);
    let runs = s.preview(at(&s, "2026-10-31T21:00"), 3);
    // 4 h after 22:00 EDT is the second 01:00 of that night (EST): real time, not the wall clock.
    assert_eq!(show(&s, &runs), ["2026-10-31T22:00-04:00", "2026-11-01T01:00-05:00", "2026-11-01T05:00-05:00"]);
    assert_eq!(gaps_hours(&runs), [4, 4]);
    let every_90_min =
        sched("2026-01-01T00:00", AMS, ScheduleKind::Interval { every: 90, unit: IntervalUnit::Minutes });
    assert_eq!(
        first_runs(&every_90_min, 3),
        ["2026-01-01T00:00+01:00", "2026-01-01T01:30+01:00", "2026-01-01T03:00+01:00"]
    );
}

#[test]
fn interval_in_days_keeps_the_local_time() {
    let s = sched("2026-03-27T09:00", AMS, ScheduleKind::Interval { every: 2, unit: IntervalUnit::Days });
    assert_eq!(first_runs(&s, 3), ["2026-03-27T09:00+01:00", "2026-03-29T09:00+02:00", "2026-03-31T09:00+02:00"]);
    assert_eq!(s.next_after(at(&s, "2026-03-28T09:00")), Some(at(&s, "2026-03-29T09:00")));
}

#[test]
fn monthly_day_31_skips_or_falls_back_to_the_last_day() {
    let skip = sched("2026-01-31T08:00", AMS, monthly(MonthDay::DayOfMonth(31), Some(ShortMonths::Skip)));
    let days = |s: &Schedule, n| first_runs(s, n).into_iter().map(|r| r[..10].to_string()).collect::<Vec<_>>();
    assert_eq!(
        days(&skip, 7),
        ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31", "2026-08-31", "2026-10-31", "2026-12-31"]
    );
    let last = sched("2026-01-31T08:00", AMS, monthly(MonthDay::DayOfMonth(31), Some(ShortMonths::LastDay)));
    assert_eq!(
        days(&last, 12),
        [
            "2026-01-31",
            "2026-02-28",
            "2026-03-31",
            "2026-04-30",
            "2026-05-31",
            "2026-06-30",
            "2026-07-31",
            "2026-08-31",
            "2026-09-30",
            "2026-10-31",
            "2026-11-30",
            "2026-12-31"
        ]
    );
}

#[test]
fn last_day_of_february_in_leap_and_common_years() {
    let s = sched("2027-02-01T12:00", NYC, monthly(MonthDay::LastDay, None));
    assert_eq!(first_runs(&s, 1), ["2027-02-28T12:00-05:00"]);
    assert_eq!(show(&s, &s.preview(at(&s, "2028-02-01T00:00"), 1)), ["2028-02-29T12:00-05:00"]);
    let day_29 = sched("2027-01-29T12:00", NYC, monthly(MonthDay::DayOfMonth(29), Some(ShortMonths::LastDay)));
    assert_eq!(first_runs(&day_29, 2), ["2027-01-29T12:00-05:00", "2027-02-28T12:00-05:00"]);
    assert_eq!(show(&day_29, &day_29.preview(at(&day_29, "2028-02-01T00:00"), 1)), ["2028-02-29T12:00-05:00"]);
    let skip_29 = sched("2027-01-29T12:00", NYC, monthly(MonthDay::DayOfMonth(29), Some(ShortMonths::Skip)));
    assert_eq!(first_runs(&skip_29, 2), ["2027-01-29T12:00-05:00", "2027-03-29T12:00-04:00"]);
}

#[test]
fn second_tuesday_and_last_friday_for_a_year() {
    let nth = |nth, weekday| MonthDay::NthWeekday { nth, weekday };
    let tuesday = sched("2026-01-01T10:00", AMS, monthly(nth(Nth::Number(2), Weekday::Tuesday), None));
    let dates = |s: &Schedule| first_runs(s, 12).into_iter().map(|r| r[5..10].to_string()).collect::<Vec<_>>();
    assert_eq!(
        dates(&tuesday),
        ["01-13", "02-10", "03-10", "04-14", "05-12", "06-09", "07-14", "08-11", "09-08", "10-13", "11-10", "12-08"]
    );
    let friday = sched("2026-01-01T10:00", AMS, monthly(nth(Nth::Last, Weekday::Friday), None));
    assert_eq!(
        dates(&friday),
        ["01-30", "02-27", "03-27", "04-24", "05-29", "06-26", "07-31", "08-28", "09-25", "10-30", "11-27", "12-25"]
    );
    // A 5th Thursday exists only in some months: the others have no run.
    let fifth = sched("2026-01-01T10:00", AMS, monthly(nth(Nth::Number(5), Weekday::Thursday), None));
    assert_eq!(first_runs(&fifth, 2), ["2026-01-29T10:00+01:00", "2026-04-30T10:00+02:00"]);
}

#[test]
fn weekly_on_monday_wednesday_and_friday() {
    let weekdays = [Weekday::Monday, Weekday::Wednesday, Weekday::Friday].into_iter().collect();
    // 2026-05-31 is a Sunday: the first run is the Monday after.
    let s = sched("2026-05-31T07:15", SYD, ScheduleKind::Weekly { weekdays, repeat: Repeat::OnceADay });
    assert_eq!(
        first_runs(&s, 6),
        [
            "2026-06-01T07:15+10:00",
            "2026-06-03T07:15+10:00",
            "2026-06-05T07:15+10:00",
            "2026-06-08T07:15+10:00",
            "2026-06-10T07:15+10:00",
            "2026-06-12T07:15+10:00"
        ]
    );
}

#[test]
fn every_six_hours_from_nine_stays_within_the_day() {
    let s = sched("2026-06-01T09:00", AMS, ScheduleKind::Daily { repeat: Repeat::EveryHours(6) });
    assert_eq!(
        first_runs(&s, 4),
        ["2026-06-01T09:00+02:00", "2026-06-01T15:00+02:00", "2026-06-01T21:00+02:00", "2026-06-02T09:00+02:00"]
    );
    // Wall clock on the fold day: 00:30, 01:30 (first), 02:30 ... each local time once.
    let s = sched("2026-11-01T00:30", NYC, ScheduleKind::Daily { repeat: Repeat::EveryHours(1) });
    let runs = first_runs(&s, 25);
    assert_eq!(&runs[..3], ["2026-11-01T00:30-04:00", "2026-11-01T01:30-04:00", "2026-11-01T02:30-05:00"]);
    assert_eq!(runs[23], "2026-11-01T23:30-05:00", "24 local times, each once, on a 25-hour day");
    assert_eq!(runs[24], "2026-11-02T00:30-05:00");
    // On the gap day 02:30 and 03:30 are the same instant: it runs once.
    let s = sched("2026-03-29T01:30", AMS, ScheduleKind::Daily { repeat: Repeat::EveryHours(1) });
    assert_eq!(&first_runs(&s, 3), &["2026-03-29T01:30+01:00", "2026-03-29T03:30+02:00", "2026-03-29T04:30+02:00"]);
}

#[test]
fn the_end_is_respected() {
    let mut s = sched("2026-06-01T09:00", AMS, daily());
    s.end = Some(ScheduleEnd::Local(dt("2026-06-03T09:00")));
    assert_eq!(first_runs(&s, 10), ["2026-06-01T09:00+02:00", "2026-06-02T09:00+02:00", "2026-06-03T09:00+02:00"]);
    assert_eq!(s.next_after(at(&s, "2026-06-03T09:00")), None);
    s.end = Some(ScheduleEnd::Instant(ts("2026-06-02T06:59:59Z")));
    assert_eq!(first_runs(&s, 10), ["2026-06-01T09:00+02:00"]);
    let mut every = sched("2026-06-01T09:00", AMS, ScheduleKind::Interval { every: 30, unit: IntervalUnit::Minutes });
    every.end = Some(ScheduleEnd::Local(dt("2026-06-01T10:15")));
    assert_eq!(first_runs(&every, 10).len(), 3, "09:00, 09:30, 10:00");
}

#[test]
fn once_runs_once() {
    let s = sched("2026-06-01T09:00", AMS, ScheduleKind::Once);
    let start = at(&s, "2026-06-01T09:00");
    assert_eq!(s.next_after(start - SignedDuration::from_secs(1)), Some(start));
    assert_eq!(s.next_after(start), None);
    assert_eq!(s.preview(ts("2020-01-01T00:00:00Z"), 5), [start]);
}

#[test]
fn a_preview_of_ten() {
    let s = sched("2026-01-01T09:00", NYC, daily());
    let runs = s.preview(ts("2026-03-01T00:00:00Z"), 10);
    assert_eq!(runs.len(), 10);
    assert_eq!(show(&s, &runs[..1]), ["2026-03-01T09:00-05:00"]);
    assert_eq!(show(&s, &runs[9..]), ["2026-03-10T09:00-04:00"]);
    assert!(runs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(s.preview(ts("2026-03-01T00:00:00Z"), 0), []);
}

#[test]
fn missed_runs_fire_at_most_once() {
    let mut s = sched("2026-06-01T09:00", AMS, daily());
    let due = at(&s, "2026-06-01T09:00");
    let next_day = at(&s, "2026-06-02T09:00");
    assert_eq!(s.decide(due, due - SignedDuration::from_secs(1)), Decision::Wait { next: due });
    // On time: every policy fires it.
    for missed in [MissedRunPolicy::RunOnce, MissedRunPolicy::Skip, MissedRunPolicy::RunIfLate { max_minutes: 5 }] {
        s.missed = missed;
        let now = due + SignedDuration::from_secs(2);
        assert_eq!(s.decide(due, now), Decision::Fire { at: due, next: Some(next_day) }, "{missed:?}");
    }
    // Down for four days and back at 10:00: one catch-up run, next is tomorrow 09:00.
    let now = at(&s, "2026-06-05T10:00");
    let tomorrow = Some(at(&s, "2026-06-06T09:00"));
    s.missed = MissedRunPolicy::RunOnce;
    assert_eq!(s.decide(due, now), Decision::Fire { at: due, next: tomorrow });
    s.missed = MissedRunPolicy::Skip;
    assert_eq!(s.decide(due, now), Decision::SkipTo { next: tomorrow });
    // The latest missed run (today 09:00) is 60 minutes late.
    s.missed = MissedRunPolicy::RunIfLate { max_minutes: 90 };
    assert_eq!(s.decide(due, now), Decision::Fire { at: due, next: tomorrow });
    s.missed = MissedRunPolicy::RunIfLate { max_minutes: 30 };
    assert_eq!(s.decide(due, now), Decision::SkipTo { next: tomorrow });
    // A one-time run missed: fired late once, or skipped, and nothing after it.
    let mut once = sched("2026-06-01T09:00", AMS, ScheduleKind::Once);
    assert_eq!(once.decide(due, now), Decision::Fire { at: due, next: None });
    once.missed = MissedRunPolicy::Skip;
    assert_eq!(once.decide(due, now), Decision::SkipTo { next: None });
}

#[test]
fn validation_names_each_bad_field() {
    let now = ts("2026-06-01T00:00:00Z");
    let problems = |s: &Schedule| s.validate(now).unwrap_err().join("\n");
    assert_eq!(sched("2026-06-02T09:00", AMS, daily()).validate(now), Ok(()));

    let zero = sched("2026-06-02T09:00", AMS, ScheduleKind::Interval { every: 0, unit: IntervalUnit::Minutes });
    assert!(problems(&zero).contains("kind.every: is 0"), "{}", problems(&zero));
    let no_day =
        sched("2026-06-02T09:00", AMS, ScheduleKind::Weekly { weekdays: BTreeSet::new(), repeat: Repeat::OnceADay });
    assert!(problems(&no_day).contains("kind.weekdays: is empty"), "{}", problems(&no_day));
    for d in [29, 30, 31] {
        let s = sched("2026-06-02T09:00", AMS, monthly(MonthDay::DayOfMonth(d), None));
        let p = problems(&s);
        assert!(p.contains("kind.short_months") && p.contains("\"skip\"") && p.contains("\"last_day\""), "{p}");
        let ok = sched("2026-06-02T09:00", AMS, monthly(MonthDay::DayOfMonth(d), Some(ShortMonths::Skip)));
        assert_eq!(ok.validate(now), Ok(()));
    }
    assert_eq!(sched("2026-06-02T09:00", AMS, monthly(MonthDay::DayOfMonth(28), None)).validate(now), Ok(()));
    let day_0 = sched("2026-06-02T09:00", AMS, monthly(MonthDay::DayOfMonth(0), None));
    assert!(problems(&day_0).contains("kind.day.day_of_month: is 0"));
    let zone = sched("2026-06-02T09:00", "Europe/Atlantis", daily());
    assert!(problems(&zone).contains("time_zone: unknown time zone 'Europe/Atlantis'"), "{}", problems(&zone));
    let mut backwards = sched("2026-06-02T09:00", AMS, daily());
    backwards.end = Some(ScheduleEnd::Local(dt("2026-06-01T09:00")));
    assert!(problems(&backwards).contains("end: 2026-06-01T09:00:00 is before the start"), "{}", problems(&backwards));
    let past = sched("2026-05-31T09:00", AMS, ScheduleKind::Once);
    assert!(problems(&past).contains("start: a one-time schedule must start in the future"), "{}", problems(&past));
    assert_eq!(sched("2026-05-31T09:00", AMS, daily()).validate(now), Ok(()), "a repeating start may be past");
    for h in [0, 24] {
        let s = sched("2026-06-02T09:00", AMS, ScheduleKind::Daily { repeat: Repeat::EveryHours(h) });
        assert!(problems(&s).contains(&format!("kind.repeat.every_hours: is {h}, but it must be 1 to 23")));
    }
    let mut empty = sched("2026-06-02T09:00", AMS, daily());
    empty.name = " ".into();
    assert!(problems(&empty).contains("name: must not be empty"));
}

#[test]
fn an_impossible_start_date_is_refused_when_parsed() {
    let now = ts("2026-06-01T00:00:00Z");
    let json = r#"{"name":"x","start":"2027-02-31T09:00","time_zone":"Europe/Amsterdam","kind":{"type":"daily"}}"#;
    let e = Schedule::from_json(json, now).unwrap_err().join("\n");
    assert!(e.contains("start: '2027-02-31T09:00' is not a local date-time"), "{e}");
    let json = r#"{"name":"x","start":"2027-01-31T09:00","time_zone":"Mars/Olympus","kind":{"type":"once"}}"#;
    let e = Schedule::from_json(json, now).unwrap_err().join("\n");
    assert!(e.contains("unknown time zone 'Mars/Olympus'"), "{e}");
    let json = r#"{"name":"x","start":"2027-01-31T09:00","time_zone":"UTC","kind":{"type":"monthly","day":{"nth_weekday":{"nth":6,"weekday":"monday"}}}}"#;
    let e = Schedule::from_json(json, now).unwrap_err().join("\n");
    assert!(e.contains("nth is 6, but it must be 1 to 5 or \"last\""), "{e}");
}

#[test]
fn json_is_snake_case_and_round_trips() {
    let json = r#"{
        "name": "patch tuesday",
        "start": "2026-01-13T22:00",
        "time_zone": "Europe/Amsterdam",
        "end": {"local": "2027-01-01T00:00"},
        "kind": {"type": "monthly", "day": {"nth_weekday": {"nth": 2, "weekday": "tuesday"}}, "repeat": {"every_hours": 1}},
        "missed": {"run_if_late": {"max_minutes": 120}}
    }"#;
    let s = Schedule::from_json(json, ts("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(s.start, dt("2026-01-13T22:00"));
    assert_eq!(s.missed, MissedRunPolicy::RunIfLate { max_minutes: 120 });
    assert_eq!(first_runs(&s, 3), ["2026-01-13T22:00+01:00", "2026-01-13T23:00+01:00", "2026-02-10T22:00+01:00"]);
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains(r#""kind":{"type":"monthly","day":{"nth_weekday":{"nth":2,"weekday":"tuesday"}}"#), "{text}");
    assert_eq!(serde_json::from_str::<Schedule>(&text).unwrap(), s);
    let simple = r#"{"name":"n","start":"2026-01-13T22:00:00","time_zone":"UTC","kind":{"type":"weekly","weekdays":["friday","monday"]},"missed":"skip"}"#;
    let s: Schedule = serde_json::from_str(simple).unwrap();
    assert_eq!(serde_json::to_value(&s).unwrap()["kind"]["weekdays"], serde_json::json!(["monday", "friday"]));
    assert_eq!(serde_json::to_value(&s).unwrap()["kind"]["repeat"], "once_a_day");
    let last = r#"{"name":"n","start":"2026-01-13T22:00","time_zone":"UTC","end":{"instant":"2026-12-31T17:00:00Z"},"kind":{"type":"monthly","day":{"nth_weekday":{"nth":"last","weekday":"friday"}}}}"#;
    let s: Schedule = serde_json::from_str(last).unwrap();
    assert_eq!(s.end, Some(ScheduleEnd::Instant(ts("2026-12-31T17:00:00Z"))));
    assert_eq!(serde_json::from_str::<Schedule>(&serde_json::to_string(&s).unwrap()).unwrap(), s);
}
