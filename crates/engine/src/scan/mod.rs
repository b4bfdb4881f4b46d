//! Inventory scans: scan targets (add, list, enable, disable, remove, run now), the
//! scheduler's part (`tick_scans(now)` fires due targets, each run claimed once), and the
//! walk over a target's addresses with bounded concurrency (`host` scans one machine,
//! `trigger` deploys what configurations with `trigger_on_scan` ask for after it).

mod host;
mod trigger;

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_api::assets::AssetRef;
use drover_api::scan::{ScanReport, ScanTargetChange, ScannedHost};
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::ids::ScanTargetId;
use drover_domain::inventory::{Interface, Software, SoftwareChange};
use drover_domain::scan::{NewScanTarget, ScanCounts, ScanSpec, ScanTarget};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Addresses probed at once.
const PROBES_AT_ONCE: usize = 128;

impl Engine {
    /// The asset's installed software; `name` filters by a substring of the name.
    pub async fn asset_software(&self, r: &AssetRef, name: Option<&str>) -> Result<Vec<Software>> {
        let a = self.resolve_asset(r).await?;
        Ok(self.store().asset_software(a.id, name).await?)
    }

    /// The asset's software changes between scans, newest first.
    pub async fn software_history(&self, r: &AssetRef) -> Result<Vec<SoftwareChange>> {
        let a = self.resolve_asset(r).await?;
        Ok(self.store().software_history(a.id).await?)
    }

    /// The asset's interfaces as the last scan saw them.
    pub async fn asset_interfaces(&self, r: &AssetRef) -> Result<Vec<Interface>> {
        let a = self.resolve_asset(r).await?;
        Ok(self.store().asset_interfaces(a.id).await?)
    }

    pub async fn list_scan_targets(&self) -> Result<Vec<ScanTarget>> {
        Ok(self.store().list_scan_targets().await?)
    }

    /// A scan target by name or id.
    pub async fn resolve_scan_target(&self, r: &str) -> Result<ScanTarget> {
        Ok(match r.parse::<i64>() {
            Ok(id) => self.store().scan_target(ScanTargetId(id)).await?,
            Err(_) => self.store().scan_target_by_name(r).await?,
        })
    }

    pub async fn add_scan_target(&self, by: &Executor, mut new: NewScanTarget) -> Result<ScanTarget> {
        new.validate().map_err(EngineError::Invalid)?;
        let now = now_ms();
        let next = if new.enabled { new.schedule.next_after(now) } else { None };
        let t = self.store().create_scan_target(&new, next, now).await?;
        let detail = format!("scan target {} '{}': {} ({})", t.id, t.target.name, t.target.target, t.target.schedule);
        self.audit_done(by, AuditAction::ScanTargetAdd, &detail).await;
        Ok(t)
    }

    pub async fn remove_scan_target(&self, by: &Executor, r: &str) -> Result<ScanTarget> {
        let t = self.resolve_scan_target(r).await?;
        self.store().delete_scan_target(t.id).await?;
        self.audit_done(by, AuditAction::ScanTargetRemove, &format!("scan target {} '{}'", t.id, t.target.name)).await;
        Ok(t)
    }

    /// Changes a scan target (the console's edit form and `PATCH /scan-targets/{t}`): the
    /// result is checked as a new target is. Its next run stays when it stays enabled with
    /// the same schedule; otherwise the schedule runs from now (none when disabled).
    pub async fn edit_scan_target(&self, by: &Executor, r: &str, change: ScanTargetChange) -> Result<ScanTarget> {
        let t = self.resolve_scan_target(r).await?;
        if change.is_empty() {
            return Err(EngineError::Invalid(
                "nothing to change: give name, target, ssh_port, schedule or enabled".into(),
            ));
        }
        let mut new = change.apply(&t.target);
        new.validate().map_err(EngineError::Invalid)?;
        let next = match (new.enabled, t.target.enabled && t.target.schedule == new.schedule) {
            (false, _) => None,
            (true, true) => t.next_scan_ms.or_else(|| new.schedule.next_after(now_ms())),
            (true, false) => new.schedule.next_after(now_ms()),
        };
        let edited = self.store().update_scan_target(t.id, &new, next).await?;
        let detail = format!(
            "scan target {} '{}': {} ({}, port {}, {}), was '{}': {} ({}, port {}, {})",
            t.id,
            new.name,
            new.target,
            new.schedule,
            new.ssh_port,
            if new.enabled { "enabled" } else { "disabled" },
            t.target.name,
            t.target.target,
            t.target.schedule,
            t.target.ssh_port,
            if t.target.enabled { "enabled" } else { "disabled" },
        );
        self.audit_done(by, AuditAction::ScanTargetEdit, &detail).await;
        Ok(edited)
    }

    /// Enables (its schedule runs from now) or disables a scan target.
    pub async fn set_scan_target_enabled(&self, by: &Executor, r: &str, enabled: bool) -> Result<ScanTarget> {
        let t = self.resolve_scan_target(r).await?;
        let next = if enabled { t.target.schedule.next_after(now_ms()) } else { None };
        self.store().set_scan_target_enabled(t.id, enabled, next).await?;
        let action = if enabled { AuditAction::ScanTargetEnable } else { AuditAction::ScanTargetDisable };
        self.audit_done(by, action, &format!("scan target {} '{}'", t.id, t.target.name)).await;
        Ok(self.store().scan_target(t.id).await?)
    }

    /// Scans a target now and waits for the end (an admin's "run now"; disabled targets too).
    pub async fn run_scan_target(&self, by: &Executor, r: &str) -> Result<ScanReport> {
        let t = self.resolve_scan_target(r).await?;
        let spec = ScanSpec::parse(&t.target.target).map_err(EngineError::Invalid)?;
        self.audit_done(by, AuditAction::ScanRun, &format!("scan target {} '{}'", t.id, t.target.name)).await;
        self.store().mark_scan_target_run(t.id, now_ms()).await?;
        let report = self.scan(&t.target.name, &spec, t.target.ssh_port).await;
        self.record_scan_result(t.id, &report).await;
        Ok(report)
    }

    /// Keeps what a finished scan of a target found on the target (logged, not
    /// returned, when the store refuses: the scan itself is done and on the assets).
    async fn record_scan_result(&self, id: ScanTargetId, r: &ScanReport) {
        let counts = ScanCounts { probed: r.probed, answered: r.hosts.len() as u64, failed: r.failed() as u64 };
        if let Err(e) = self.store().record_scan_result(id, counts).await {
            tracing::warn!(scan_target = %id, "the counts of a finished scan were not kept: {e}");
        }
    }

    /// Scans one address (IP or host name) now.
    pub async fn scan_address(&self, by: &Executor, address: &str, port: u16) -> Result<ScanReport> {
        let spec = ScanSpec::parse(address).map_err(EngineError::Invalid)?;
        if matches!(spec, ScanSpec::Range(_)) {
            return Err(EngineError::Invalid(format!(
                "'{address}' is a range: add it as a scan target (drover scan target add NAME {address}) and run that"
            )));
        }
        self.audit_done(by, AuditAction::ScanRun, &format!("address {spec}")).await;
        Ok(self.scan(&spec.to_string(), &spec, port).await)
    }

    /// Fires the scan targets due at `now_ms`: each run is claimed (the target moves to
    /// its next run) by one node only, then scanned in the background. Returns how many
    /// this call started.
    pub async fn tick_scans(&self, now_ms: i64) -> Result<usize> {
        let mut started = 0;
        for t in self.store().due_scan_targets(now_ms).await? {
            let Some(due) = t.next_scan_ms else { continue };
            let next = t.target.schedule.next_after(now_ms.max(due));
            if !self.store().claim_scan(t.id, due, next, now_ms).await? {
                continue;
            }
            let spec = match ScanSpec::parse(&t.target.target) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(scan_target = %t.target.name, "scheduled scan not run: {e}");
                    continue;
                }
            };
            started += 1;
            let engine = self.clone();
            tokio::spawn(async move {
                let r = engine.scan(&t.target.name, &spec, t.target.ssh_port).await;
                engine.record_scan_result(t.id, &r).await;
                tracing::info!(
                    scan_target = %t.target.name,
                    "scheduled scan done: {} address(es) probed, {} answered, {} failed",
                    r.probed,
                    r.hosts.len(),
                    r.failed()
                );
            });
        }
        Ok(started)
    }

    /// Probes every address of `spec` on `port` (at most `PROBES_AT_ONCE` at a time,
    /// pulled lazily from the range: memory stays bounded for a /16) and scans each host
    /// that answers (at most the configuration's `scans_at_once` at a time). One host's failure is kept on
    /// its asset and never stops the others.
    pub(crate) async fn scan(&self, label: &str, spec: &ScanSpec, port: u16) -> ScanReport {
        let started_ms = now_ms();
        let scans = Arc::new(tokio::sync::Semaphore::new(self.config().scans_at_once.max(1)));
        let timeout = self.config().probe_timeout;
        let mut running: JoinSet<Option<ScannedHost>> = JoinSet::new();
        let mut hosts = Vec::new();
        let mut probed = 0u64;
        let mut addresses = spec.addresses();
        loop {
            while running.len() < PROBES_AT_ONCE {
                let Some(address) = addresses.next() else { break };
                probed += 1;
                let (engine, scans) = (self.clone(), scans.clone());
                running.spawn(async move {
                    if !answers(&address, port, timeout).await {
                        return None;
                    }
                    let _slot = scans.acquire_owned().await.ok()?;
                    Some(engine.scan_host(&address, port).await)
                });
            }
            match running.join_next().await {
                None => break,
                Some(Ok(Some(h))) => hosts.push(h),
                Some(Ok(None)) => {}
                Some(Err(e)) => tracing::error!("a host scan task ended abnormally: {e}"),
            }
        }
        hosts.sort_by(|a, b| a.address.cmp(&b.address));
        ScanReport { target: label.to_string(), probed, hosts, started_ms, finished_ms: now_ms() }
    }
}

/// Whether something accepts a TCP connection at `address:port` within `timeout`.
async fn answers(address: &str, port: u16, timeout: Duration) -> bool {
    let host = address.trim_start_matches('[').trim_end_matches(']');
    let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    matches!(tokio::time::timeout(timeout, tokio::net::TcpStream::connect(target)).await, Ok(Ok(_)))
}
