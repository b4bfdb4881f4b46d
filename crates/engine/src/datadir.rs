//! The data directory's secrets: files created without following symlinks, and the
//! vault key checked against the database before anything is decrypted with it.

use crate::error::{EngineError, Result};
use crate::vault::Vault;
use drover_store::Store;
use std::path::Path;

pub mod tls;

/// The settings key of the vault's check value: a known text sealed with the key at
/// first start, so a different key is noticed before any credential is used.
const CHECK_KEY: &str = "vault.check";

/// Creates a new file readable by its owner only (0600) and writes `bytes`: never
/// through a symlink (`O_NOFOLLOW`) and never over an existing file (`create_new`).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| EngineError::Internal(format!("cannot create {} ({e})", path.display())))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Reads a file of the data directory without following a symlink; None when it does
/// not exist.
pub(crate) fn read_private(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NOFOLLOW).open(path) {
        Ok(mut f) => {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            Ok(Some(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EngineError::Internal(format!(
            "cannot read the key file {} ({e}); it must be a regular file, not a symlink",
            path.display()
        ))),
    }
}

/// Opens the vault key `secret.key` of `data_dir` for this database:
/// - no key and a database that has none of its secrets: a new key (0600) and its check;
/// - no key but sealed credentials or a check value in the database: refused — a new key
///   would make every stored secret undecryptable;
/// - a key that does not open the check value (or, before there was one, a stored
///   credential): refused.
pub async fn open_vault(data_dir: &Path, store: &Store) -> Result<Vault> {
    let path = data_dir.join("secret.key");
    let check = store.setting(CHECK_KEY).await?;
    let credentials = store.list_credentials().await?;
    let vault = match read_private(&path)? {
        Some(key) => Vault::from_key(&key, &path)?,
        None => {
            if check.is_some() || !credentials.is_empty() {
                return Err(EngineError::Internal(format!(
                    "the vault key {} is missing, but this database holds {} credential(s) sealed with a key: \
                     restore secret.key from your backup of the data directory (32 bytes, mode 0600) and start again; \
                     drover does not make a new key, as it would not open them",
                    path.display(),
                    credentials.len()
                )));
            }
            let key = Vault::new_key();
            write_private(&path, &key)?;
            Vault::from_key(&key, &path)?
        }
    };
    let wrong_key = |what: &str| {
        EngineError::Internal(format!(
            "the vault key {} does not open {what} in this database: it is not the key this database was \
             used with. Restore the right secret.key from your backup (or point --data-dir / --database at \
             the pair that belongs together)",
            path.display()
        ))
    };
    match check {
        Some(sealed) => {
            if !vault.opens_check(&sealed) {
                return Err(wrong_key("the check value"));
            }
        }
        None => {
            if let Some(c) = credentials.first() {
                let blob = store.sealed_secret(c.id).await?;
                vault.open(c.id, &blob).map_err(|_| wrong_key(&format!("credential '{}'", c.name)))?;
            }
            store.set_setting(CHECK_KEY, &vault.seal_check()?).await?;
        }
    }
    Ok(vault)
}

#[cfg(test)]
mod tests;
