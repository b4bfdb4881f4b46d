//! The task that drives one deployment target: probe, log in, put the deployer and the
//! job on the target, create the detached task, then wait for its end, checking over SSH
//! that it lives and ending it at the package's max duration.

use super::remote::{self, Facts, LaunchPlan, Launcher, Privilege};
use crate::secrets::{new_token, token_hash};
use crate::{Engine, now_ms};
use drover_domain::asset::Asset;
use drover_domain::credential::{Credential, CredentialKind, CredentialSecret, SudoMode, credential_order};
use drover_domain::deployment::{Deployment, RunMode, Target, TargetState};
use drover_domain::package::Package;
use drover_domain::time::utc;
use drover_proto::{Job, PROTOCOL_VERSION};
use drover_ssh::{Auth, ConnectOptions, HostKeyPolicy, Session, SshError};
use drover_store::{LogFilter, TargetUpdate};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep, sleep_until};

/// Why a target ended before its task reported: the final state, a message that says
/// what to do, and a stable code.
struct Stop {
    state: TargetState,
    message: String,
    code: &'static str,
}

fn stop(state: TargetState, code: &'static str, message: impl Into<String>) -> Stop {
    Stop { state, message: message.into(), code }
}

impl From<crate::EngineError> for Stop {
    fn from(e: crate::EngineError) -> Self {
        stop(TargetState::Failed, "server.internal", e.to_string())
    }
}

impl From<drover_store::StoreError> for Stop {
    fn from(e: drover_store::StoreError) -> Self {
        crate::EngineError::from(e).into()
    }
}

/// A logged-in way to the target, kept to reconnect for checks.
struct Access {
    asset: Asset,
    credential: Credential,
    secret: CredentialSecret,
}

impl Access {
    /// How scripts get root with this credential (None: they cannot).
    fn privilege(&self, logs_in_as_root: bool) -> Option<Privilege> {
        if logs_in_as_root {
            return Some(Privilege::Root);
        }
        match self.credential.sudo {
            SudoMode::None => None,
            SudoMode::NoPassword => Some(Privilege::SudoNoPassword),
            SudoMode::Password => Some(Privilege::SudoPassword(
                self.secret.sudo_password.clone().or_else(|| self.secret.password.clone()).unwrap_or_default(),
            )),
        }
    }
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
    pub(super) async fn run_target(self, t: Target, d: Deployment, pkg: Arc<Package>) {
        self.run(t, d, pkg, false).await
    }

    /// After a restart: watches a target whose task the previous run created.
    pub(super) async fn resume_target(self, t: Target, d: Deployment, pkg: Arc<Package>) {
        self.run(t, d, pkg, true).await
    }

    /// Drives (or resumes) a target and records how it ended.
    async fn run(self, t: Target, d: Deployment, pkg: Arc<Package>, resume: bool) {
        let notify = self.waiter(t.id);
        let driven = if resume {
            let _thread = self.inner.threads.acquire(d.id.0 as u64).await;
            self.resume(&t, &pkg, &notify).await
        } else {
            self.drive(&t, &d, &pkg, &notify).await
        };
        if let Err(s) = driven
            && let Err(e) = self.end_target(t.id, s.state, &s.message, Some(s.code)).await
        {
            tracing::error!(target_id = %t.id, "cannot record the end of target: {e}");
        }
        self.drop_waiter(t.id);
        if let Err(e) = self.store().finish_deployment_if_done(d.id, now_ms()).await {
            tracing::error!(deployment = %d.id, "cannot close deployment: {e}");
        }
    }

    async fn resume(&self, t: &Target, pkg: &Package, notify: &Notify) -> Result<(), Stop> {
        let asset = self.store().asset(t.asset_id).await?;
        let lost = |what: &str| {
            stop(
                TargetState::Failed,
                "server.restarted",
                format!(
                    "the server restarted while this target ran and cannot follow it any more ({what}); check asset '{}' and deploy again if needed",
                    asset.name
                ),
            )
        };
        let (Some(name), Some(dir)) = (t.credential.clone(), t.work_dir.clone()) else {
            return Err(lost("it had not recorded its credential and work directory"));
        };
        let credential = self.store().credential_by_name(&name).await.map_err(|_| lost("its credential is gone"))?;
        let secret = self.vault().open(credential.id, &self.store().sealed_secret(credential.id).await?)?;
        let access = Access { asset: asset.clone(), credential, secret };
        // the root work directory means the task was created as root
        let privilege = if dir.starts_with(remote::base_dir(true)) {
            access.privilege(access.credential.username == "root")
        } else {
            None
        };
        let task = Task { unit: format!("drover-target-{}", t.id), dir, privilege };
        let events = self.store().events_of(t.id).await?;
        let started = events.iter().find(|e| e.state == TargetState::Running).map_or_else(now_ms, |e| e.at_ms);
        let left_ms = started + (pkg.def.max_duration_secs as i64) * 1000 - now_ms();
        let deadline = Instant::now() + Duration::from_millis(left_ms.max(0) as u64) + DEADLINE_GRACE;
        if self.check_task(&access, &task, t).await == Some(false) && !self.store().target(t.id).await?.state.is_final()
        {
            return Err(stop(
                TargetState::Failed,
                "target.task_vanished",
                format!(
                    "the server restarted while this target ran, and no task runs on asset '{}' that reported an end (it may never have started, or it was killed)",
                    asset.name
                ),
            ));
        }
        self.wait_for_end(t, &access, &task, deadline, notify, pkg.def.max_duration_secs).await?;
        self.after_success(t, &access, pkg).await;
        Ok(())
    }

    /// Reaches the asset (waking it and retrying when the deployment says so), then
    /// deploys to it. A deployment thread is held from the connection attempt to the end;
    /// not while the machine boots or the target waits in the retry queue.
    async fn drive(&self, t: &Target, d: &Deployment, pkg: &Package, notify: &Notify) -> Result<(), Stop> {
        let opts = d.options;
        loop {
            let current = self.store().target(t.id).await?;
            if current.state.is_final() {
                return Ok(()); // cancelled while it waited
            }
            if current.state == TargetState::WaitingRetry {
                let at = current.next_attempt_ms.unwrap_or_else(now_ms);
                if self.pause(t.id, notify, at).await? {
                    return Ok(());
                }
            }
            let asset = self.store().asset(t.asset_id).await?;
            let (addr, port) = (asset.address.clone(), asset.ssh_port);
            let nth = if current.attempts > 0 { format!(" (attempt {})", current.attempts + 1) } else { String::new() };
            let Some((thread, answered)) = self.attempt(t, d, &asset, &nth).await? else { return Ok(()) };
            if answered {
                return self.deploy_to(t, d, pkg, asset, notify, thread).await;
            }
            let mut woke = None;
            if opts.wake_on_lan {
                drop(thread);
                let (up, how) = self.wake_up(t, &asset, opts.boot_secs, notify).await?;
                woke = Some(how);
                if up {
                    let Some((thread, answered)) = self.attempt(t, d, &asset, " after waking it").await? else {
                        return Ok(());
                    };
                    if answered {
                        return self.deploy_to(t, d, pkg, asset, notify, thread).await;
                    }
                }
                if self.store().target(t.id).await?.state.is_final() {
                    return Ok(());
                }
            }
            let off = format!(
                "asset '{}' ({addr}:{port}) did not answer on its SSH port within {} s{}",
                asset.name,
                self.config().probe_timeout.as_secs(),
                woke.map(|w| format!(" ({w})")).unwrap_or_default()
            );
            let next = now_ms() + (opts.retry_interval_secs as i64) * 1000;
            if opts.retry_offline && next <= d.retry_until_ms() {
                let msg = format!(
                    "{off}; in the retry queue: next attempt at {} (every {} s until {})",
                    utc(next),
                    opts.retry_interval_secs,
                    utc(d.retry_until_ms())
                );
                self.store().queue_retry(t.id, next, &msg, now_ms()).await?;
                continue;
            }
            let what = if opts.retry_offline {
                let attempts = self.store().target(t.id).await?.attempts;
                format!("retries ended at {} after {attempts} attempts", utc(d.retry_until_ms()))
            } else {
                "it is off or unreachable; deploy again when it is on, or deploy with retry_offline".to_string()
            };
            return Err(stop(TargetState::Offline, "target.offline", format!("{off}; {what}")));
        }
    }

    /// One connection attempt: a deployment thread, then `connecting` and the SSH port
    /// probe. None when the target ended (was cancelled) while it waited for the thread.
    async fn attempt<'a>(
        &'a self,
        t: &Target,
        d: &Deployment,
        asset: &Asset,
        why: &str,
    ) -> Result<Option<(crate::threads::Thread<'a>, bool)>, Stop> {
        let thread = self.inner.threads.acquire(d.id.0 as u64).await;
        if self.store().target(t.id).await?.state.is_final() {
            return Ok(None);
        }
        self.refuse_overlap(t, d, &asset.name).await?;
        let (addr, port) = (&asset.address, asset.ssh_port);
        let msg = format!("connecting to {addr}:{port}{why}");
        self.store().transition(t.id, TargetState::Connecting, &msg, None, now_ms()).await?;
        let answered = drover_ssh::probe(addr, port, self.config().probe_timeout).await;
        Ok(Some((thread, answered)))
    }

    /// Sends magic packets and waits until the SSH port answers, at most `boot_secs`.
    /// Returns whether it answered and what was done, for the log.
    async fn wake_up(
        &self,
        t: &Target,
        asset: &Asset,
        boot_secs: u64,
        notify: &Notify,
    ) -> Result<(bool, String), Stop> {
        let macs: Vec<[u8; 6]> = asset.macs.iter().filter_map(|m| crate::wol::parse_mac(m)).collect();
        if macs.is_empty() {
            let how = format!(
                "Wake-on-LAN was asked for, but no MAC address of asset '{}' is known: add one with `drover asset add --mac`, or deploy once while it is on (drover records its MACs)",
                asset.name
            );
            self.store().note(t.id, &how, now_ms()).await?;
            return Ok((false, how));
        }
        let ip = asset.address.parse::<std::net::Ipv4Addr>().ok();
        let iface = self.config().wol_interface.as_deref();
        let sent = match crate::wol::wake(&macs, ip, iface) {
            Ok(to) => to.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" and "),
            Err(e) => {
                self.store().note(t.id, &format!("Wake-on-LAN failed: {e}"), now_ms()).await?;
                return Ok((false, format!("Wake-on-LAN failed: {e}")));
            }
        };
        let msg = format!(
            "waking: magic packets for {} sent to {sent}{}; waiting up to {boot_secs} s for it to boot",
            asset.macs.join(", "),
            iface.map(|i| format!(" on {i}")).unwrap_or_default()
        );
        self.store().transition(t.id, TargetState::Waking, &msg, None, now_ms()).await?;
        let until = now_ms() + (boot_secs as i64) * 1000;
        let probe_every = self.config().probe_timeout.max(Duration::from_secs(1));
        loop {
            if drover_ssh::probe(&asset.address, asset.ssh_port, self.config().probe_timeout).await {
                return Ok((true, format!("woken by Wake-on-LAN, sent to {sent}")));
            }
            if now_ms() >= until {
                return Ok((false, format!("still off {boot_secs} s after Wake-on-LAN packets sent to {sent}")));
            }
            let next = (now_ms() + probe_every.as_millis() as i64).min(until);
            if self.pause(t.id, notify, next).await? {
                return Ok((false, "cancelled while it booted".into()));
            }
        }
    }

    /// Waits until `at_ms` (epoch) unless the target ends meanwhile; true when it ended.
    async fn pause(&self, id: drover_domain::ids::TargetId, notify: &Notify, at_ms: i64) -> Result<bool, Stop> {
        loop {
            if self.store().target(id).await?.state.is_final() {
                return Ok(true);
            }
            let left = at_ms - now_ms();
            if left <= 0 {
                return Ok(false);
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = sleep(Duration::from_millis(left as u64)) => {}
            }
        }
    }

    /// Logs in, creates the task and waits for its end, holding a deployment thread.
    async fn deploy_to(
        &self,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
        asset: Asset,
        notify: &Notify,
        _thread: crate::threads::Thread<'_>,
    ) -> Result<(), Stop> {
        let (session, access) = self.log_in(asset).await?;
        let update = TargetUpdate {
            credential: Some(access.credential.name.clone()),
            server: Some(self.config().node_name.clone()),
            ..Default::default()
        };
        self.store().update_target(t.id, &update, now_ms()).await?;
        let task = self.create_task(&session, &access, t, d, pkg).await;
        session.close().await;
        let task = task?;
        let deadline = Instant::now() + Duration::from_secs(pkg.def.max_duration_secs) + DEADLINE_GRACE;
        self.wait_for_end(t, &access, &task, deadline, notify, pkg.def.max_duration_secs).await?;
        self.after_success(t, &access, pkg).await;
        Ok(())
    }

    /// After a successful target: the rescan and the final action the package asks for,
    /// each logged. Failures here are logged and do not change the target's result.
    async fn after_success(&self, t: &Target, a: &Access, pkg: &Package) {
        let final_action = remote::final_action_script(pkg.def.final_action, &pkg.def.name);
        if !pkg.def.rescan_after && final_action.is_none() {
            return;
        }
        match self.store().target(t.id).await {
            Ok(now) if now.state == TargetState::Success => {}
            _ => return,
        }
        let note = |m: String| async move {
            if let Err(e) = self.store().note(t.id, &m, now_ms()).await {
                tracing::warn!(target_id = %t.id, "cannot log '{m}': {e}");
            }
        };
        let session = match self.connect(a).await {
            Ok(s) => s,
            Err(e) => return note(format!("rescan and final action skipped: asset '{}': {e}", a.asset.name)).await,
        };
        if pkg.def.rescan_after {
            let facts = exec(&session, &a.asset, &remote::facts_script(&self.inner.deployer.sha256), None, &[]).await;
            note(match facts {
                Ok(out) => {
                    let f = remote::parse_facts(&out);
                    match self.store().record_facts(a.asset.id, &f.host_facts(), now_ms()).await {
                        Ok(_) => format!(
                            "rescanned: host name {}, OS {}, architecture {}, MACs {}",
                            f.hostname.as_deref().unwrap_or("-"),
                            f.os.as_deref().unwrap_or("-"),
                            f.arch.as_deref().unwrap_or("-"),
                            f.macs.join(" ")
                        ),
                        Err(e) => format!("rescan failed: {e}"),
                    }
                }
                Err(s) => format!("rescan failed: {}", s.message),
            })
            .await;
        }
        if let Some(script) = final_action {
            let f = pkg.def.final_action;
            let privilege = a.privilege(a.credential.username == "root");
            let m = match privilege {
                None => format!(
                    "final action {} skipped: credential '{}' is not root and has no sudo",
                    f.action.as_str(),
                    a.credential.name
                ),
                Some(p) => match exec(&session, &a.asset, &script, Some(&p), &[]).await {
                    Ok(_) => format!("final action: {} in {} s", f.action.as_str(), f.delay_secs),
                    Err(s) => format!("final action {} failed: {}", f.action.as_str(), s.message),
                },
            };
            note(m).await;
        }
        session.close().await;
    }

    /// A package never runs twice at once on one asset: a target of an older deployment
    /// of the same package on the same asset that has not ended makes this one skip.
    async fn refuse_overlap(&self, t: &Target, d: &Deployment, asset: &str) -> Result<(), Stop> {
        let filter = LogFilter { deployment: None, asset: Some(t.asset_id), package: Some(d.package_id), limit: 1000 };
        let older = self.store().log(&filter).await?.into_iter().find(|o| o.id < t.id && !o.state.is_final());
        match older {
            None => Ok(()),
            Some(o) => Err(stop(
                TargetState::Cancelled,
                "target.overlap",
                format!(
                    "skipped: package '{}' is already deploying to asset '{asset}' (deployment {}, still {}); it never runs twice at once on one machine",
                    d.package_name, o.deployment_id, o.state
                ),
            )),
        }
    }

    /// Tries the asset's credentials in order. A changed host key stops at once, before
    /// any credential is sent.
    async fn log_in(&self, asset: Asset) -> Result<(Session, Access), Stop> {
        let mappings = self.store().mappings_for(asset.id).await?;
        let order = credential_order(asset.id, &mappings);
        if order.is_empty() {
            return Err(stop(
                TargetState::Failed,
                "target.no_credential",
                format!("no scanning credential is mapped to asset '{}': map one globally or to the asset", asset.name),
            ));
        }
        let mut refused = Vec::new();
        for id in order {
            let credential = self.store().credential(id).await?;
            let secret = self.vault().open(id, &self.store().sealed_secret(id).await?)?;
            let access = Access { asset: asset.clone(), credential, secret };
            match self.connect(&access).await {
                Ok(session) => {
                    if access.asset.host_key.is_none() {
                        self.store().pin_host_key(asset.id, session.host_key(), session.host_key_fingerprint()).await?;
                    }
                    return Ok((session, access));
                }
                Err(e @ (SshError::AuthFailed { .. } | SshError::BadKey(_))) => {
                    refused.push(format!("'{}' (user {}): {e}", access.credential.name, access.credential.username));
                }
                Err(e) => return Err(ssh_stop(&asset, e)),
            }
        }
        Err(stop(
            TargetState::Failed,
            "ssh.auth_failed",
            format!(
                "authentication failed on asset '{}' ({}) with every mapped credential: {}. Check the user name, password or key, and that the account may log in over SSH",
                asset.name,
                asset.address,
                refused.join("; ")
            ),
        ))
    }

    async fn connect(&self, a: &Access) -> Result<Session, SshError> {
        let auth = match a.credential.kind {
            CredentialKind::Password => Auth::Password(a.secret.password.clone().unwrap_or_default()),
            CredentialKind::Key => Auth::Key {
                private_key_pem: a.secret.private_key.clone().unwrap_or_default(),
                passphrase: a.secret.passphrase.clone(),
            },
        };
        let host_key = match &a.asset.host_key {
            Some(k) => HostKeyPolicy::Pinned(k.clone()),
            None => HostKeyPolicy::TrustOnFirstUse,
        };
        let opts = ConnectOptions {
            host: a.asset.address.clone(),
            port: a.asset.ssh_port,
            user: a.credential.username.clone(),
            auth,
            host_key,
            connect_timeout: self.config().connect_timeout,
        };
        Session::connect(&opts).await
    }

    /// Learns the target, puts the deployer and the job there and starts the task.
    async fn create_task(
        &self,
        session: &Session,
        a: &Access,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
    ) -> Result<Task, Stop> {
        let out = exec(session, &a.asset, &remote::facts_script(&self.inner.deployer.sha256), None, &[]).await?;
        let facts = remote::parse_facts(&out);
        self.store().record_facts(a.asset.id, &facts.host_facts(), now_ms()).await?;

        let (run_as, privilege) = run_account(d.run_mode, &facts, a)?;
        if let Some(p @ Privilege::SudoPassword(_)) = &privilege {
            // Check the sudo password with nothing else on stdin: a wrong one must not
            // make sudo read the job or the deployer as further attempts.
            exec(session, &a.asset, "true", Some(p), &[]).await?;
        }
        let as_root = privilege.is_some();
        let in_root_dir = as_root || facts.uid == Some(0);
        let base = remote::base_dir(in_root_dir);
        let deployer = remote::deployer_path(base, &self.inner.deployer.sha256);
        let present = if in_root_dir { facts.deployer_in_root_dir } else { facts.deployer_in_home_dir };
        if !present {
            let script = remote::upload_script(base, &deployer, &self.inner.deployer.sha256);
            exec(session, &a.asset, &script, privilege.as_ref(), &self.inner.deployer.bytes).await?;
        }

        let server_url = self.server_url(&facts)?;
        let (report_token, share_token) = (new_token(), new_token());
        self.store().set_tokens(t.id, &token_hash(&report_token), &token_hash(&share_token)).await?;
        let job = Job {
            protocol: PROTOCOL_VERSION,
            target_id: t.id.0,
            deployment_id: d.id.0,
            package_name: pkg.def.name.clone(),
            package_version: pkg.def.version.clone(),
            steps: pkg.def.steps.clone(),
            files: pkg.files.clone(),
            share_url: format!("{server_url}/share/v1"),
            server_url,
            report_token,
            share_token,
            deadline_unix_ms: now_ms() + (pkg.def.max_duration_secs as i64) * 1000,
            start_at: 0,
        };
        let job_json =
            serde_json::to_vec(&job).map_err(|e| stop(TargetState::Failed, "server.internal", e.to_string()))?;
        let dir = format!("{base}/targets/{}", t.id);
        let unit = format!("drover-target-{}", t.id);
        let launcher = Launcher::pick(&facts, as_root);
        let who = run_as.clone().unwrap_or_else(|| if as_root { "root".into() } else { facts.user.clone() });
        let msg = format!("creating the task as {who} with {} ({} mode)", launcher.name(), d.run_mode);
        // Recorded before the task exists, so that after a crash the server knows where
        // to look whether or not the launch went through.
        let u = TargetUpdate { work_dir: Some(dir.clone()), ..Default::default() };
        self.store().update_target(t.id, &u, now_ms()).await?;
        if self.store().transition(t.id, TargetState::Running, &msg, None, now_ms()).await?.is_none() {
            return Err(stop(TargetState::Cancelled, "target.cancelled", "cancelled before its task was created"));
        }
        let plan =
            LaunchPlan { dir: &dir, deployer: &deployer, run_as: run_as.as_deref(), launcher, unit: unit.clone() };
        let out = match exec(session, &a.asset, &remote::launch_script(&plan), privilege.as_ref(), &job_json).await {
            Ok(out) => out,
            // The connection broke during the launch: the task may have started. It is
            // watched like any task (the checks tell whether it runs), not failed blindly.
            Err(s) if s.code.starts_with("ssh.") => {
                let m =
                    format!("the connection broke while the task was being created ({}); watching for it", s.message);
                self.store().note(t.id, &m, now_ms()).await?;
                String::new()
            }
            Err(s) => return Err(s),
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
                Ok(format!("http://{host}:{p}"))
            }
            _ => Err(stop(
                TargetState::Failed,
                "server.no_public_url",
                "the server does not know the address targets reach it at: set --public-url",
            )),
        }
    }

    async fn wait_for_end(
        &self,
        t: &Target,
        a: &Access,
        task: &Task,
        deadline: Instant,
        notify: &Notify,
        max_secs: u64,
    ) -> Result<(), Stop> {
        let mut unreachable_noted = false;
        loop {
            if let Some(message) = self.take_cancel(t.id) {
                let how = match self.end_task(a, task, t).await {
                    Ok(()) => "the task and its processes were killed".to_string(),
                    Err(e) => format!("the asset could not be reached to end the task ({e})"),
                };
                return Err(stop(TargetState::Cancelled, "target.cancelled", format!("{message}; {how}")));
            }
            if self.store().target(t.id).await?.state.is_final() {
                return Ok(());
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = sleep(self.config().liveness_interval) => {
                    let alive = self.check_task(a, task, t).await;
                    if alive.is_none() && !unreachable_noted {
                        unreachable_noted = true;
                        let m = format!(
                            "asset '{}' stopped answering over SSH; waiting for its task until the max duration of {max_secs} s",
                            a.asset.name
                        );
                        self.store().note(t.id, &m, now_ms()).await?;
                    }
                    if let Some(false) = alive {
                        if self.store().target(t.id).await?.state.is_final() {
                            return Ok(());
                        }
                        let last = self.store().target(t.id).await?.last_step;
                        return Err(stop(TargetState::Failed, "target.task_vanished", format!(
                            "the deployer on asset '{}' stopped without reporting an end (killed, or the machine restarted){}; nothing of this task runs there any more",
                            a.asset.name,
                            last.map(|s| format!(" after step '{s}'")).unwrap_or_default(),
                        )));
                    }
                }
                _ = sleep_until(deadline) => {
                    let ended = self.end_task(a, task, t).await;
                    if self.store().target(t.id).await?.state.is_final() {
                        return Ok(());
                    }
                    let how = match ended {
                        Ok(()) => "the task and its processes were killed".to_string(),
                        Err(e) => format!("the asset could not be reached to end the task ({e})"),
                    };
                    return Err(stop(TargetState::TimedOut, "target.max_duration",
                        format!("ran longer than the package's max duration of {max_secs} s; {how}")));
                }
            }
        }
    }

    /// Collects the record over SSH and tells whether the task still runs (None: the
    /// asset could not be reached, so nothing is known).
    async fn check_task(&self, a: &Access, task: &Task, t: &Target) -> Option<bool> {
        self.on_task(a, task, t, &remote::check_script(&task.dir)).await.ok()
    }

    /// Kills the task on the target and collects what it recorded.
    async fn end_task(&self, a: &Access, task: &Task, t: &Target) -> Result<(), SshError> {
        self.on_task(a, task, t, &remote::kill_script(&task.dir, &task.unit)).await.map(|_| ())
    }

    /// Runs a script that prints the task's record on its own connection, applies the
    /// reports it finds, and tells whether the task was alive.
    async fn on_task(&self, a: &Access, task: &Task, t: &Target, script: &str) -> Result<bool, SshError> {
        let session = self.connect(a).await?;
        let (cmd, stdin) = remote::wrap(script, task.privilege.as_ref());
        let out = session.exec(&cmd, Some(&stdin), SCRIPT_TIMEOUT).await;
        session.close().await;
        let (reports, alive) = remote::parse_record(&String::from_utf8_lossy(&out?.stdout));
        for r in &reports {
            if let Err(e) = self.apply_report(t.id, r).await {
                tracing::warn!(target_id = %t.id, "collected report not applied: {e}");
            }
        }
        Ok(alive)
    }
}

/// Which user the task runs as (None: root or the login user) and how scripts get root.
fn run_account(mode: RunMode, facts: &Facts, a: &Access) -> Result<(Option<String>, Option<Privilege>), Stop> {
    let privilege = a.privilege(facts.uid == Some(0));
    let need_root = |why: &str| {
        privilege.clone().ok_or_else(|| {
            stop(TargetState::Failed, "target.needs_root", format!(
                "credential '{}' logs in to asset '{}' as '{}', who is not root and has no sudo set; {why}: set sudo on the credential, or deploy with run mode scanning-credential",
                a.credential.name, a.asset.name, facts.user
            ))
        })
    };
    match mode {
        RunMode::System => Ok((None, Some(need_root("run mode system runs the task as root")?))),
        RunMode::ScanningCredential => Ok((None, None)),
        RunMode::LoggedOnUser => {
            let user = facts
                .sessions
                .iter()
                .find(|u| u.as_str() != "root")
                .or(facts.sessions.first())
                .ok_or_else(|| {
                    stop(TargetState::Failed, "target.nobody_logged_on", format!(
                        "nobody is logged on to asset '{}', and the run mode is logged-on user: deploy when a user is logged on, or choose run mode system",
                        a.asset.name
                    ))
                })?;
            if *user == facts.user {
                return Ok((None, None));
            }
            let p = need_root("run mode logged-on user must switch to that user")?;
            Ok(((user != "root").then(|| user.clone()), Some(p)))
        }
    }
}

/// Runs a script on the target and returns its stdout; a failure stops the target with
/// the script's own error output.
async fn exec(
    session: &Session,
    asset: &Asset,
    script: &str,
    privilege: Option<&Privilege>,
    input: &[u8],
) -> Result<String, Stop> {
    let (cmd, mut stdin) = remote::wrap(script, privilege);
    stdin.extend_from_slice(input);
    let out = session.exec(&cmd, Some(&stdin), SCRIPT_TIMEOUT).await.map_err(|e| ssh_stop(asset, e))?;
    if out.exit_status == Some(0) {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let (code, what) = if err.contains("sudo") {
        ("target.sudo_failed", "sudo refused")
    } else {
        ("target.remote_command_failed", "a command drover runs on the target failed")
    };
    Err(stop(
        TargetState::Failed,
        code,
        format!(
            "{what} on asset '{}' (exit status {}): {}",
            asset.name,
            out.exit_status.map_or("none".into(), |s| s.to_string()),
            if err.is_empty() { "no error output".into() } else { err }
        ),
    ))
}

fn ssh_stop(asset: &Asset, e: SshError) -> Stop {
    let state = match e {
        SshError::Unreachable { .. } => TargetState::Offline,
        _ => TargetState::Failed,
    };
    let mut message = format!("asset '{}': {e}", asset.name);
    if matches!(e, SshError::HostKeyMismatch { .. }) {
        message.push_str(&format!(
            ". If the machine was reinstalled, accept its new key with `drover asset accept-key {}`",
            asset.name
        ));
    }
    stop(state, e.code(), message)
}
