//! What happens after a step: go on, jump, or stop.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The action taken after a step succeeded or failed.
///
/// Written as text: `next`, `stop-success`, `stop-failure` or `goto N` (N is the
/// 1-based step number, as shown to users).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Next,
    GoTo(u32),
    StopSuccess,
    StopFailure,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Next => f.write_str("next"),
            Action::GoTo(n) => write!(f, "goto {n}"),
            Action::StopSuccess => f.write_str("stop-success"),
            Action::StopFailure => f.write_str("stop-failure"),
        }
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "next" => return Ok(Action::Next),
            "stop-success" => return Ok(Action::StopSuccess),
            "stop-failure" => return Ok(Action::StopFailure),
            _ => {}
        }
        let target = s.strip_prefix("goto").map(str::trim);
        match target.map(str::parse::<u32>) {
            Some(Ok(n)) if n >= 1 => Ok(Action::GoTo(n)),
            _ => Err(format!(
                "unknown action '{s}': use next, stop-success, stop-failure or 'goto N' (N = step number from 1)"
            )),
        }
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_text() {
        for a in [Action::Next, Action::GoTo(3), Action::StopSuccess, Action::StopFailure] {
            assert_eq!(a.to_string().parse::<Action>(), Ok(a));
        }
        assert_eq!("goto  12".parse::<Action>(), Ok(Action::GoTo(12)));
        assert!("goto 0".parse::<Action>().is_err());
        assert!("jump".parse::<Action>().is_err());
    }
}
