//! Runs the server missed (it was down or busy): the policy and the pure decision.
//!
//! The decision starts from `due`, the first run not yet fired or skipped (what a
//! deployment configuration stores as its next fire time), rather than from the last
//! fire: a configuration created long after its schedule started owes nothing from
//! before it existed, and every node that reads the same row computes the same key.
//! However many runs were missed, a decision fires at most one of them.

use super::Schedule;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A run found at most this long after its time is on time, not missed: a scheduler
/// tick is never exactly on the second.
pub const ON_TIME_GRACE_SECS: i64 = 60;

/// What to do about runs whose time passed while nothing fired them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedRunPolicy {
    /// One catch-up run as soon as possible, however many were missed.
    #[default]
    RunOnce,
    /// No catch-up: wait for the next run.
    Skip,
    /// One catch-up run if the latest missed run is at most `max_minutes` late.
    RunIfLate { max_minutes: u32 },
}

/// What the scheduler does now about a configuration whose run was `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Fire one run now, recorded under the key `at` (= `due`), then wait for `next`
    /// (the first run after now; `None` when the schedule has ended).
    Fire { at: Timestamp, next: Option<Timestamp> },
    /// Fire nothing; the missed runs are skipped and the next one is `next`.
    SkipTo { next: Option<Timestamp> },
    /// `due` has not come yet.
    Wait { next: Timestamp },
}

impl Schedule {
    /// Decides about the run that was `due` (and any after it up to `now`) by this
    /// schedule's missed-run policy.
    pub fn decide(&self, due: Timestamp, now: Timestamp) -> Decision {
        if due > now {
            return Decision::Wait { next: due };
        }
        let Some(r) = self.resolve() else {
            return Decision::SkipTo { next: None };
        };
        // The latest scheduled run at or before now, found by walking from `due`.
        let mut latest = due;
        while let Some(n) = r.next_after(latest) {
            if n > now {
                break;
            }
            latest = n;
        }
        let next = r.next_after(now);
        let late_secs = now.as_second() - latest.as_second();
        let fire = match self.missed {
            MissedRunPolicy::RunOnce => true,
            MissedRunPolicy::Skip => late_secs <= ON_TIME_GRACE_SECS,
            MissedRunPolicy::RunIfLate { max_minutes } => {
                late_secs <= (i64::from(max_minutes) * 60).max(ON_TIME_GRACE_SECS)
            }
        };
        if fire { Decision::Fire { at: due, next } } else { Decision::SkipTo { next } }
    }
}
