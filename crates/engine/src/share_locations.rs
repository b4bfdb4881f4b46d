//! Share locations (admin): IP ranges whose targets fetch package files from a nearer
//! share, and which share a target's job names.

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_domain::audit::AuditAction;
use drover_domain::cert_fingerprint;
use drover_domain::executor::Executor;
use drover_domain::ids::ShareLocationId;
use drover_domain::scope::IpRange;
use drover_domain::share_location::{ShareLocation, location_for, share_url};

impl Engine {
    /// Adds a share for the targets of `range`, at `url` (files at `url/files/<sha256>`),
    /// whose TLS certificate targets pin when `fingerprint` is given (an `https://` URL only).
    pub async fn add_share_location(
        &self,
        by: &Executor,
        range: &str,
        url: &str,
        fingerprint: Option<&str>,
    ) -> Result<ShareLocation> {
        let range = IpRange::parse(range).map_err(EngineError::Invalid)?;
        let url = share_url(url).map_err(EngineError::Invalid)?;
        let pin = fingerprint.map(cert_fingerprint::parse).transpose().map_err(EngineError::Invalid)?;
        if pin.is_some() && !url.starts_with("https://") {
            return Err(EngineError::Invalid(format!(
                "a certificate fingerprint needs an https:// share URL, not {url}"
            )));
        }
        let l = self.store().add_share_location(&range, &url, pin.as_deref(), now_ms()).await?;
        self.audit_done(by, AuditAction::ShareLocationAdd, &format!("share {} for {}", l.url, l.range)).await;
        Ok(l)
    }

    pub async fn remove_share_location(&self, by: &Executor, id: ShareLocationId) -> Result<()> {
        self.store().delete_share_location(id).await?;
        self.audit_done(by, AuditAction::ShareLocationRemove, &format!("share location {id}")).await;
        Ok(())
    }

    pub async fn list_share_locations(&self) -> Result<Vec<ShareLocation>> {
        Ok(self.store().list_share_locations().await?)
    }

    /// The share a target at `address` fetches package files from: its location's, or
    /// None for the server's own.
    pub(crate) async fn share_for(&self, address: &str) -> Result<Option<ShareLocation>> {
        let all = self.store().list_share_locations().await?;
        Ok(location_for(&all, address).cloned())
    }
}
