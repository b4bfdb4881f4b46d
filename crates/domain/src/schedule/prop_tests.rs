//! Property test over random schedules in three zones: `next_after` is strictly later,
//! monotone, finds every run, and a preview never repeats or goes backwards.

use super::*;
use jiff::SignedDuration;
use jiff::civil::date;

/// splitmix64: a small deterministic generator, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const ZONES: [&str; 3] = ["Europe/Amsterdam", "America/New_York", "Australia/Sydney"];
const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

fn repeat(rng: &mut Rng) -> Repeat {
    if rng.below(3) == 0 { Repeat::EveryHours(1 + rng.below(23) as u8) } else { Repeat::OnceADay }
}

fn random_schedule(rng: &mut Rng) -> Schedule {
    // Start times cluster around the DST switch hours (00:00-03:59) half the time.
    let hour = if rng.below(2) == 0 { rng.below(4) } else { rng.below(24) } as i8;
    let start = date(2025 + rng.below(4) as i16, 1 + rng.below(12) as i8, 1 + rng.below(28) as i8).at(
        hour,
        rng.pick(&[0, 15, 30, 45]),
        0,
        0,
    );
    let kind = match rng.below(6) {
        0 => ScheduleKind::Once,
        1 => ScheduleKind::Interval {
            every: 1 + rng.below(300) as u32,
            unit: rng.pick(&[IntervalUnit::Minutes, IntervalUnit::Hours, IntervalUnit::Days]),
        },
        2 => ScheduleKind::Daily { repeat: repeat(rng) },
        3 => {
            let mut weekdays: BTreeSet<Weekday> = (0..1 + rng.below(4)).map(|_| rng.pick(&WEEKDAYS)).collect();
            weekdays.insert(rng.pick(&WEEKDAYS));
            ScheduleKind::Weekly { weekdays, repeat: repeat(rng) }
        }
        _ => {
            let day = match rng.below(3) {
                0 => MonthDay::DayOfMonth(1 + rng.below(31) as u8),
                1 => MonthDay::LastDay,
                _ => MonthDay::NthWeekday {
                    nth: if rng.below(6) == 0 { Nth::Last } else { Nth::Number(1 + rng.below(5) as u8) },
                    weekday: rng.pick(&WEEKDAYS),
                },
            };
            let short_months = Some(rng.pick(&[ShortMonths::Skip, ShortMonths::LastDay]));
            ScheduleKind::Monthly { day, short_months, repeat: repeat(rng) }
        }
    };
    Schedule {
        name: "random".into(),
        start,
        time_zone: rng.pick(&ZONES).into(),
        end: None,
        kind,
        missed: MissedRunPolicy::RunOnce,
    }
}

#[test]
fn next_after_is_later_monotone_and_complete_for_random_schedules() {
    let base = date(2025, 1, 1).at(0, 0, 0, 0).in_tz("UTC").unwrap().timestamp();
    for seed in 0..1500u64 {
        let mut rng = Rng(seed);
        let s = random_schedule(&mut rng);
        assert_eq!(s.validate(base - SignedDuration::from_hours(24 * 365 * 10)), Ok(()), "seed {seed}: {s:?}");
        let mut probes: Vec<Timestamp> =
            (0..12).map(|_| base + SignedDuration::from_secs(rng.below(4 * 365 * 24 * 3600) as i64)).collect();
        probes.sort();
        let mut previous: Option<Timestamp> = None;
        for t in probes {
            let next = s.next_after(t);
            if let Some(n) = next {
                assert!(n > t, "seed {seed}: next_after({t}) = {n} is not later; {s:?}");
                // Complete: nothing between t and n was skipped.
                assert_eq!(s.next_after(n - SignedDuration::from_nanos(1)), Some(n), "seed {seed}: {s:?}");
            } else if !matches!(s.kind, ScheduleKind::Once) {
                panic!("seed {seed}: a repeating schedule without an end stopped after {t}: {s:?}");
            }
            if let (Some(p), Some(n)) = (previous, next) {
                assert!(p <= n, "seed {seed}: not monotone ({p} then {n}); {s:?}");
            }
            if previous.is_some() && next.is_none() {
                // Once there is no next run, later probes have none either.
                assert!(matches!(s.kind, ScheduleKind::Once), "seed {seed}");
            }
            previous = next.or(previous);
            let runs = s.preview(t, 40);
            assert!(runs.windows(2).all(|w| w[0] < w[1]), "seed {seed}: preview repeats or goes back: {s:?}");
            assert!(runs.first().is_none_or(|r| *r > t));
            for pair in runs.windows(2) {
                assert_eq!(s.next_after(pair[1] - SignedDuration::from_nanos(1)), Some(pair[1]), "seed {seed}");
            }
        }
    }
}
