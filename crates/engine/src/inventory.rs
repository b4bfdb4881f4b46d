//! Assets and scanning credentials.

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_api::assets::AssetRef;
use drover_api::credentials::Mapping;
use drover_domain::asset::{Asset, NewAsset};
use drover_domain::audit::AuditAction;
use drover_domain::credential::{Credential, CredentialMapping, NewCredential};
use drover_domain::executor::Executor;
use drover_domain::ids::{AssetId, CredentialId, MappingId};
use drover_domain::scope::{Domain, IpRange, Scope};

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

    /// Maps a credential to the scope the request names (exactly one of asset, IP
    /// range, domain, global). Admin only: the caller checks the role. `by` goes to the
    /// audit log.
    pub async fn map_credential(
        &self,
        by: &Executor,
        credential: CredentialId,
        m: &Mapping,
    ) -> Result<CredentialMapping> {
        let mapping = self.add_mapping(credential, m).await?;
        let detail = format!("credential {credential} to {}, priority {}", mapping.scope, mapping.priority);
        self.audit_done(by, AuditAction::CredentialMap, &detail).await;
        Ok(mapping)
    }

    async fn add_mapping(&self, credential: CredentialId, m: &Mapping) -> Result<CredentialMapping> {
        self.store().credential(credential).await?;
        let given = usize::from(m.asset.is_some())
            + usize::from(m.range.is_some())
            + usize::from(m.domain.is_some())
            + usize::from(m.global);
        if given != 1 {
            return Err(EngineError::Invalid(
                "name exactly one scope: asset, range (10.0.0.0/24 or 10.0.0.5-10.0.0.40), domain (corp.example) or global (true)".into(),
            ));
        }
        let scope = if let Some(a) = &m.asset {
            Scope::Asset(self.resolve_asset(a).await?.id)
        } else if let Some(r) = &m.range {
            Scope::IpRange(IpRange::parse(r).map_err(EngineError::Invalid)?)
        } else if let Some(d) = &m.domain {
            Scope::Domain(Domain::parse(d).map_err(EngineError::Invalid)?)
        } else {
            Scope::Global
        };
        let mapping = CredentialMapping { id: None, credential_id: credential, scope, priority: m.priority };
        Ok(self.store().add_mapping(&mapping).await?)
    }

    /// The mappings of one credential.
    pub async fn credential_mappings(&self, credential: CredentialId) -> Result<Vec<CredentialMapping>> {
        self.store().credential(credential).await?;
        Ok(self.store().mappings_of(credential).await?)
    }

    pub async fn unmap_credential(&self, by: &Executor, credential: CredentialId, mapping: MappingId) -> Result<()> {
        self.store().delete_mapping(credential, mapping).await?;
        self.audit_done(by, AuditAction::CredentialUnmap, &format!("credential {credential}, mapping {mapping}")).await;
        Ok(())
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
            self.add_mapping(c.id, &Mapping::to_asset(AssetRef::Id(asset.id.0), 0)).await?;
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
}
