//! The task that drives one deployment target, from its start (or its resumption after a
//! restart) to its recorded end. The steps live in the files of `target/`: reaching the
//! machine, logging in, launching the task, watching it, and what follows a success.

mod after;
mod hostile;
mod launch;
mod login;
mod reach;
mod reboot;
mod reconcile;
mod watch;

pub(crate) use reconcile::Learned;

use super::remote::{self, Call, Privilege};
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::asset::Asset;
use drover_domain::deployment::{Deployment, Target, TargetState};
use drover_domain::package::Package;
use drover_ssh::{Session, SshError};
use drover_store::TargetUpdate;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Why a target ended before its task reported: the final state, a message that says
/// what to do, and a stable code.
struct Stop {
    state: TargetState,
    message: String,
    code: FailureCode,
    /// The store could not be used: the target did not end, the driver picks it up
    /// again when the store is back.
    store_down: bool,
    /// Another node drives the target now (it took it over while this node could not
    /// renew its lease): this node lets it go without ending it.
    released: bool,
    /// The target was `running` but its task was never created (nothing of it on the
    /// machine): it starts over; the message says why, in its log.
    again: bool,
}

fn stop(state: TargetState, code: FailureCode, message: impl Into<String>) -> Stop {
    Stop { state, message: message.into(), code, store_down: false, released: false, again: false }
}

/// The stop of a target that starts over: `why` goes to its log.
fn start_over(why: String) -> Stop {
    Stop { again: true, ..stop(TargetState::Connecting, FailureCode::ServerInternal, why) }
}

/// The stop of a target another node drives now; `why` says what this node saw.
fn released(why: String) -> Stop {
    Stop { released: true, ..stop(TargetState::Failed, FailureCode::ServerInternal, why) }
}

impl From<crate::EngineError> for Stop {
    fn from(e: crate::EngineError) -> Self {
        let store_down = matches!(e, crate::EngineError::Unavailable(_));
        Stop { store_down, ..stop(TargetState::Failed, FailureCode::ServerInternal, e.to_string()) }
    }
}

/// The wait before try `attempt` (1-based) of a store call that found the database
/// unavailable: 250 ms doubling up to 5 s, and so on while it stays away.
pub(crate) fn store_backoff(attempt: u32) -> Duration {
    let ms = 250u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    Duration::from_millis(ms.min(5_000))
}

impl From<drover_store::StoreError> for Stop {
    fn from(e: drover_store::StoreError) -> Self {
        crate::EngineError::from(e).into()
    }
}

/// A target whose task runs: what following it needs, with its deployment thread. The
/// driver that created the task returns it and is dropped, so a running target holds
/// only this and the follower's state (a node may have thousands running).
pub(super) struct Following<'a> {
    _thread: crate::threads::Thread<'a>,
    access: login::Access,
    task: Task,
    deadline: Instant,
}

/// The task on the target, once created.
struct Task {
    dir: String,
    unit: String,
    privilege: Option<Privilege>,
}

/// Time allowed for the deployer to report its own timeout before the server ends the task.
const DEADLINE_GRACE: Duration = Duration::from_secs(10);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

impl Engine {
    /// Drives (with `resume`: after a restart, watches again the task the previous run
    /// created) a target and records how it ended. When the store cannot be
    /// used (PostgreSQL restarting, SQLite busy or full), the target does not fail: once
    /// the store is back, it is picked up as after a server restart (a running task is
    /// watched again and its record collected, so nothing runs twice and no report is
    /// lost).
    ///
    /// A target's driver task holds this future for as long as the target runs, often
    /// thousands at once: each phase and store call is boxed and the target too, so the
    /// task itself stays a few hundred bytes.
    pub(super) async fn run(self, mut t: Box<Target>, d: Arc<Deployment>, pkg: Arc<Package>, mut resume: bool) {
        let notify = self.waiter(t.id, &pkg);
        loop {
            let driven = if resume {
                let _thread = self.inner.threads.acquire(d.id.0 as u64).await;
                Box::pin(self.resume(&t, &d, &pkg, &notify)).await
            } else {
                // each phase boxed and dropped when it ends: a running target holds only
                // the follower's state, not the driver's
                match Box::pin(self.drive(&t, &d, &pkg, &notify)).await {
                    Ok(Some(mut running)) => {
                        let Following { access, task, deadline, .. } = &mut *running;
                        Box::pin(self.follow(&t, &d, &pkg, access, task, *deadline, &notify)).await
                    }
                    Ok(None) => Ok(()),
                    Err(s) => Err(s),
                }
            };
            match driven {
                Ok(()) => break,
                Err(s) if s.released => {
                    tracing::warn!(target_id = %t.id, "{}; this node lets it go", s.message);
                    break;
                }
                Err(s) if s.again => {
                    if Box::pin(self.store_retry(|| self.store().note(t.id, &s.message, now_ms()))).await.is_none() {
                        break;
                    }
                    let Some(current) = Box::pin(self.store_retry(|| self.store().target(t.id))).await else { break };
                    if current.state.is_final() {
                        break;
                    }
                    resume = false;
                    *t = current;
                }
                Err(s) if s.store_down => {
                    tracing::warn!(target_id = %t.id, "the store is unavailable ({}); the target waits for it", s.message);
                    let Some(current) = Box::pin(self.store_retry(|| self.store().target(t.id))).await else { break };
                    if current.state.is_final() {
                        break;
                    }
                    resume = matches!(current.state, TargetState::Running | TargetState::Rebooting);
                    *t = current;
                }
                Err(s) => {
                    Box::pin(self.store_retry(|| self.end_target(t.id, s.state, &s.message, Some(s.code)))).await;
                    break;
                }
            }
        }
        self.drop_waiter(t.id);
        Box::pin(self.store_retry(|| self.store().finish_deployment_if_done(d.id, now_ms()))).await;
    }

    /// Runs a store call until the store answers: again with [`store_backoff`] while it
    /// is unavailable. Any other error is logged and yields None.
    pub(crate) async fn store_retry<T, E, F, Fut>(&self, mut call: F) -> Option<T>
    where
        E: Into<crate::EngineError>,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            // boxed: the callers (a target's driver among them) keep a pointer, not the call
            match Box::pin(call()).await.map_err(Into::into) {
                Ok(v) => return Some(v),
                Err(crate::EngineError::Unavailable(m)) => {
                    attempt += 1;
                    if attempt == 1 || attempt % 20 == 0 {
                        tracing::warn!("the store is unavailable ({m}); trying again (attempt {attempt})");
                    }
                    tokio::time::sleep(store_backoff(attempt)).await;
                }
                Err(e) => {
                    tracing::error!("store call failed: {e}");
                    return None;
                }
            }
        }
    }

    /// Logs in and creates the task, holding a deployment thread: what following it needs.
    async fn deploy_to<'a>(
        &self,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
        asset: Asset,
        thread: crate::threads::Thread<'a>,
    ) -> Result<Box<Following<'a>>, Stop> {
        // each step boxed: a running target's driver holds only the step it is in
        let (session, access) = Box::pin(self.log_in(asset)).await?;
        // what earlier tasks on this machine did, while it could not be reached, is
        // learned before anything new runs there
        let why = format!("deployment {} reached the machine", d.id);
        if let Err(e) = Box::pin(self.reconcile_asset(access.asset.id, &why)).await {
            if matches!(e, crate::EngineError::Unavailable(_)) {
                Box::pin(session.close()).await;
                return Err(e.into());
            }
            tracing::warn!(target_id = %t.id, "cannot reconcile earlier targets of asset '{}': {e}", access.asset.name);
        }
        let update = TargetUpdate {
            credential: Some(access.credential.name.clone()),
            server: Some(self.config().node_name.clone()),
            ..Default::default()
        };
        Box::pin(self.store().update_target(t.id, &update, now_ms())).await?;
        // the deadline counts from before the task is created: a launch that hangs (a
        // cable cut while it answers) uses up the target's time, not more
        let deadline = Instant::now() + Duration::from_secs(pkg.def.max_duration_secs) + DEADLINE_GRACE;
        let task = Box::pin(self.create_task(&session, &access, t, d, pkg, None)).await;
        Box::pin(session.close()).await;
        Ok(Box::new(Following { _thread: thread, access, task: task?, deadline }))
    }
}

/// How a script run on the target went wrong.
enum ScriptError {
    /// The SSH connection or channel failed: the script may or may not have run.
    Ssh(SshError),
    /// The script ran and exited with another status than 0.
    Failed { status: Option<u32>, stderr: String },
}

impl ScriptError {
    /// The stop for this error: an SSH failure by its own code, a failure the script
    /// named by that code, another failed script with `code`, saying `what` failed and with the script's error output.
    fn into_stop(self, asset: &Asset, code: FailureCode, what: &str) -> Stop {
        // a failure the script named itself (read-only, full, noexec) has its own code
        if let ScriptError::Failed { stderr, .. } = &self
            && let Some(f) = remote::parse_failure(stderr)
        {
            return hostile::script_failure(asset, &f);
        }
        match self {
            ScriptError::Ssh(e) => ssh_stop(asset, e),
            ScriptError::Failed { status, stderr } => stop(
                TargetState::Failed,
                code,
                format!(
                    "{what} on asset '{}' (exit status {}): {}",
                    asset.name,
                    status.map_or("none".into(), |s| s.to_string()),
                    if stderr.is_empty() { "no error output" } else { &stderr }
                ),
            ),
        }
    }
}

/// What a failed script of drover's is said to be.
const COMMAND_FAILED: &str = "a command drover runs on the target failed";

/// Runs a script on the target, with `input` on its stdin, and returns its stdout.
async fn run_script(
    session: &Session,
    call: &Call,
    privilege: Option<&Privilege>,
    input: &[u8],
) -> Result<String, ScriptError> {
    run_script_within(session, call, privilege, input, SCRIPT_TIMEOUT).await.and_then(succeeded)
}

/// A script's output when it exited 0, else the failure with its error output.
fn succeeded(out: drover_ssh::ExecOutput) -> Result<String, ScriptError> {
    if out.exit_status == Some(0) {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(ScriptError::Failed { status: out.exit_status, stderr })
}

/// Runs a script on the target, with `input` on its stdin, for at most `limit`, and
/// returns what it printed and its exit status, whatever it is.
async fn run_script_within(
    session: &Session,
    call: &Call,
    privilege: Option<&Privilege>,
    input: &[u8],
    limit: Duration,
) -> Result<drover_ssh::ExecOutput, ScriptError> {
    let (cmd, mut stdin) = remote::command(call, privilege);
    stdin.extend_from_slice(input);
    session.exec(cmd, stdin, limit).await.map_err(ScriptError::Ssh)
}

/// Runs one of drover's scripts; a failure stops the target with the script's own
/// error output (`target.remote_command_failed`).
async fn exec(
    session: &Session,
    asset: &Asset,
    call: &Call,
    privilege: Option<&Privilege>,
    input: &[u8],
) -> Result<String, Stop> {
    exec_within(session, asset, call, privilege, input, SCRIPT_TIMEOUT).await
}

/// [`exec`] for at most `limit`.
async fn exec_within(
    session: &Session,
    asset: &Asset,
    call: &Call,
    privilege: Option<&Privilege>,
    input: &[u8],
    limit: Duration,
) -> Result<String, Stop> {
    run_script_within(session, call, privilege, input, limit)
        .await
        .and_then(succeeded)
        .map_err(|e| e.into_stop(asset, FailureCode::RemoteCommandFailed, COMMAND_FAILED))
}

/// The failure code of an SSH error (one place, so a new SSH error needs a code here).
fn ssh_failure(e: &SshError) -> FailureCode {
    match e {
        SshError::Unreachable { .. } => FailureCode::SshUnreachable,
        SshError::Timeout { .. } => FailureCode::SshTimeout,
        SshError::HostKeyMismatch { .. } => FailureCode::SshHostKeyMismatch,
        SshError::HostKeyUnknown { .. } => FailureCode::SshHostKeyUnknown,
        SshError::AuthFailed { .. } => FailureCode::SshAuthFailed,
        SshError::BadKey(_) => FailureCode::SshBadKey,
        SshError::Protocol(_) => FailureCode::SshProtocol,
    }
}

fn ssh_stop(asset: &Asset, e: SshError) -> Stop {
    let state = match e {
        SshError::Unreachable { .. } => TargetState::Offline,
        _ => TargetState::Failed,
    };
    let mut message = format!("asset '{}': {e}", asset.name);
    if matches!(e, SshError::HostKeyMismatch { .. }) {
        message.push_str(&format!(
            ". If the machine was reinstalled, an admin checks its new key on the machine and accepts it with `drover asset accept-key {} --fingerprint SHA256:…`",
            asset.name
        ));
    }
    stop(state, ssh_failure(&e), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_outages_are_retried_with_backoff() {
        let waits: Vec<u64> = (1..=8).map(|a| store_backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(store_backoff(u32::MAX), Duration::from_secs(5));
        let down: Stop = crate::EngineError::Unavailable("restarting".into()).into();
        assert!(down.store_down, "an unavailable store does not end the target");
        let other: Stop = crate::EngineError::Internal("x".into()).into();
        assert!(!other.store_down);
    }

    #[test]
    fn ssh_errors_keep_their_own_codes() {
        let s = String::new;
        let all = [
            SshError::Unreachable { host: s(), port: 22, reason: s() },
            SshError::Timeout { what: s() },
            SshError::HostKeyMismatch { host: s(), expected_fingerprint: s(), presented_fingerprint: s() },
            SshError::HostKeyUnknown { host: s(), fingerprint: s() },
            SshError::AuthFailed { user: s(), host: s(), method: s() },
            SshError::BadKey(s()),
            SshError::Protocol(s()),
        ];
        for e in all {
            assert_eq!(ssh_failure(&e).as_str(), e.code(), "{e:?}");
        }
    }
}
