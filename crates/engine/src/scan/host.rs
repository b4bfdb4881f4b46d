//! Scanning one machine that answered: log in by the deployments' rules, run the scan
//! script, find the asset it is by the identity rule (or create one named by its host
//! name), record the facts and the software diff, then fire scan-triggered deployments.

use crate::deploy::scan_facts;
use crate::{Engine, now_ms};
use drover_api::scan::ScannedHost;
use drover_domain::asset::{Asset, NewAsset};
use drover_domain::ids::AssetId;
use drover_domain::inventory::{MatchedBy, match_identity, unique_name};
use drover_store::StoreError;

impl Engine {
    pub(super) async fn scan_host(&self, address: &str, port: u16) -> ScannedHost {
        let mut host = ScannedHost {
            address: address.to_string(),
            asset_id: None,
            asset_name: None,
            matched: String::new(),
            error_code: None,
            error: None,
            software_changes: 0,
            deployments: Vec::new(),
        };
        if let Err((code, message)) = self.scan_host_into(address, port, &mut host).await {
            tracing::info!(address, code, "scan failed: {message}");
            if host.asset_id.is_none() {
                // keep the error on the asset at this address, creating it if none is there
                match self.asset_for_error(address, port).await {
                    Ok(a) => {
                        host.asset_id = Some(a.id);
                        host.asset_name = Some(a.name);
                    }
                    Err(e) => tracing::error!(address, "cannot keep the scan error on an asset: {e}"),
                }
            }
            if let Some(id) = host.asset_id
                && let Err(e) = self.store().set_scan_error(id, &format!("{code}: {message}"), now_ms()).await
            {
                tracing::error!(address, "cannot keep the scan error: {e}");
            }
            host.error_code = Some(code);
            host.error = Some(message);
        }
        host
    }

    async fn scan_host_into(&self, address: &str, port: u16, host: &mut ScannedHost) -> Result<(), (String, String)> {
        let internal = |e: &dyn std::fmt::Display| ("server.internal".to_string(), e.to_string());
        let at_address = self.store().identity_candidates(None, &[], address).await.map_err(|e| internal(&e))?;
        let known = at_address.iter().map(|c| c.id).min();
        let asset = match known {
            Some(id) => self.store().asset(id).await.map_err(|e| internal(&e))?,
            None => provisional(address, port),
        };
        let (session, _credential) =
            self.log_in_to_scan(asset, known.is_some()).await.map_err(|(c, m)| (c.as_str().to_string(), m))?;
        let facts = scan_facts::run(&session).await;
        let host_key = session.host_key().to_string();
        session.close().await;
        let mut facts = facts.map_err(|m| ("scan.script_failed".to_string(), format!("asset at {address}: {m}")))?;
        facts.host_key = Some(host_key);

        let macs = facts.macs();
        let candidates = self
            .store()
            .identity_candidates(facts.machine_id.as_deref(), &macs, address)
            .await
            .map_err(|e| internal(&e))?;
        let (id, matched) = match match_identity(facts.machine_id.as_deref(), &macs, address, &candidates) {
            Some((id, how)) => (id, how_str(how)),
            None => {
                let name = facts.hostname.clone().unwrap_or_default();
                let a = self.create_named_asset(&name, address, port, macs.clone()).await.map_err(|e| internal(&e))?;
                (a.id, "created")
            }
        };
        host.asset_id = Some(id);
        host.matched = matched.to_string();
        let now = now_ms();
        let changes = self.store().record_scan(id, address, &facts, now).await.map_err(|e| internal(&e))?;
        host.software_changes = changes.len();
        let asset = self.store().asset(id).await.map_err(|e| internal(&e))?;
        host.asset_name = Some(asset.name.clone());
        host.deployments = self.deploy_after_scan(&asset).await;
        Ok(())
    }

    /// A new asset named by the host name (or the address), unique with a suffix.
    async fn create_named_asset(
        &self,
        hostname: &str,
        address: &str,
        port: u16,
        macs: Vec<String>,
    ) -> Result<Asset, StoreError> {
        for _ in 0..5 {
            let mut taken = Vec::new();
            let base = unique_name(hostname, address, |_| false);
            // names in use among base, base-2, … (one query each until a free one)
            let mut name = base.clone();
            let mut n = 1;
            while self.store().asset_name_taken(&name).await? {
                taken.push(name.clone());
                n += 1;
                name = unique_name(hostname, address, |c| taken.iter().any(|t| t == c));
                if n > 10_000 {
                    break;
                }
            }
            let new = NewAsset { name, address: address.to_string(), ssh_port: port, macs: macs.clone() };
            match self.store().create_asset(&new, now_ms()).await {
                Err(StoreError::Conflict(_)) => continue, // another scan took the name just now
                other => return other,
            }
        }
        Err(StoreError::Conflict(format!("cannot find a free asset name for host name '{hostname}'")))
    }

    async fn asset_for_error(&self, address: &str, port: u16) -> Result<Asset, StoreError> {
        let at = self.store().identity_candidates(None, &[], address).await?;
        match at.iter().map(|c| c.id).min() {
            Some(id) => self.store().asset(id).await,
            None => self.create_named_asset("", address, port, Vec::new()).await,
        }
    }
}

fn how_str(m: MatchedBy) -> &'static str {
    match m {
        MatchedBy::MachineId => "machine_id",
        MatchedBy::Mac => "mac",
        MatchedBy::Address => "address",
    }
}

/// The asset a login to a new address uses before any row exists: id -1 (no mapping is
/// scoped to it), named by its address.
fn provisional(address: &str, port: u16) -> Asset {
    Asset {
        id: AssetId(-1),
        name: address.to_string(),
        address: address.to_string(),
        ssh_port: port,
        macs: Vec::new(),
        host_key: None,
        host_key_fingerprint: None,
        hostname: None,
        os: None,
        arch: None,
        last_seen_ms: None,
        created_ms: 0,
        facts: Default::default(),
    }
}
