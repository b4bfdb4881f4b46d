//! A reboot step: waiting for the machine to come back restarted (within the package's
//! max duration), then creating the task again at the step after the reboot, as the
//! server's record of reported steps says.

use super::launch::Resume;
use super::login::Access;
use super::{Stop, Task, stop};
use crate::deploy::remote;
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::deployment::{Deployment, StepRecord, Target, TargetState};
use drover_domain::package::Package;
use drover_proto::StepKind;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep};

/// The wait before look `attempt` (1-based) at a rebooting machine: 1 s doubling to 5 s.
pub(crate) fn reboot_backoff(attempt: u32) -> Duration {
    let ms = 1_000u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    Duration::from_millis(ms.min(5_000))
}

/// The step a package goes on at after a reboot: the one after the last step the server
/// recorded (by report order), which must be a reboot step that succeeded. Err says why
/// there is none.
pub(crate) fn resume_index(steps: &[StepRecord], pkg: &Package) -> Result<usize, String> {
    let Some(last) = steps.iter().max_by_key(|s| s.seq) else {
        return Err("no step of it was recorded".into());
    };
    let index = usize::try_from(last.index).map_err(|_| format!("its last step has index {}", last.index))?;
    match pkg.def.steps.get(index) {
        Some(step) if matches!(step.kind, StepKind::Reboot { .. }) && last.success => Ok(index + 1),
        Some(step) => {
            Err(format!("its last recorded step, {} '{}', is not a reboot step that succeeded", index + 1, step.name))
        }
        None => Err(format!("its last recorded step {} is not in the package", index + 1)),
    }
}

/// The boot marker of a machine that is shutting down (`facts.sh`).
const STOPPING: &str = "stopping";

/// Whether a stop is the connection's failing (the machine may still be booting).
fn is_connection(code: FailureCode) -> bool {
    matches!(code, FailureCode::SshUnreachable | FailureCode::SshTimeout | FailureCode::SshProtocol)
}

/// What a look at a rebooting machine found.
enum Look {
    /// It answers, restarted.
    Restarted,
    /// It does not answer, or not restarted yet.
    NotYet(String),
}

impl Engine {
    /// After target `t`'s task reported a reboot: waits for the machine to come back
    /// restarted, then creates the task again at the step after the reboot. Ok(None): the
    /// target ended meanwhile (cancelled).
    pub(super) async fn resume_after_reboot(
        &self,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
        a: &Access,
        deadline: Instant,
        notify: &Notify,
    ) -> Result<Option<Task>, Stop> {
        let max_secs = pkg.def.max_duration_secs;
        let before = self.store().target(t.id).await?.boot_marker;
        let mut attempt = 0;
        let mut last_why = String::from("it was not looked at yet");
        loop {
            if let Some(message) = self.take_cancel(t.id) {
                return Err(stop(
                    TargetState::Cancelled,
                    FailureCode::Cancelled,
                    format!(
                        "{message} while asset '{}' rebooted; the steps after the reboot did not run",
                        a.asset.name
                    ),
                ));
            }
            let now = self.store().target(t.id).await?;
            if now.state.is_final() {
                return Ok(None);
            }
            if Instant::now() >= deadline {
                return Err(stop(
                    TargetState::TimedOut,
                    FailureCode::RebootNotBack,
                    format!(
                        "asset '{}' did not come back restarted after the reboot step within the package's max duration of {max_secs} s ({last_why}); the steps after the reboot did not run",
                        a.asset.name
                    ),
                ));
            }
            match self.look_at_reboot(t, a, before.as_deref()).await? {
                Look::Restarted => match self.create_again(t, d, pkg, a).await {
                    Ok(task) => return Ok(Some(task)),
                    // it answered, then went away again (still booting, or going down)
                    Err(s) if is_connection(s.code) => last_why = s.message,
                    Err(s) => return Err(s),
                },
                Look::NotYet(why) => last_why = why,
            }
            attempt += 1;
            let wait = reboot_backoff(attempt).min(deadline.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = notify.notified() => {}
                _ = sleep(wait) => {}
            }
        }
    }

    /// Creates the task again on the restarted machine, at the step after the reboot.
    async fn create_again(&self, t: &Target, d: &Deployment, pkg: &Package, a: &Access) -> Result<Task, Stop> {
        let recorded = self.store().steps_of(t.id).await?;
        let start_at = resume_index(&recorded, pkg).map_err(|why| {
            stop(
                TargetState::Failed,
                FailureCode::ServerInternal,
                format!("asset '{}' restarted, but where the package goes on is not known: {why}", a.asset.name),
            )
        })?;
        let started = self.first_running_ms(t).await?;
        let resume = Resume { start_at, deadline_ms: started + (pkg.def.max_duration_secs as i64) * 1000 };
        let session = self.connect(a).await.map_err(|e| super::ssh_stop(&a.asset, e))?;
        let task = self.create_task(&session, a, t, d, pkg, Some(resume)).await;
        session.close().await;
        task
    }

    /// Whether the machine answers, restarted: its boot marker differs from `before`,
    /// the one read when the task was created. Without markers (a target created before
    /// them), whether the task that rebooted is gone.
    async fn look_at_reboot(&self, t: &Target, a: &Access, before: Option<&str>) -> Result<Look, Stop> {
        let name = &a.asset.name;
        if !self.config().transport.probe(&a.asset.address, a.asset.ssh_port, self.config().probe_timeout).await {
            return Ok(Look::NotYet(format!("asset '{name}' does not answer on its SSH port")));
        }
        let session = match self.connect(a).await {
            Ok(s) => s,
            Err(e) => return Ok(Look::NotYet(format!("asset '{name}': {e}"))),
        };
        let facts = super::exec(&session, &a.asset, &remote::facts(self.inner.deployers.hashes()), None, &[]).await;
        session.close().await;
        let now = match facts {
            Ok(out) => remote::parse_facts(&out).boot,
            Err(s) => return Ok(Look::NotYet(s.message)),
        };
        match (before, now.as_deref()) {
            (_, Some(STOPPING)) => Ok(Look::NotYet(format!("asset '{name}' is shutting down"))),
            (Some(b), Some(n)) if b != n => Ok(Look::Restarted),
            (Some(_), Some(_)) => Ok(Look::NotYet(format!("asset '{name}' answers but has not restarted yet"))),
            _ => {
                // no marker to compare: the task that rebooted must be gone
                let Some(dir) = t.work_dir.clone() else {
                    return Ok(Look::Restarted);
                };
                // the root work directory means the task was created as root
                let privilege =
                    if remote::is_root_dir(&dir) { a.privilege(a.credential.username == "root") } else { None };
                let task = Task { unit: format!("drover-target-{}", t.id), privilege, dir };
                match self.check_task(a, &task, t).await? {
                    Some(false) => Ok(Look::Restarted),
                    _ => Ok(Look::NotYet(format!("asset '{name}' answers, and the task that rebooted still runs"))),
                }
            }
        }
    }

    /// When the target's task was first created (its first `running`), for the deadline.
    pub(super) async fn first_running_ms(&self, t: &Target) -> Result<i64, Stop> {
        let events = self.store().events_of(t.id).await?;
        Ok(events.iter().find(|e| e.state == TargetState::Running).map_or_else(now_ms, |e| e.at_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_domain::ids::TargetId;
    use drover_domain::package::parse_package;

    fn record(seq: i64, index: i64, success: bool) -> StepRecord {
        StepRecord {
            target_id: TargetId(1),
            seq,
            index,
            name: String::new(),
            exit_code: Some(0),
            success,
            duration_ms: 0,
            output_tail: String::new(),
            message: String::new(),
            at_ms: 0,
        }
    }

    #[test]
    fn the_package_goes_on_after_the_last_recorded_reboot_step() {
        let toml = r#"
name = "halves"
version = "1"
max_duration_secs = 60
[[steps]]
name = "one"
type = "command"
command = "true"
[[steps]]
name = "reboot"
type = "reboot"
[[steps]]
name = "two"
type = "command"
command = "true"
"#;
        let def = parse_package(toml, &[]).unwrap();
        let pkg = Package { id: drover_domain::ids::PackageId(1), def, files: vec![], created_ms: 0 };
        assert_eq!(resume_index(&[record(2, 0, true), record(4, 1, true)], &pkg), Ok(2));
        // by report order, not by step number
        assert_eq!(resume_index(&[record(4, 1, true), record(2, 0, true)], &pkg), Ok(2));
        let err = resume_index(&[record(2, 0, true)], &pkg).unwrap_err();
        assert!(err.contains("1 'one'") && err.contains("not a reboot step"), "{err}");
        assert!(resume_index(&[record(4, 1, false)], &pkg).is_err(), "a failed reboot step does not resume");
        assert!(resume_index(&[], &pkg).is_err());
        assert!(resume_index(&[record(4, 7, true)], &pkg).is_err());
    }

    #[test]
    fn a_rebooting_machine_is_looked_at_with_backoff() {
        let waits: Vec<u64> = (1..=5).map(|a| reboot_backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [1000, 2000, 4000, 5000, 5000]);
    }
}
