//! Reaching the machine: the SSH port probe, Wake-on-LAN, the retry queue and the waits
//! between attempts, and the rule that a package never runs twice at once on one asset.

use super::{Following, Stop, stop};
use crate::{Engine, now_ms};
use drover_domain::FailureCode;
use drover_domain::asset::Asset;
use drover_domain::deployment::{Deployment, Target, TargetState};
use drover_domain::package::Package;
use drover_domain::time::utc;
use drover_store::LogFilter;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::sleep;

impl Engine {
    /// Reaches the asset (waking it and retrying when the deployment says so), then
    /// logs in and creates the task: what following it needs (None: the target ended, or
    /// another node drives it). A deployment thread is held from the connection attempt to
    /// the end (the follower keeps it); not while the machine boots or the target waits in
    /// the retry queue. The parts after the wait for a thread are boxed: a target that
    /// waits for one (most of a large deployment's) holds only this function's small state.
    pub(super) async fn drive(
        &self,
        t: &Target,
        d: &Deployment,
        pkg: &Package,
        notify: &Notify,
    ) -> Result<Option<Box<Following<'_>>>, Stop> {
        let opts = d.options;
        loop {
            // what this loop needs of the target, not the target (its driver's state stays small)
            let (attempts, retry_at) = {
                let current = self.store().target(t.id).await?;
                if current.state.is_final() {
                    return Ok(None); // cancelled while it waited
                }
                let waits = current.state == TargetState::WaitingRetry;
                (current.attempts, waits.then(|| current.next_attempt_ms.unwrap_or_else(now_ms)))
            };
            if let Some(at) = retry_at
                && self.pause(t.id, notify, at).await?
            {
                return Ok(None);
            }
            let asset = self.store().asset(t.asset_id).await?;
            let (addr, port) = (asset.address.clone(), asset.ssh_port);
            let nth = if attempts > 0 { format!(" (attempt {})", attempts + 1) } else { String::new() };
            // the thread is waited for here, before the boxed rest: a target that waits
            // (most of a large deployment's) holds only this small state
            let thread = self.inner.threads.acquire(d.id.0 as u64).await;
            let Some((thread, answered)) = Box::pin(self.attempt(thread, t, d, &asset, &nth)).await? else {
                return Ok(None);
            };
            if answered {
                return Box::pin(self.deploy_to(t, d, pkg, asset, thread)).await.map(Some);
            }
            let mut woke = None;
            if opts.wake_on_lan {
                drop(thread);
                let (up, how) = Box::pin(self.wake_up(t, &asset, opts.boot_secs, notify)).await?;
                woke = Some(how);
                if up {
                    let thread = self.inner.threads.acquire(d.id.0 as u64).await;
                    let attempt = self.attempt(thread, t, d, &asset, " after waking it");
                    let Some((thread, answered)) = Box::pin(attempt).await? else {
                        return Ok(None);
                    };
                    if answered {
                        return Box::pin(self.deploy_to(t, d, pkg, asset, thread)).await.map(Some);
                    }
                }
                if self.store().target(t.id).await?.state.is_final() {
                    return Ok(None);
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
            return Err(stop(TargetState::Offline, FailureCode::TargetOffline, format!("{off}; {what}")));
        }
    }

    /// One connection attempt with a deployment thread: the claim, then `connecting` and
    /// the SSH port probe. None when the target ended (was cancelled) while it waited for
    /// the thread, or another node claimed it.
    async fn attempt<'a>(
        &'a self,
        thread: crate::threads::Thread<'a>,
        t: &Target,
        d: &Deployment,
        asset: &Asset,
        why: &str,
    ) -> Result<Option<(crate::threads::Thread<'a>, bool)>, Stop> {
        if self.store().target(t.id).await?.state.is_final() {
            return Ok(None);
        }
        // with its thread, this node claims the target: another node that claimed it
        // first drives it (it had free threads sooner)
        if !self.claim(t.id).await? {
            tracing::debug!(target_id = %t.id, "another node drives this target");
            return Ok(None);
        }
        self.refuse_overlap(t, d, &asset.name).await?;
        let (addr, port) = (&asset.address, asset.ssh_port);
        let msg = format!("connecting to {addr}:{port}{why}");
        self.store().transition(t.id, TargetState::Connecting, &msg, None, now_ms()).await?;
        let answered = self.config().transport.probe(addr, port, self.config().probe_timeout).await;
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
            if self.config().transport.probe(&asset.address, asset.ssh_port, self.config().probe_timeout).await {
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

    /// A package never runs twice at once on one asset: a target of an older deployment
    /// of the same package on the same asset that has not ended makes this one skip.
    async fn refuse_overlap(&self, t: &Target, d: &Deployment, asset: &str) -> Result<(), Stop> {
        let filter = LogFilter { deployment: None, asset: Some(t.asset_id), package: Some(d.package_id), limit: 1000 };
        let older = self.store().log(&filter).await?.into_iter().find(|o| o.id < t.id && !o.state.is_final());
        match older {
            None => Ok(()),
            Some(o) => Err(stop(
                TargetState::Cancelled,
                FailureCode::TargetOverlap,
                format!(
                    "skipped for this run: package '{}' is already deploying to asset '{asset}' (deployment {}, still {}); it never runs twice at once on one machine",
                    d.package_name, o.deployment_id, o.state
                ),
            )),
        }
    }
}
