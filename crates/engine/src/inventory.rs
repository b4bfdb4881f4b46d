//! Assets and scanning credentials.

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_api::assets::AssetRef;
use drover_domain::asset::{Asset, NewAsset};
use drover_domain::audit::AuditAction;
use drover_domain::credential::{Credential, CredentialMapping, NewCredential};
use drover_domain::executor::Executor;
use drover_domain::ids::{AssetId, CredentialId};

impl Engine {
    /// Every credential (never a secret).
    pub async fn list_credentials(&self) -> Result<Vec<Credential>> {
        Ok(self.store().list_credentials().await?)
    }

    /// Deletes a credential with its secret and mappings.
    pub async fn delete_credential(&self, by: &Executor, id: CredentialId) -> Result<()> {
        let cred = self.store().credential(id).await?;
        self.store().delete_credential(id).await?;
        self.audit_done(by, AuditAction::CredentialDelete, &format!("credential {id} '{}'", cred.name)).await;
        Ok(())
    }

    pub async fn add_credential(&self, by: &Executor, new: NewCredential) -> Result<Credential> {
        let kind = new.validate().map_err(EngineError::Invalid)?;
        let vault = self.vault().clone();
        let secret = new.secret.clone();
        let cred = self
            .store()
            .create_credential(
                new.name.trim(),
                new.username.trim(),
                kind,
                new.sudo,
                move |id| vault.seal(id, &secret).unwrap_or_default(),
                now_ms(),
            )
            .await?;
        // Sealing cannot fail in practice; if it did, the row holds no secret: refuse it.
        let stored = self.store().sealed_secret(cred.id).await?;
        if let Err(e) = self.vault().open(cred.id, &stored) {
            let _ = self.store().delete_credential(cred.id).await;
            return Err(e);
        }
        let detail = format!("credential {} '{}' for user '{}'", cred.id, cred.name, cred.username);
        self.audit_done(by, AuditAction::CredentialAdd, &detail).await;
        Ok(cred)
    }

    /// Maps a credential globally (`asset = None`) or to one asset.
    pub async fn map_credential(
        &self,
        by: &Executor,
        credential: CredentialId,
        asset: Option<AssetId>,
        priority: i64,
    ) -> Result<()> {
        self.add_mapping(credential, asset, priority).await?;
        let to = asset.map_or("every asset".to_string(), |a| format!("asset {a}"));
        let detail = format!("credential {credential} to {to}, priority {priority}");
        self.audit_done(by, AuditAction::CredentialMap, &detail).await;
        Ok(())
    }

    async fn add_mapping(&self, credential: CredentialId, asset: Option<AssetId>, priority: i64) -> Result<()> {
        self.store().credential(credential).await?;
        if let Some(a) = asset {
            self.store().asset(a).await?;
        }
        Ok(self
            .store()
            .add_mapping(&CredentialMapping { credential_id: credential, asset_id: asset, priority })
            .await?)
    }

    /// Adds an asset, mapping the named credential to it when given.
    pub async fn add_asset(&self, mut new: NewAsset, credential: Option<&str>) -> Result<Asset> {
        new.validate().map_err(EngineError::Invalid)?;
        let cred = match credential {
            Some(name) => Some(self.store().credential_by_name(name).await?),
            None => None,
        };
        let asset = self.store().create_asset(&new, now_ms()).await?;
        if let Some(c) = cred {
            self.add_mapping(c.id, Some(asset.id), 0).await?;
        }
        Ok(asset)
    }

    pub async fn list_assets(&self) -> Result<Vec<Asset>> {
        Ok(self.store().list_assets().await?)
    }

    /// Deletes an asset; returns it as it was.
    pub async fn delete_asset(&self, r: &AssetRef) -> Result<Asset> {
        let asset = self.resolve_asset(r).await?;
        self.store().delete_asset(asset.id).await?;
        Ok(asset)
    }

    pub async fn resolve_asset(&self, r: &AssetRef) -> Result<Asset> {
        Ok(match r {
            AssetRef::Id(id) => self.store().asset(AssetId(*id)).await?,
            AssetRef::Name(name) => match name.parse::<i64>() {
                Ok(id) => self.store().asset(AssetId(id)).await?,
                Err(_) => self.store().asset_by_name(name).await?,
            },
        })
    }

    /// Forgets the pinned host key, so the next connection pins the key it finds.
    /// For machines that were reinstalled; a changed key is otherwise refused.
    pub async fn accept_new_host_key(&self, by: &Executor, asset: AssetId) -> Result<()> {
        let a = self.store().asset(asset).await?;
        self.store().clear_host_key(asset).await?;
        let old = a.host_key_fingerprint.as_deref().unwrap_or("none");
        self.audit_done(by, AuditAction::AcceptHostKey, &format!("asset {} '{}', old key {old}", a.id, a.name)).await;
        Ok(())
    }
}
