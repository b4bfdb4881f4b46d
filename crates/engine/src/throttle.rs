//! Login throttling: after [`MAX_FAILURES`] failed logins within [`WINDOW_MS`] for one
//! user name, or from one client address (an IPv6 client by its /64), logins for it are
//! refused for [`LOCKOUT_MS`]. Pure bookkeeping: time is an argument.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

pub const MAX_FAILURES: usize = 5;
pub const WINDOW_MS: i64 = 5 * 60 * 1000;
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// Entries kept before forgetting the ones with nothing recent.
const PRUNE_ABOVE: usize = 10_000;

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    User(String),
    Addr(IpAddr),
}

impl Subject {
    pub fn addr(ip: IpAddr) -> Subject {
        match ip {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let s = v6.segments();
                Subject::Addr(IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
            }
            IpAddr::V6(v6) => Subject::Addr(IpAddr::V4(v6.to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED))),
            v4 => Subject::Addr(v4),
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::User(u) => write!(f, "user '{u}'"),
            Subject::Addr(a) => write!(f, "address {a}"),
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<i64>,
    locked_until: i64,
}

#[derive(Debug, Default)]
pub struct Throttle {
    entries: HashMap<Subject, Entry>,
}

impl Throttle {
    /// Ok when none of `subjects` is locked at `now_ms`; else the subject and when its
    /// lockout ends.
    pub fn check(&self, subjects: &[Subject], now_ms: i64) -> Result<(), (Subject, i64)> {
        for s in subjects {
            if let Some(e) = self.entries.get(s)
                && e.locked_until > now_ms
            {
                return Err((s.clone(), e.locked_until));
            }
        }
        Ok(())
    }

    /// Counts a failed login; returns the subjects this failure locked, with the end of
    /// their lockout.
    pub fn fail(&mut self, subjects: &[Subject], now_ms: i64) -> Vec<(Subject, i64)> {
        if self.entries.len() > PRUNE_ABOVE {
            self.entries
                .retain(|_, e| e.locked_until > now_ms || e.failures.back().is_some_and(|t| now_ms - t < WINDOW_MS));
        }
        let mut locked = Vec::new();
        for s in subjects {
            let e = self.entries.entry(s.clone()).or_default();
            e.failures.push_back(now_ms);
            while e.failures.front().is_some_and(|t| now_ms - t >= WINDOW_MS) || e.failures.len() > MAX_FAILURES {
                e.failures.pop_front();
            }
            if e.failures.len() >= MAX_FAILURES {
                e.locked_until = now_ms + LOCKOUT_MS;
                e.failures.clear();
                locked.push((s.clone(), e.locked_until));
            }
        }
        locked
    }

    /// A successful login clears the user's count (not the address's: one good account
    /// must not reset the guessing of others from the same place).
    pub fn succeed(&mut self, user: &Subject) {
        self.entries.remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Subject {
        Subject::User("ann".into())
    }

    #[test]
    fn five_failures_in_the_window_lock_for_a_while() {
        let mut t = Throttle::default();
        let s = [user(), Subject::addr("10.0.0.1".parse().unwrap())];
        for i in 0..4 {
            assert!(t.fail(&s, i * 1000).is_empty());
            assert!(t.check(&s, i * 1000 + 1).is_ok());
        }
        let locked = t.fail(&s, 4000);
        assert_eq!(locked.len(), 2);
        assert_eq!(t.check(&s, 5000), Err((user(), 4000 + LOCKOUT_MS)));
        assert!(t.check(&[Subject::User("bob".into())], 5000).is_ok(), "other users are not locked");
        assert!(t.check(&s, 4000 + LOCKOUT_MS).is_ok(), "the lockout ends");
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_lock() {
        let mut t = Throttle::default();
        for i in 0..20 {
            assert!(t.fail(&[user()], i * (WINDOW_MS / 4)).is_empty(), "failure {i}");
        }
    }

    #[test]
    fn success_clears_the_user_but_not_the_address() {
        let mut t = Throttle::default();
        let addr = Subject::addr("10.0.0.1".parse().unwrap());
        for i in 0..4 {
            t.fail(&[user(), addr.clone()], i);
        }
        t.succeed(&user());
        assert!(t.fail(&[user()], 10).is_empty());
        assert_eq!(t.fail(&[Subject::User("bob".into()), addr.clone()], 11).len(), 1, "the address locks at 5");
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a = Subject::addr("2001:db8:1:2::1".parse().unwrap());
        let b = Subject::addr("2001:db8:1:2:ffff::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(Subject::addr("::ffff:10.0.0.1".parse().unwrap()), Subject::addr("10.0.0.1".parse().unwrap()));
    }
}
