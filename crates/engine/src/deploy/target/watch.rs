//! Watching the task: waiting for its end, checking over SSH that it lives (collecting its
//! record), killing it at the max duration or on cancel, and following it again after a
//! server restart.

use super::login::Access;
use super::{DEADLINE_GRACE, SCRIPT_TIMEOUT, Stop, Task, stop};
use crate::deploy::remote::{self, Call};
use crate::deploy::reports::Via;
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::asset::Asset;
use drover_domain::deployment::{Deployment, Target, TargetState};
use drover_domain::package::Package;
use drover_ssh::SshError;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep, sleep_until};

/// How watching a task ended.
pub(super) enum Watched {
    /// The target ended (its task reported an end, or it was ended).
    Ended,
    /// A reboot step rebooted the machine: the rest of the package runs after the boot.
    Rebooting,
}

/// How servers before absolute work directories recorded a non-root one: a shell word;
/// the start script's is recorded so too until it says where the login user's home is.
pub(super) const LEGACY_HOME_BASE: &str = "\"$HOME/.drover\"";

impl Engine {
    /// The non-root base directory of the login user (for a work directory recorded by an
    /// older server as `"$HOME/.drover"/targets/N`).
    pub(super) async fn home_base(&self, a: &Access) -> Option<String> {
        let session = self.connect(a).await.ok()?;
        let out = super::exec(&session, &a.asset, &remote::facts(self.inner.deployers.hashes()), None, &[]).await;
        session.close().await;
        let home = remote::parse_facts(&out.ok()?).home?;
        Some(remote::base_dir(false, &home))
    }

    /// The way back to a target's task from what its log recorded (credential and work
    /// directory); Err says why there is none.
    pub(super) async fn reattach(&self, t: &Target, asset: &Asset) -> Result<Result<(Access, Task), String>, Stop> {
        let (Some(name), Some(dir)) = (t.credential.clone(), t.work_dir.clone()) else {
            return Ok(Err("it had not recorded its credential and work directory".into()));
        };
        let Ok(credential) = self.store().credential_by_name(&name).await else {
            return Ok(Err("its credential is gone".into()));
        };
        let secret = self.vault().open(credential.id, &self.store().sealed_secret(credential.id).await?)?;
        let access = Access { asset: asset.clone(), credential, secret };
        let dir = match dir.strip_prefix(LEGACY_HOME_BASE) {
            Some(rest) => match self.home_base(&access).await {
                Some(base) => format!("{base}{rest}"),
                None => return Ok(Err("its home directory could not be learnt".into())),
            },
            None => dir,
        };
        // the root work directory means the task was created as root
        let privilege =
            if remote::is_root_dir(&dir) { access.privilege(access.credential.username == "root") } else { None };
        let task = Task { unit: format!("drover-target-{}", t.id), dir, privilege };
        Ok(Ok((access, task)))
    }

    pub(super) async fn resume(&self, t: &Target, d: &Deployment, pkg: &Package, notify: &Notify) -> Result<(), Stop> {
        let asset = self.store().asset(t.asset_id).await?;
        let lost = |what: &str| {
            stop(
                TargetState::Failed,
                FailureCode::ServerRestarted,
                format!(
                    "the server restarted while this target ran and cannot follow it any more ({what}); check asset '{}' and deploy again if needed",
                    asset.name
                ),
            )
        };
        let (access, mut task) = self.reattach(t, &asset).await?.map_err(|why| lost(&why))?;
        let started = self.first_running_ms(t).await?;
        let left_ms = started + (pkg.def.max_duration_secs as i64) * 1000 - now_ms();
        let deadline = Instant::now() + Duration::from_millis(left_ms.max(0) as u64) + DEADLINE_GRACE;
        if self.store().target(t.id).await?.state == TargetState::Rebooting {
            // the machine rebooted for a reboot step: it is waited for again
            let m = format!("the server restarted while asset '{}' rebooted; waiting for it again", asset.name);
            self.store().note(t.id, &m, now_ms()).await?;
            return match self.resume_after_reboot(t, d, pkg, &access, deadline, notify).await? {
                Some(mut task) => self.follow(t, d, pkg, &access, &mut task, deadline, notify).await,
                None => Ok(()),
            };
        }
        let found = self.on_task(&access, &task, t, &remote::check(&task.dir)).await?.ok();
        if let Some(Record { alive: false, reports }) = found
            && !self.store().target(t.id).await?.state.is_final()
        {
            if reports == 0 {
                // `running` is recorded before the task is created (so that a crash
                // during its creation is looked for): no record at all means its deployer
                // never started, so nothing of the package ran there
                return Err(super::start_over(format!(
                    "no task of this target ever started on asset '{}' (the server stopped, or lost its database, before creating it): it starts over",
                    asset.name
                )));
            }
            return Err(stop(
                TargetState::Failed,
                FailureCode::TaskVanished,
                format!(
                    "the server restarted while this target ran, and no task runs on asset '{}' that reported an end (it may never have started, or it was killed)",
                    asset.name
                ),
            ));
        }
        self.follow(t, d, pkg, &access, &mut task, deadline, notify).await
    }

    /// Watches the task to the target's end, through the reboots its reboot steps make
    /// (the task is created again after each), then does what follows a success.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn follow(
        &self,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
        a: &Access,
        task: &mut Task,
        deadline: Instant,
        notify: &Notify,
    ) -> Result<(), Stop> {
        loop {
            match self.wait_for_end(t, a, task, deadline, notify, pkg.def.max_duration_secs).await? {
                Watched::Ended => break,
                Watched::Rebooting => match Box::pin(self.resume_after_reboot(t, d, pkg, a, deadline, notify)).await? {
                    Some(next) => *task = next,
                    None => return Ok(()),
                },
            }
        }
        Box::pin(self.after_success(t, a, pkg)).await;
        Ok(())
    }

    pub(super) async fn wait_for_end(
        &self,
        t: &Target,
        a: &Access,
        task: &Task,
        deadline: Instant,
        notify: &Notify,
        max_secs: u64,
    ) -> Result<Watched, Stop> {
        let mut unreachable_noted = false;
        loop {
            if let Some(message) = self.take_cancel(t.id) {
                let how = match self.end_task(a, task, t).await? {
                    Ok(()) => "the task and its processes were killed".to_string(),
                    Err(e) => format!("the asset could not be reached to end the task ({e})"),
                };
                return Err(stop(TargetState::Cancelled, FailureCode::Cancelled, format!("{message}; {how}")));
            }
            let now = self.store().target(t.id).await?;
            if now.state.is_final() {
                return Ok(Watched::Ended);
            }
            if let Some(other) = now.server.as_deref().filter(|s| *s != self.config().node_name) {
                return Err(super::released(format!(
                    "node {other} took over target {} while this node watched it",
                    t.id
                )));
            }
            if now.state == TargetState::Rebooting {
                return Ok(Watched::Rebooting);
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = sleep(self.config().liveness_interval) => {
                    let alive = self.check_task(a, task, t).await?;
                    if alive.is_none() && !unreachable_noted {
                        unreachable_noted = true;
                        let m = format!(
                            "asset '{}' stopped answering over SSH; waiting for its task until the max duration of {max_secs} s",
                            a.asset.name
                        );
                        self.store().note(t.id, &m, now_ms()).await?;
                    }
                    if let Some(false) = alive {
                        // its record, just read, may say it ended or rebooted
                        let now = self.store().target(t.id).await?;
                        if now.state.is_final() {
                            return Ok(Watched::Ended);
                        }
                        if now.state == TargetState::Rebooting {
                            return Ok(Watched::Rebooting);
                        }
                        let last = self.store().target(t.id).await?.last_step;
                        return Err(stop(TargetState::Failed, FailureCode::TaskVanished, format!(
                            "the deployer on asset '{}' stopped without reporting an end (killed, or the machine restarted){}; nothing of this task runs there any more",
                            a.asset.name,
                            last.map(|s| format!(" after step '{s}'")).unwrap_or_default(),
                        )));
                    }
                }
                _ = sleep_until(deadline) => {
                    let ended = self.end_task(a, task, t).await?;
                    if self.store().target(t.id).await?.state.is_final() {
                        return Ok(Watched::Ended);
                    }
                    return Err(match ended {
                        Ok(()) => stop(TargetState::TimedOut, FailureCode::MaxDuration, format!(
                            "ran longer than the package's max duration of {max_secs} s; the task and its processes were killed"
                        )),
                        // The task may have gone on and ended well: the deployer stops it
                        // at the deadline itself and keeps its record, which is read when
                        // the machine is reached again.
                        Err(e) => stop(TargetState::TimedOut, FailureCode::UnreachableOutcomeUnknown, format!(
                            "asset '{}' could not be reached at the max duration of {max_secs} s ({e}), so whether its task succeeded is not known yet; \
                             the deployer stops it at that deadline by itself, and drover reads its record when it reaches the machine again \
                             (a relaunch, another deployment to it, or the check of unreachable targets every minute)",
                            a.asset.name
                        )),
                    });
                }
            }
        }
    }

    /// Collects the record over SSH and tells whether the task still runs (None: the
    /// asset could not be reached, so nothing is known). Err: the store is unavailable.
    pub(super) async fn check_task(&self, a: &Access, task: &Task, t: &Target) -> Result<Option<bool>, Stop> {
        // boxed (as is `end_task`'s): a watched task's driver waits mostly, and holds only a pointer
        Ok(Box::pin(self.on_task(a, task, t, &remote::check(&task.dir))).await?.ok().map(|r| r.alive))
    }

    /// Kills the task on the target and collects what it recorded.
    async fn end_task(&self, a: &Access, task: &Task, t: &Target) -> Result<Result<(), SshError>, Stop> {
        Ok(Box::pin(self.on_task(a, task, t, &remote::kill(&task.dir, &task.unit))).await?.map(|_| ()))
    }

    /// Runs a script that prints the task's record on its own connection, applies the
    /// reports it finds, and tells whether the task was alive. The outer error: a report
    /// could not be stored because the store is unavailable (so what the record says is
    /// not known to the server yet).
    async fn on_task(
        &self,
        a: &Access,
        task: &Task,
        t: &Target,
        call: &Call,
    ) -> Result<Result<Record, SshError>, Stop> {
        let session = match self.connect(a).await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let (cmd, stdin) = remote::command(call, task.privilege.as_ref());
        let out = session.exec(cmd, stdin, SCRIPT_TIMEOUT).await;
        session.close().await;
        let out = match out {
            Ok(o) => o,
            Err(e) => return Ok(Err(e)),
        };
        let (reports, alive) = remote::parse_record(&String::from_utf8_lossy(&out.stdout));
        for r in &reports {
            match self.apply_report(t.id, r, Via::Record).await {
                Ok(()) => {}
                Err(e @ crate::EngineError::Unavailable(_)) => return Err(e.into()),
                Err(e) => tracing::warn!(target_id = %t.id, "collected report not applied: {e}"),
            }
        }
        Ok(Ok(Record { alive, reports: reports.len() }))
    }
}

/// What a look at a task found: whether its deployer runs, and how many reports its
/// record holds (none: it never started).
#[derive(Debug, Clone, Copy)]
struct Record {
    alive: bool,
    reports: usize,
}
