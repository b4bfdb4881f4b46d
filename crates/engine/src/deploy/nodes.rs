//! This node among the nodes of one database: its lease, renewed every
//! `heartbeat_interval`; and, every `dispatch_interval`, taking over the targets of nodes
//! whose lease ended, starting queued targets no node claimed yet while it has free
//! deployment threads, and taking the cancel requests other nodes left for its targets.
//!
//! A node started with `--serve-ranges` drives only the targets whose asset address is in
//! one of its ranges ([`Engine::serves`]); the others stay queued for the nodes that serve
//! them.
//!
//! A target is driven by exactly one node: the one whose claim (a compare-and-set in the
//! store, [`drover_store::Store::claim_target`]) won when it gave the target a thread, or
//! took it over. Nothing here holds a lock in memory across nodes.

use crate::error::{EngineError, Result};
use crate::{Engine, Inner, now_ms};
use drover_domain::deployment::{Deployment, Target, TargetState};
use drover_domain::ids::{AssetId, DeploymentId, TargetId};
use drover_domain::package::Package;
use drover_domain::time::utc;
use drover_proto::OtherServer;
use drover_store::Claim;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// Deployments and their packages read in one pass, by deployment.
pub(super) type Packages = HashMap<DeploymentId, (Arc<Deployment>, Arc<Package>)>;

/// What one pass of the node loop did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodePass {
    /// Targets of nodes whose lease ended that this node took over.
    pub taken_over: usize,
    /// Queued targets no node had claimed that this node started.
    pub started: usize,
    /// Cancel requests from other nodes for targets this node drives.
    pub cancels: usize,
}

impl Engine {
    /// Renews this node's lease at `now_ms`: it holds its targets until `now_ms` plus the
    /// configured lease.
    pub async fn renew_lease(&self, now_ms: i64) -> Result<()> {
        let until = now_ms.saturating_add(i64::try_from(self.config().lease.as_millis()).unwrap_or(i64::MAX));
        let cfg = self.config();
        self.store().heartbeat(&cfg.node_name, now_ms, until, &cfg.serve_ranges).await?;
        let others = self
            .store()
            .nodes()
            .await?
            .into_iter()
            .filter(|n| n.name != cfg.node_name && n.lease_until_ms > now_ms)
            .filter_map(|n| Some(OtherServer { url: n.url?, cert_sha256: n.cert_sha256 }))
            .collect();
        *self.inner.other_servers.lock().unwrap_or_else(|e| e.into_inner()) = others;
        Ok(())
    }

    /// The other live nodes that said where deployers reach them, as of the last renewal.
    pub(crate) fn other_servers(&self) -> Vec<OtherServer> {
        self.inner.other_servers.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The nodes of the database at `now_ms`, by name: each one's lease and whether it runs.
    pub async fn nodes(&self, now_ms: i64) -> Result<Vec<drover_api::nodes::NodeInfo>> {
        let me = &self.config().node_name;
        Ok(self
            .store()
            .nodes()
            .await?
            .into_iter()
            .map(|n| drover_api::nodes::NodeInfo {
                alive: n.lease_until_ms > now_ms,
                this_node: &n.name == me,
                name: n.name,
                heartbeat_ms: n.heartbeat_ms,
                lease_until_ms: n.lease_until_ms,
                serve_ranges: n.serve_ranges.to_string(),
                url: n.url,
            })
            .collect())
    }

    /// Whether this node drives the target at `address`: the one rule of `--serve-ranges`
    /// (always, when the node was started without it).
    pub fn serves(&self, address: &str) -> bool {
        self.config().serve_ranges.serves(address)
    }

    /// Of `targets`, those whose asset address this node serves ([`Engine::serves`]), in
    /// their order. All of them, without reading anything, on a node that serves every
    /// address.
    pub(crate) async fn served(&self, mut targets: Vec<Target>) -> Result<Vec<Target>> {
        if self.config().serve_ranges.is_all() || targets.is_empty() {
            return Ok(targets);
        }
        let ids: Vec<AssetId> = targets.iter().map(|t| t.asset_id).collect();
        let addresses = self.store().asset_addresses(&ids).await?;
        targets.retain(|t| addresses.get(&t.asset_id).is_some_and(|a| self.serves(a)));
        Ok(targets)
    }

    /// Refuses, before a deployment is created at `now_ms`, assets that no running node
    /// serves (their targets would wait for a node that may never come): the nodes whose
    /// lease runs are compared by the ranges their last heartbeat stored, this node by its
    /// own. `assets`: each asset's id and name.
    pub(crate) async fn check_served(&self, assets: &[(AssetId, String)], now_ms: i64) -> Result<()> {
        let cfg = self.config();
        if cfg.serve_ranges.is_all() {
            return Ok(());
        }
        let mut live = vec![(cfg.node_name.clone(), cfg.serve_ranges.clone())];
        for n in self.store().nodes().await? {
            if n.lease_until_ms > now_ms && n.name != cfg.node_name {
                if n.serve_ranges.is_all() {
                    return Ok(());
                }
                live.push((n.name, n.serve_ranges));
            }
        }
        let ids: Vec<AssetId> = assets.iter().map(|(id, _)| *id).collect();
        let addresses = self.store().asset_addresses(&ids).await?;
        let unserved: Vec<String> = assets
            .iter()
            .filter_map(|(id, name)| {
                let address = addresses.get(id).map_or("", String::as_str);
                (!live.iter().any(|(_, r)| r.serves(address))).then(|| format!("'{name}' ({address})"))
            })
            .collect();
        if unserved.is_empty() {
            return Ok(());
        }
        const SHOWN: usize = 5;
        let more = if unserved.len() > SHOWN { format!(" and {} more", unserved.len() - SHOWN) } else { String::new() };
        let served: Vec<String> = live.iter().map(|(n, r)| format!("{n} serves {r}")).collect();
        Err(EngineError::Invalid(format!(
            "{} asset(s) are in no IP range a running node serves: {}{more}. Running nodes: {}. \
             Start a node whose --serve-ranges covers them (or one without --serve-ranges, which serves every \
             address), or widen a node's --serve-ranges, then deploy again; nothing was created",
            unserved.len(),
            unserved.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", "),
            served.join("; "),
        )))
    }

    /// Claims target `id` for this node now (see [`drover_store::Store::claim_target`]).
    /// A claim lost while no other node drives the target means this node's own lease
    /// lapsed (its renewal stalled): the lease is renewed and the claim tried once more,
    /// which wins unless another node took the target over meanwhile. False: another
    /// node drives it, or it ended.
    pub(crate) async fn claim(&self, id: TargetId) -> Result<bool> {
        let me = &self.config().node_name;
        if self.store().claim_target(id, me, now_ms()).await? != Claim::Lost {
            return Ok(true);
        }
        let t = self.store().target(id).await?;
        if t.state.is_final() || t.server.as_deref().is_some_and(|s| s != me) {
            return Ok(false);
        }
        tracing::warn!("node {me} found its lease ended: renewed now");
        self.renew_lease(now_ms()).await?;
        Ok(self.store().claim_target(id, me, now_ms()).await? != Claim::Lost)
    }

    /// One pass at `now_ms`: takes over the targets of nodes whose lease ended, starts
    /// unclaimed queued targets up to the free deployment threads, and takes the cancel
    /// requests for this node's targets.
    pub async fn node_pass(&self, now_ms: i64) -> Result<NodePass> {
        Ok(NodePass {
            taken_over: self.take_over(now_ms).await?,
            started: self.start_unclaimed().await?,
            cancels: self.take_cancel_requests().await?,
        })
    }

    /// Claims and resumes the unfinished targets of nodes whose lease ended, as
    /// [`Engine::recover`] resumes a node's own after a restart: running and rebooting
    /// ones are watched (their record read over SSH, never started twice); the others
    /// start over (no task exists before a target is `running`).
    async fn take_over(&self, now_ms: i64) -> Result<usize> {
        let me = self.config().node_name.clone();
        let mut packages = Packages::new();
        let mut n = 0;
        for t in self.served(self.store().orphaned_targets(&me, now_ms).await?).await? {
            if self.is_driving(t.id) {
                continue;
            }
            let Claim::Won { from } = self.store().claim_target(t.id, &me, now_ms).await? else { continue };
            let (node, lease) = from.unwrap_or_else(|| (t.server.clone().unwrap_or_default(), None));
            let lease =
                lease.map_or("that never renewed a lease".to_string(), |l| format!("whose lease ended at {}", utc(l)));
            let how = if matches!(t.state, TargetState::Running | TargetState::Rebooting) {
                "watching its task (its record is read over SSH; nothing runs twice)"
            } else {
                "starting it over (no task had been created for it)"
            };
            let m = format!("taken over by node {me} from node {node} {lease}; {how}");
            self.store().note(t.id, &m, now_ms).await?;
            tracing::info!(target_id = %t.id, "{m}");
            let (d, pkg) = self.with_package(&mut packages, t.deployment_id).await?;
            let resume = matches!(t.state, TargetState::Running | TargetState::Rebooting);
            self.spawn_driver(t, d, pkg, resume);
            n += 1;
        }
        Ok(n)
    }

    /// Starts queued targets no node has claimed (of deployments other nodes created, or
    /// whose creating node died, or that the creating node does not serve), of those it
    /// serves, as many as this node has room for (`Threads::room`: its free threads and a
    /// backlog). Each is claimed when it gets its thread; a node that claims it first
    /// keeps it.
    async fn start_unclaimed(&self) -> Result<usize> {
        let room = self.inner.threads.room();
        if room == 0 {
            return Ok(0);
        }
        let mut packages = Packages::new();
        let mut n = 0;
        for t in self.unclaimed_served(room).await? {
            if self.is_driving(t.id) {
                continue;
            }
            let (d, pkg) = self.with_package(&mut packages, t.deployment_id).await?;
            self.spawn_driver(t, d, pkg, false);
            n += 1;
        }
        Ok(n)
    }

    /// At most `limit` queued targets no node has claimed, of those this node serves,
    /// newest first. A node with ranges reads the addresses of all of them (two columns a
    /// row) and then only the targets it picks.
    async fn unclaimed_served(&self, limit: usize) -> Result<Vec<Target>> {
        if self.config().serve_ranges.is_all() {
            return Ok(self.store().unclaimed_targets(limit).await?);
        }
        let mut out = Vec::new();
        for (id, address) in self.store().unclaimed_target_addresses().await? {
            if out.len() == limit {
                break;
            }
            if self.serves(&address) {
                out.push(self.store().target(id).await?);
            }
        }
        Ok(out)
    }

    /// Drives again this node's unfinished targets that no task of it drives (one whose
    /// driver stopped on a store error, or that a takeover claimed but could not start):
    /// as after a restart. Returns how many.
    pub async fn resume_undriven(&self) -> Result<usize> {
        let mut packages = Packages::new();
        let mut n = 0;
        for t in self.store().unfinished_targets_of(&self.config().node_name).await? {
            if self.is_driving(t.id) {
                continue;
            }
            let (d, pkg) = self.with_package(&mut packages, t.deployment_id).await?;
            let resume = matches!(t.state, TargetState::Running | TargetState::Rebooting);
            if self.spawn_driver(t, d, pkg, resume) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Passes the cancel requests other nodes stored for this node's targets to their
    /// drivers, which end the tasks.
    async fn take_cancel_requests(&self) -> Result<usize> {
        let taken = self.store().take_cancel_requests(&self.config().node_name).await?;
        for (id, message) in &taken {
            self.inner.cancels.lock().unwrap_or_else(|e| e.into_inner()).insert(*id, message.clone());
            self.wake(*id);
        }
        Ok(taken.len())
    }

    /// A deployment and its package, read once per pass.
    pub(super) async fn with_package(
        &self,
        cache: &mut Packages,
        id: DeploymentId,
    ) -> Result<(Arc<Deployment>, Arc<Package>)> {
        if let Some((d, pkg)) = cache.get(&id) {
            return Ok((d.clone(), pkg.clone()));
        }
        let d = Arc::new(self.store().deployment(id).await?);
        let pkg = Arc::new(self.store().package(d.package_id).await?);
        cache.insert(id, (d.clone(), pkg.clone()));
        Ok((d, pkg))
    }

    /// Starts the task that drives target `t` on this node, unless one drives it already:
    /// `resume` watches the task its `running` (or `rebooting`) state says exists.
    pub(crate) fn spawn_driver(&self, t: Target, d: Arc<Deployment>, pkg: Arc<Package>, resume: bool) -> bool {
        if !self.start_driving(t.id) {
            return false;
        }
        let engine = self.clone();
        tokio::spawn(engine.run(Box::new(t), d, pkg, resume));
        true
    }
}

/// Renews the lease every `heartbeat_interval`, runs [`Engine::node_pass`] every
/// `dispatch_interval` and [`Engine::resume_undriven`] every `lease`, until the engine is
/// dropped.
pub(crate) fn spawn_node_loop(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut last_renewal: Option<tokio::time::Instant> = None;
        // the first sweep waits a lease: `recover` picks up this node's targets at start
        let mut last_sweep = Some(tokio::time::Instant::now());
        loop {
            let Some(engine) = inner.upgrade().map(|inner| Engine { inner }) else { return };
            let cfg = engine.config();
            let (heartbeat, every) = (cfg.heartbeat_interval, cfg.dispatch_interval);
            if last_renewal.is_none_or(|at| at.elapsed() >= heartbeat) {
                match engine.renew_lease(now_ms()).await {
                    Ok(()) => last_renewal = Some(tokio::time::Instant::now()),
                    Err(e) => tracing::warn!("cannot renew the lease of node {}: {e}", cfg.node_name),
                }
            }
            // no target starts before the server knows where deployers call it back
            let listening = engine.inner.listen_port.load(std::sync::atomic::Ordering::Relaxed) != 0;
            if !listening && cfg.public_url.is_none() {
                drop(engine);
                tokio::time::sleep(every).await;
                continue;
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= cfg.lease) {
                last_sweep = Some(tokio::time::Instant::now());
                match engine.resume_undriven().await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!("drives again {n} target(s) of this node that nothing drove"),
                    Err(e) => tracing::warn!("node {}: {e}", cfg.node_name),
                }
            }
            match engine.node_pass(now_ms()).await {
                Ok(p) if p.taken_over > 0 => {
                    tracing::info!("took over {} target(s) of nodes whose lease ended", p.taken_over)
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("node {}: {e}", cfg.node_name),
            }
            drop(engine);
            tokio::time::sleep(every).await;
        }
    });
}
