//! Launching the task: learn the host, check sudo, upload the deployer when this build is
//! not there yet, write the job and create the detached task under the run-mode account.

use super::hostile;
use super::login::{Access, check_sudo, run_account};
use super::{ScriptError, Stop, Task, exec, run_script, run_script_output, stop};
use crate::deploy::remote::{self, Facts, LaunchPlan, Launcher};
use crate::secrets::{new_token, token_hash};
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::deployment::{Deployment, Target, TargetState};
use drover_domain::package::Package;
use drover_proto::{Job, PROTOCOL_VERSION};
use drover_ssh::Session;
use drover_store::TargetUpdate;

/// How long past its deadline a deployer keeps trying undelivered reports.
const REPORT_GRACE_MS: i64 = 10 * 60 * 1000;

/// A task created again after a reboot step: where the package goes on, and the
/// deadline of the first task (the max duration counts from the first start).
#[derive(Debug, Clone, Copy)]
pub(super) struct Resume {
    pub start_at: usize,
    pub deadline_ms: i64,
}

impl Engine {
    /// Learns the target, puts the deployer and the job there and starts the task.
    pub(super) async fn create_task(
        &self,
        session: &Session,
        a: &Access,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
        resume: Option<Resume>,
    ) -> Result<Task, Stop> {
        let facts = learn_facts(session, a, self.inner.deployers.hashes()).await?;
        self.store().record_facts(a.asset.id, &facts.host_facts(), now_ms()).await?;
        let arch = facts.arch.as_deref().unwrap_or("unknown");
        let Some(build) = self.inner.deployers.for_arch(arch) else {
            return Err(stop(
                TargetState::Failed,
                FailureCode::UnsupportedArch,
                format!(
                    "asset '{}' is a {arch} machine and this server has no deployer for {arch} (it has {}): build drover-deployer for {arch} (static, e.g. `cargo build --release -p drover-deployer --target {arch}-unknown-linux-musl` on a machine that has that target), put it in the folder given to --deployer, restart the server and deploy again; nothing was put on the machine",
                    a.asset.name,
                    self.inner.deployers.arches().join(", ")
                ),
            ));
        };
        let sha256 = &build.sha256;

        let (run_as, privilege) = run_account(d.run_mode, &facts, a)?;
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
        if !installed.contains(&drover_proto::workdir::deployer_file(sha256)) {
            let upload = remote::upload(&base, &deployer, sha256);
            exec(session, &a.asset, &upload, privilege.as_ref(), &build.bytes).await?;
        }

        let server_url = self.server_url(&facts)?;
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
        };
        let job_json = serde_json::to_vec(&job)
            .map_err(|e| stop(TargetState::Failed, FailureCode::ServerInternal, e.to_string()))?;
        let dir = remote::target_dir(&base, t.id);
        let unit = format!("drover-target-{}", t.id);
        let launcher = Launcher::pick(&facts, as_root);
        let who = run_as.clone().unwrap_or_else(|| if as_root { "root".into() } else { facts.user.clone() });
        let mut msg = format!("creating the task as {who} with {} ({} mode)", launcher.name(), d.run_mode);
        if let Some(r) = resume {
            msg = format!("asset '{}' restarted: the package goes on at step {}; {msg}", a.asset.name, r.start_at + 1);
        }
        // Recorded before the task exists, so that after a crash the server knows where
        // to look whether or not the launch went through.
        // Confirmed before the task exists: a node whose lease ended (cut off from the
        // database) may have had this target taken over, and creates nothing.
        if !self.claim(t.id).await? {
            return Err(super::released(format!(
                "target {} is no longer this node's (its lease ended, or another node took it over) before its task was created",
                t.id
            )));
        }
        let u = TargetUpdate { work_dir: Some(dir.clone()), boot_marker: facts.boot.clone(), ..Default::default() };
        self.store().update_target(t.id, &u, now_ms()).await?;
        if self.store().transition(t.id, TargetState::Running, &msg, None, now_ms()).await?.is_none() {
            return Err(stop(TargetState::Cancelled, FailureCode::Cancelled, "cancelled before its task was created"));
        }
        let resume = resume.is_some();
        let plan =
            LaunchPlan { dir: &dir, deployer: &deployer, run_as: run_as.as_deref(), launcher, unit: &unit, resume };
        let out = match run_script(session, &remote::launch(&plan), privilege.as_ref(), &job_json).await {
            Ok(out) => out,
            // The connection broke during the launch: the task may have started. It is
            // watched like any task (the checks tell whether it runs), not failed blindly.
            Err(ScriptError::Ssh(e)) => {
                let m = format!(
                    "the connection broke while the task was being created (asset '{}': {e}); watching for it",
                    a.asset.name
                );
                self.store().note(t.id, &m, now_ms()).await?;
                String::new()
            }
            Err(e) => {
                return Err(e.into_stop(
                    &a.asset,
                    FailureCode::RemoteCommandFailed,
                    "a command drover runs on the target failed",
                ));
            }
        };
        let pid = out.lines().find_map(|l| l.strip_prefix("pid=")).and_then(|p| p.trim().parse::<i64>().ok());
        let u = TargetUpdate { pid, ..Default::default() };
        self.store().update_target(t.id, &u, now_ms()).await?;
        Ok(Task { dir, unit, privilege })
    }

    /// The URL deployers call back: the configured one, or the address the target sees
    /// this server at with the listening port.
    fn server_url(&self, facts: &Facts) -> Result<String, Stop> {
        if let Some(url) = &self.config().public_url {
            return Ok(url.trim_end_matches('/').to_string());
        }
        let port = self.inner.listen_port.load(std::sync::atomic::Ordering::Relaxed);
        match (&facts.client_ip, port) {
            (Some(ip), p) if p != 0 => {
                let host = if ip.contains(':') { format!("[{ip}]") } else { ip.clone() };
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

/// Runs the facts script as the login user. A login shell that cannot run `sh` ends the
/// target with `target.no_shell` (nothing was put on the machine); another failure with
/// `target.remote_command_failed`.
async fn learn_facts<'a>(
    session: &Session,
    a: &Access,
    deployer_hashes: impl IntoIterator<Item = &'a str>,
) -> Result<Facts, Stop> {
    let call = remote::facts(deployer_hashes);
    let out = run_script_output(session, &call, None, &[]).await.map_err(|e| {
        e.into_stop(&a.asset, FailureCode::RemoteCommandFailed, "a command drover runs on the target failed")
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if remote::shell_missing(out.exit_status, &stdout) {
        return Err(hostile::no_shell(&a.asset, &a.credential.username, out.exit_status, &stderr));
    }
    if out.exit_status != Some(0) {
        let e = ScriptError::Failed { status: out.exit_status, stderr };
        return Err(e.into_stop(
            &a.asset,
            FailureCode::RemoteCommandFailed,
            "a command drover runs on the target failed",
        ));
    }
    Ok(remote::parse_facts(&stdout))
}
