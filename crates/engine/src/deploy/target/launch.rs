//! Launching the task: in the common case one exec (`start.sh`) learns the host, finds
//! the deployer there, writes the job and creates the detached task; otherwise the server
//! goes on from the facts it learnt: it checks sudo, uploads the deployer when this build
//! is not there yet, and launches the task under the run-mode account.

use super::hostile;
use super::login::{Access, check_sudo, run_account};
use super::{COMMAND_FAILED, SCRIPT_TIMEOUT, ScriptError, Stop, Task, exec_within, run_script_within, ssh_stop, stop};
use crate::deploy::remote::{self, Facts, LaunchPlan, Launcher, Need, Start, StartPlan};
use crate::secrets::{new_token, token_hash};
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::credential::SudoMode;
use drover_domain::deployment::{Deployment, RunMode, Target, TargetState};
use drover_domain::package::Package;
use drover_proto::{Job, PROTOCOL_VERSION, workdir};
use drover_ssh::Session;
use drover_store::TargetUpdate;
use std::time::Duration;

/// How long past its deadline a deployer keeps trying undelivered reports.
const REPORT_GRACE_MS: i64 = 10 * 60 * 1000;

/// A task created again after a reboot step: where the package goes on, and the
/// deadline of the first task (the max duration counts from the first start).
#[derive(Debug, Clone, Copy)]
pub(super) struct Resume {
    pub start_at: usize,
    pub deadline_ms: i64,
}

/// How long the scripts that create a task may take: the time left to the target's
/// deadline (with the grace the deployer has to report its own timeout), at most a
/// script's usual limit and at least a second. A machine cut off while they answer so
/// holds its target no longer than its max duration allows.
pub(super) fn launch_limit(deadline_ms: i64, now_ms: i64) -> Duration {
    let left = deadline_ms.saturating_add(super::DEADLINE_GRACE.as_millis() as i64).saturating_sub(now_ms);
    Duration::from_millis(left.max(1_000) as u64).min(SCRIPT_TIMEOUT)
}

/// What the start script is told about the account, from the run mode and credential.
fn need(mode: RunMode, a: &Access) -> Need {
    match mode {
        RunMode::ScanningCredential => Need::User,
        RunMode::System => Need::Root { sudo: a.credential.sudo == SudoMode::NoPassword },
        // the console user is picked by the server's rules (`sessions`)
        RunMode::LoggedOnUser => Need::Server,
    }
}

/// What the task needs, prepared before the host is learnt.
struct Prepared {
    job_json: Vec<u8>,
    unit: String,
    /// The job's deadline (unix ms): the scripts that create the task end before it.
    deadline_ms: i64,
    /// The target is `running` already (its task may be created by the first exec).
    running: bool,
}

impl Engine {
    /// Learns the target, puts the deployer and the job there and starts the task: one
    /// exec when the deployer is there and the run account needs no check, more otherwise.
    pub(super) async fn create_task(
        &self,
        session: &Session,
        a: &Access,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
        resume: Option<Resume>,
    ) -> Result<Task, Stop> {
        let need = need(d.run_mode, a);
        let mut prep = self.prepare(session, a, t, d, pkg, resume).await?;
        let unit = prep.unit.clone();
        if need != Need::Server {
            // before the task may exist: a crash after this knows where to look (a home
            // folder as the target's shell names it, until it is learnt), and a cancel
            // that came first is seen
            let (dir, who) = match need {
                Need::User => (
                    format!("{}/{}/{}", super::watch::LEGACY_HOME_BASE, workdir::TARGETS, t.id),
                    a.credential.username.as_str(),
                ),
                _ => (remote::target_dir(workdir::ROOT_BASE, t.id), "root"),
            };
            self.mark_running(t, d, &a.asset.name, &dir, None, resume, &format!("as {who}")).await?;
            prep.running = true;
        }
        let plan = StartPlan {
            root_base: workdir::ROOT_BASE,
            target: t.id,
            need,
            unit: &unit,
            resume: resume.is_some(),
            builds: self.inner.deployers.builds().collect(),
        };
        let limit = launch_limit(prep.deadline_ms, now_ms());
        let out = match run_script_within(session, &remote::start(&plan), None, &prep.job_json, limit).await {
            Ok(out) => out,
            Err(ScriptError::Ssh(e)) if prep.running => return self.lost_at_start(a, t, need, &unit, e).await,
            Err(e) => return Err(e.into_stop(&a.asset, FailureCode::RemoteCommandFailed, COMMAND_FAILED)),
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if remote::shell_missing(out.exit_status, &stdout) {
            return Err(hostile::no_shell(&a.asset, &a.credential.username, out.exit_status, &stderr));
        }
        let facts = remote::parse_facts(&stdout);
        if facts.uid.is_some() {
            self.store().record_facts(a.asset.id, &facts.host_facts(), now_ms()).await?;
        }
        if out.exit_status != Some(0) {
            let e = ScriptError::Failed { status: out.exit_status, stderr };
            return Err(e.into_stop(&a.asset, FailureCode::RemoteCommandFailed, COMMAND_FAILED));
        }
        match remote::parse_start(&stdout) {
            Some(Start::Launched { launcher, dir }) => {
                let privilege = match need {
                    Need::User => None,
                    _ => a.privilege(facts.uid == Some(0)),
                };
                let pid = remote::launched_pid(&stdout);
                let u = TargetUpdate {
                    work_dir: Some(dir.clone()),
                    boot_marker: facts.boot.clone(),
                    pid,
                    ..Default::default()
                };
                self.store().update_target(t.id, &u, now_ms()).await?;
                // (in the server's log only: a note per target would be one more store
                // write, and one more entry than the state change, in every target's log)
                let who = if privilege.is_some() { "root" } else { facts.user.as_str() };
                tracing::info!(target_id = %t.id, "the task runs as {who} with {launcher} (pid {pid:?}) in {dir}");
                Ok(Task { dir, unit, privilege })
            }
            _ => self.launch_from_facts(session, a, t, d, &facts, resume, prep).await,
        }
    }

    /// Everything the job needs, known before the host is: the server's URL (the address
    /// the connection comes from, unless `--public-url` says), the share, fresh tokens
    /// and the deadline.
    async fn prepare(
        &self,
        session: &Session,
        a: &Access,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
        resume: Option<Resume>,
    ) -> Result<Prepared, Stop> {
        let server_url = self.server_url(session.local_ip().map(|ip| ip.to_string()).as_deref())?;
        // a share location for the target's address, else the server's own share
        let (share_url, share_cert_sha256) = match self.share_for(&a.asset.address).await? {
            Some(l) => {
                let m = format!("package files from the share of {} at {}", l.range, l.url);
                self.store().note(t.id, &m, now_ms()).await?;
                (l.url, l.cert_sha256)
            }
            None => (format!("{server_url}/share/v1"), self.config().tls_sha256.clone()),
        };
        // fresh tokens each time: those of a task before a reboot are no longer valid
        let (report_token, share_token) = (new_token(), new_token());
        let deadline_ms =
            resume.map_or_else(|| now_ms() + (pkg.def.max_duration_secs as i64) * 1000, |r| r.deadline_ms);
        self.store().set_tokens(t.id, &token_hash(&report_token), &token_hash(&share_token)).await?;
        let job = Job {
            protocol: PROTOCOL_VERSION,
            target_id: t.id.0,
            deployment_id: d.id.0,
            package_name: pkg.def.name.clone(),
            package_version: pkg.def.version.clone(),
            steps: pkg.def.steps.clone(),
            files: pkg.files.clone(),
            share_url,
            server_url,
            report_token,
            share_token,
            deadline_unix_ms: deadline_ms,
            start_at: resume.map_or(0, |r| r.start_at),
            // undelivered reports are tried 10 minutes past the deadline: the server takes
            // them late from a machine it could not reach
            report_until_unix_ms: Some(deadline_ms + REPORT_GRACE_MS),
            // the deployer talks to no server but the one with this certificate
            server_cert_sha256: self.config().tls_sha256.clone(),
            share_cert_sha256,
            other_servers: self.other_servers(),
        };
        let job_json = serde_json::to_vec(&job)
            .map_err(|e| stop(TargetState::Failed, FailureCode::ServerInternal, e.to_string()))?;
        Ok(Prepared { job_json, unit: format!("drover-target-{}", t.id), deadline_ms, running: false })
    }

    /// Records where the task goes and moves the target to `running`; a target cancelled
    /// first stops here.
    #[allow(clippy::too_many_arguments)]
    async fn mark_running(
        &self,
        t: &Target,
        d: &Deployment,
        asset: &str,
        dir: &str,
        boot: Option<String>,
        resume: Option<Resume>,
        how: &str,
    ) -> Result<(), Stop> {
        let mut msg = format!("creating the task {how} ({} mode)", d.run_mode);
        if let Some(r) = resume {
            msg = format!("asset '{asset}' restarted: the package goes on at step {}; {msg}", r.start_at + 1);
        }
        // Confirmed before the task exists: a node whose lease ended (cut off from the
        // database) may have had this target taken over, and creates nothing.
        if !self.claim(t.id).await? {
            return Err(super::released(format!(
                "target {} is no longer this node's (its lease ended, or another node took it over) before its task was created",
                t.id
            )));
        }
        let u = TargetUpdate { work_dir: Some(dir.to_string()), boot_marker: boot, ..Default::default() };
        self.store().update_target(t.id, &u, now_ms()).await?;
        if self.store().transition(t.id, TargetState::Running, &msg, None, now_ms()).await?.is_none() {
            return Err(stop(TargetState::Cancelled, FailureCode::Cancelled, "cancelled before its task was created"));
        }
        Ok(())
    }

    /// The connection broke while the start script ran: the task may have started. It is
    /// watched like any task (the checks tell whether it runs), not failed blindly.
    async fn lost_at_start(
        &self,
        a: &Access,
        t: &Target,
        need: Need,
        unit: &str,
        e: drover_ssh::SshError,
    ) -> Result<Task, Stop> {
        let (dir, privilege) = match need {
            Need::User => match self.home_base(a).await {
                Some(base) => (remote::target_dir(&base, t.id), None),
                None => return Err(ssh_stop(&a.asset, e)),
            },
            _ => (remote::target_dir(workdir::ROOT_BASE, t.id), a.privilege(a.credential.username == "root")),
        };
        self.store().note(t.id, &broke_while_creating(&a.asset.name, &e), now_ms()).await?;
        let u = TargetUpdate { work_dir: Some(dir.clone()), ..Default::default() };
        self.store().update_target(t.id, &u, now_ms()).await?;
        Ok(Task { dir, unit: unit.to_string(), privilege })
    }

    /// The rest of the way, when the start script left it to the server: the account by
    /// the run mode's rules, sudo checked, the deployer uploaded, then the launch.
    #[allow(clippy::too_many_arguments)]
    async fn launch_from_facts(
        &self,
        session: &Session,
        a: &Access,
        t: &Target,
        d: &Deployment,
        facts: &Facts,
        resume: Option<Resume>,
        prep: Prepared,
    ) -> Result<Task, Stop> {
        let arch = facts.arch.as_deref().unwrap_or("unknown");
        let Some(build) = self.inner.deployers.for_arch(arch) else {
            return Err(stop(
                TargetState::Failed,
                FailureCode::UnsupportedArch,
                format!(
                    "asset '{}' is a {arch} machine and this server has no deployer for {arch} (it has {}): build drover-deployer for {arch} (static, e.g. `cargo build --profile deployer -p drover-deployer --target {arch}-unknown-linux-musl` on a machine that has that target), put it in the folder given to --deployer, restart the server and deploy again; nothing was put on the machine",
                    a.asset.name,
                    self.inner.deployers.arches().join(", ")
                ),
            ));
        };
        let sha256 = &build.sha256;

        let (run_as, privilege) = run_account(d.run_mode, facts, a)?;
        if let Some(p) = privilege.as_ref().filter(|p| p.is_sudo()) {
            if !facts.sudo {
                return Err(hostile::no_sudo(&a.asset, &facts.user, &a.credential.name));
            }
            check_sudo(session, &a.asset, p).await?;
        }
        let as_root = privilege.is_some();
        let in_root_dir = as_root || facts.uid == Some(0);
        let base = match (in_root_dir, facts.home.as_deref()) {
            (true, _) => remote::base_dir(true, ""),
            (false, Some(home)) if home.starts_with('/') => remote::base_dir(false, home),
            (false, home) => {
                return Err(stop(
                    TargetState::Failed,
                    FailureCode::RemoteCommandFailed,
                    format!(
                        "user '{}' on asset '{}' has no home directory (HOME is '{}'), where drover keeps its files for a task that does not run as root: give the user a home, or set sudo on credential '{}'",
                        facts.user,
                        a.asset.name,
                        home.unwrap_or(""),
                        a.credential.name
                    ),
                ));
            }
        };
        let deployer = remote::deployer_path(&base, sha256);
        let installed = if in_root_dir { &facts.deployers_in_root_dir } else { &facts.deployers_in_home_dir };
        if !installed.contains(&workdir::deployer_file(sha256)) {
            let upload = remote::upload(&base, &deployer, sha256, facts.gzip);
            if facts.gzip {
                build.compress_once().await;
            }
            let bytes = if facts.gzip { build.gzipped() } else { &build.bytes };
            let limit = launch_limit(prep.deadline_ms, now_ms());
            exec_within(session, &a.asset, &upload, privilege.as_ref(), bytes, limit).await?;
        }

        let dir = remote::target_dir(&base, t.id);
        let launcher = Launcher::pick(facts, as_root);
        let who = run_as.clone().unwrap_or_else(|| if as_root { "root".into() } else { facts.user.clone() });
        let how = format!("as {who} with {}", launcher.name());
        if prep.running {
            let u = TargetUpdate { work_dir: Some(dir.clone()), boot_marker: facts.boot.clone(), ..Default::default() };
            self.store().update_target(t.id, &u, now_ms()).await?;
            tracing::info!(target_id = %t.id, "creating the task {how}");
        } else {
            self.mark_running(t, d, &a.asset.name, &dir, facts.boot.clone(), resume, &how).await?;
        }
        let plan = LaunchPlan {
            dir: &dir,
            deployer: &deployer,
            run_as: run_as.as_deref(),
            launcher,
            unit: &prep.unit,
            resume: resume.is_some(),
        };
        let limit = launch_limit(prep.deadline_ms, now_ms());
        let out =
            match run_script_within(session, &remote::launch(&plan), privilege.as_ref(), &prep.job_json, limit).await {
                Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
                Err(ScriptError::Ssh(e)) => {
                    self.store().note(t.id, &broke_while_creating(&a.asset.name, &e), now_ms()).await?;
                    String::new()
                }
                Err(e) => return Err(e.into_stop(&a.asset, FailureCode::RemoteCommandFailed, COMMAND_FAILED)),
            };
        let u = TargetUpdate { pid: remote::launched_pid(&out), ..Default::default() };
        self.store().update_target(t.id, &u, now_ms()).await?;
        Ok(Task { dir, unit: prep.unit, privilege })
    }

    /// The URL deployers call back: the configured one, or this end's address of the SSH
    /// connection (where the target sees it come from, unless a NAT is in between: then
    /// `--public-url` is needed) with the listening port.
    fn server_url(&self, local_ip: Option<&str>) -> Result<String, Stop> {
        if let Some(url) = &self.config().public_url {
            return Ok(url.trim_end_matches('/').to_string());
        }
        let port = self.inner.listen_port.load(std::sync::atomic::Ordering::Relaxed);
        match (local_ip, port) {
            (Some(ip), p) if p != 0 => {
                let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
                let scheme = if self.config().tls_sha256.is_some() { "https" } else { "http" };
                Ok(format!("{scheme}://{host}:{p}"))
            }
            _ => Err(stop(
                TargetState::Failed,
                FailureCode::NoPublicUrl,
                "the server does not know the address targets reach it at: set --public-url",
            )),
        }
    }
}

/// What a target's log says when the connection broke while its task was being created
/// (it may exist: it is watched for).
fn broke_while_creating(asset: &str, e: &drover_ssh::SshError) -> String {
    format!("the connection broke while the task was being created (asset '{asset}': {e}); watching for it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launch_is_bounded_by_the_deadline() {
        let now = 1_000_000;
        // a 20 s max duration: 20 s + the 10 s grace, not the 60 s a script may take
        assert_eq!(launch_limit(now + 20_000, now), Duration::from_secs(30));
        assert_eq!(launch_limit(now + 3_600_000, now), SCRIPT_TIMEOUT);
        // past the deadline: still a second to answer
        assert_eq!(launch_limit(now - 60_000, now), Duration::from_secs(1));
    }
}
