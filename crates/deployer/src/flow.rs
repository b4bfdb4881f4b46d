//! Which step comes next: a step's success decides between its on-success and
//! on-failure action, and the action names the next step or ends the job.

use crate::process::Killed;
use drover_proto::{Action, Step};

/// Where the job goes after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Run the step with this 0-based index.
    Run(usize),
    /// Ran past the last step: the job succeeded.
    Done,
    StopSuccess,
    StopFailure,
    /// `goto N` names no step of the package.
    NoSuchStep(u32),
}

/// A step succeeds when it was not killed and ended with one of its success codes.
pub fn succeeded(step: &Step, exit_code: Option<i32>, killed: Option<Killed>) -> bool {
    killed.is_none() && exit_code.is_some_and(|c| step.success_codes.contains(&c))
}

/// What follows step `index` (0-based) of `count` steps after `action`. `goto N` is
/// 1-based; loops are allowed (the job's deadline ends them).
pub fn after(action: Action, index: usize, count: usize) -> Flow {
    let to = |i: usize| if i < count { Flow::Run(i) } else { Flow::Done };
    match action {
        Action::Next => to(index + 1),
        Action::GoTo(n) => match usize::try_from(n) {
            Ok(n) if n >= 1 && n <= count => Flow::Run(n - 1),
            _ => Flow::NoSuchStep(n),
        },
        Action::StopSuccess => Flow::StopSuccess,
        Action::StopFailure => Flow::StopFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_proto::StepKind;

    #[test]
    fn actions_lead_where_they_say() {
        assert_eq!(after(Action::Next, 0, 3), Flow::Run(1));
        assert_eq!(after(Action::Next, 2, 3), Flow::Done);
        assert_eq!(after(Action::GoTo(1), 2, 3), Flow::Run(0));
        assert_eq!(after(Action::GoTo(3), 0, 3), Flow::Run(2));
        assert_eq!(after(Action::GoTo(2), 1, 3), Flow::Run(1), "a step may repeat itself");
        assert_eq!(after(Action::GoTo(4), 0, 3), Flow::NoSuchStep(4));
        assert_eq!(after(Action::GoTo(0), 0, 3), Flow::NoSuchStep(0));
        assert_eq!(after(Action::StopSuccess, 0, 3), Flow::StopSuccess);
        assert_eq!(after(Action::StopFailure, 0, 3), Flow::StopFailure);
    }

    #[test]
    fn success_needs_a_listed_code_and_no_kill() {
        let mut step = Step {
            name: "s".into(),
            kind: StepKind::Command { command: "true".into() },
            success_codes: vec![0, 3010],
            on_success: Action::Next,
            on_failure: Action::StopFailure,
            timeout_secs: None,
        };
        assert!(succeeded(&step, Some(0), None));
        assert!(succeeded(&step, Some(3010), None));
        assert!(!succeeded(&step, Some(1), None));
        assert!(!succeeded(&step, None, None));
        assert!(!succeeded(&step, Some(0), Some(Killed::StepTimeout)));
        step.success_codes = vec![1];
        assert!(succeeded(&step, Some(1), None));
        assert!(!succeeded(&step, Some(0), None));
    }
}
