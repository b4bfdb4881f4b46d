//! Inventory: what scans learn per asset (facts, interfaces, software and its history),
//! the candidates of the identity rule, and the scan targets with their due runs.

use crate::assets::{macs_json, not_found};
use crate::error::{corrupt, unique_as};
use crate::{Result, Store, StoreError};
use drover_domain::deployment::{Deployment, Target};
use drover_domain::ids::{AssetId, ScanTargetId};
use drover_domain::inventory::{Candidate, ChangeKind, Interface, ScanFacts, Software, SoftwareChange, diff_software};
use drover_domain::scan::{NewScanTarget, ScanCounts, ScanSchedule, ScanTarget};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Rows per multi-row INSERT (three or four values each: well under both backends' limits).
const CHUNK: usize = 200;

fn json<T: serde::Serialize>(v: &T, what: &str) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(format!("cannot encode {what}: {e}")))
}

const TARGET_COLUMNS: &str = "id, name, target, ssh_port, schedule, enabled, next_scan_ms, last_scan_ms, created_ms, \
     last_probed, last_answered, last_failed";

fn counts(row: &AnyRow) -> Result<Option<ScanCounts>> {
    let get = |c: &str| -> Result<Option<u64>> {
        let v: Option<i64> = row.try_get(c)?;
        v.map(|n| u64::try_from(n).map_err(|_| corrupt("scan count", n))).transpose()
    };
    Ok(match (get("last_probed")?, get("last_answered")?, get("last_failed")?) {
        (Some(probed), Some(answered), Some(failed)) => Some(ScanCounts { probed, answered, failed }),
        _ => None,
    })
}

/// A target of a package version on an asset that succeeded or has not ended yet.
fn done_or_running_sql() -> String {
    format!(
        "SELECT 1 AS one FROM targets t JOIN deployments d ON d.id = t.deployment_id \
         WHERE t.asset_id = $1 AND d.package_name = $2 AND d.package_version = $3 \
         AND (t.state = '{}' OR t.state NOT IN {}) LIMIT 1",
        drover_domain::deployment::TargetState::Success.as_str(),
        crate::deployments::final_states_sql()
    )
}

fn target_from_row(row: &AnyRow) -> Result<ScanTarget> {
    let schedule: String = row.try_get("schedule")?;
    let port: i64 = row.try_get("ssh_port")?;
    Ok(ScanTarget {
        id: ScanTargetId(row.try_get("id")?),
        target: NewScanTarget {
            name: row.try_get("name")?,
            target: row.try_get("target")?,
            ssh_port: u16::try_from(port).map_err(|_| corrupt("SSH port", port))?,
            schedule: serde_json::from_str::<ScanSchedule>(&schedule)
                .map_err(|_| corrupt("scan schedule", &schedule))?,
            enabled: row.try_get::<i64, _>("enabled")? != 0,
        },
        next_scan_ms: row.try_get("next_scan_ms")?,
        last_scan_ms: row.try_get("last_scan_ms")?,
        last_result: counts(row)?,
        created_ms: row.try_get("created_ms")?,
    })
}

impl Store {
    // ---- scan targets ----

    /// Adds a scan target (names are unique) with its first scheduled run.
    pub async fn create_scan_target(
        &self,
        t: &NewScanTarget,
        next_scan_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<ScanTarget> {
        let row = sqlx::query(
            "INSERT INTO scan_targets (name, target, ssh_port, schedule, enabled, next_scan_ms, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&t.name)
        .bind(&t.target)
        .bind(i64::from(t.ssh_port))
        .bind(json(&t.schedule, "the scan schedule")?)
        .bind(i64::from(t.enabled))
        .bind(next_scan_ms)
        .bind(now_ms)
        .fetch_one(self.writer())
        .await
        .map_err(unique_as(|| format!("a scan target named '{}' already exists", t.name)))?;
        self.scan_target(ScanTargetId(row.try_get("id")?)).await
    }

    pub async fn scan_target(&self, id: ScanTargetId) -> Result<ScanTarget> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TARGET_COLUMNS} FROM scan_targets WHERE id = $1")))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("scan target {id} not found")))?;
        target_from_row(&row)
    }

    pub async fn scan_target_by_name(&self, name: &str) -> Result<ScanTarget> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TARGET_COLUMNS} FROM scan_targets WHERE name = $1")))
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no scan target named '{name}'")))?;
        target_from_row(&row)
    }

    pub async fn list_scan_targets(&self) -> Result<Vec<ScanTarget>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TARGET_COLUMNS} FROM scan_targets ORDER BY name")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(target_from_row).collect()
    }

    pub async fn delete_scan_target(&self, id: ScanTargetId) -> Result<()> {
        let done = sqlx::query("DELETE FROM scan_targets WHERE id = $1").bind(id.0).execute(self.writer()).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("scan target {id} not found")));
        }
        Ok(())
    }

    /// Replaces a scan target's definition (names stay unique), with its next run.
    pub async fn update_scan_target(
        &self,
        id: ScanTargetId,
        t: &NewScanTarget,
        next_scan_ms: Option<i64>,
    ) -> Result<ScanTarget> {
        let done = sqlx::query(
            "UPDATE scan_targets SET name = $1, target = $2, ssh_port = $3, schedule = $4, enabled = $5, \
             next_scan_ms = $6 WHERE id = $7",
        )
        .bind(&t.name)
        .bind(&t.target)
        .bind(i64::from(t.ssh_port))
        .bind(json(&t.schedule, "the scan schedule")?)
        .bind(i64::from(t.enabled))
        .bind(next_scan_ms)
        .bind(id.0)
        .execute(self.writer())
        .await
        .map_err(unique_as(|| format!("a scan target named '{}' already exists", t.name)))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("scan target {id} not found")));
        }
        self.scan_target(id).await
    }

    /// Enables or disables a scan target, with its next scheduled run.
    pub async fn set_scan_target_enabled(
        &self,
        id: ScanTargetId,
        enabled: bool,
        next_scan_ms: Option<i64>,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE scan_targets SET enabled = $1, next_scan_ms = $2 WHERE id = $3")
            .bind(i64::from(enabled))
            .bind(next_scan_ms)
            .bind(id.0)
            .execute(self.writer())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("scan target {id} not found")));
        }
        Ok(())
    }

    /// Enabled scan targets whose next run is at or before `now_ms`.
    pub async fn due_scan_targets(&self, now_ms: i64) -> Result<Vec<ScanTarget>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM scan_targets WHERE enabled = 1 AND next_scan_ms <= $1 ORDER BY next_scan_ms"
        )))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(target_from_row).collect()
    }

    /// Claims the run due at `due_ms` by moving the target to its next run: true for the
    /// one node (or tick) that moved it, false when another did first.
    pub async fn claim_scan(
        &self,
        id: ScanTargetId,
        due_ms: i64,
        next_scan_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE scan_targets SET next_scan_ms = $1, last_scan_ms = $2 WHERE id = $3 AND next_scan_ms = $4",
        )
        .bind(next_scan_ms)
        .bind(now_ms)
        .bind(id.0)
        .bind(due_ms)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that a scan of the target ran (a manual run).
    pub async fn mark_scan_target_run(&self, id: ScanTargetId, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE scan_targets SET last_scan_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Records what a finished scan of the target found.
    pub async fn record_scan_result(&self, id: ScanTargetId, c: ScanCounts) -> Result<()> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sqlx::query("UPDATE scan_targets SET last_probed = $1, last_answered = $2, last_failed = $3 WHERE id = $4")
            .bind(n(c.probed))
            .bind(n(c.answered))
            .bind(n(c.failed))
            .bind(id.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The guard of scan-triggered deployments, atomic: unless a target of this package
    /// version on the asset succeeded or has not ended yet, creates the deployment `d`
    /// (one target: that asset), in one transaction that first locks the asset's row, so
    /// two scans of one machine finishing at once start one deployment, never two.
    /// `None`: it succeeded or runs there already.
    pub async fn create_deployment_unless_done_or_running(
        &self,
        asset: AssetId,
        d: &crate::NewDeployment,
        now_ms: i64,
    ) -> Result<Option<(Deployment, Vec<Target>)>> {
        let mut tx = self.begin().await?;
        // a write first: PostgreSQL locks the row until commit; SQLite takes its one
        // write lock (a deferred transaction that read first could not upgrade)
        let locked = sqlx::query("UPDATE assets SET name = name WHERE id = $1").bind(asset.0).execute(&mut *tx).await?;
        if locked.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!("asset {asset} not found")));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(done_or_running_sql()))
            .bind(asset.0)
            .bind(&d.package_name)
            .bind(&d.package_version)
            .fetch_optional(&mut *tx)
            .await?;
        if row.is_some() {
            return Ok(None);
        }
        let created = crate::deployments::insert_deployment(&mut tx, d, now_ms).await?;
        tx.commit().await?;
        Ok(Some(created))
    }

    // ---- identity ----

    /// The assets the identity rule chooses from: those with the machine id, any of the
    /// MACs (of their scanned interfaces or as typed), or the address.
    pub async fn identity_candidates(
        &self,
        machine_id: Option<&str>,
        macs: &[String],
        address: &str,
    ) -> Result<Vec<Candidate>> {
        let mut ids: Vec<i64> = Vec::new();
        let mut push = |rows: Vec<AnyRow>| -> Result<()> {
            for r in rows {
                let id: i64 = r.try_get("id")?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Ok(())
        };
        if let Some(mid) = machine_id.filter(|m| !m.is_empty()) {
            push(sqlx::query("SELECT id FROM assets WHERE machine_id = $1").bind(mid).fetch_all(&self.pool).await?)?;
        }
        for mac in macs {
            push(
                sqlx::query(
                    "SELECT asset_id AS id FROM asset_interfaces WHERE mac = $1 \
                     UNION SELECT id FROM assets WHERE macs LIKE $2",
                )
                .bind(mac)
                .bind(format!("%\"{mac}\"%"))
                .fetch_all(&self.pool)
                .await?,
            )?;
        }
        push(
            sqlx::query("SELECT id FROM assets WHERE LOWER(address) = LOWER($1)")
                .bind(address)
                .fetch_all(&self.pool)
                .await?,
        )?;
        let mut out = Vec::new();
        for id in ids {
            let a = self.asset(AssetId(id)).await?;
            let mut macs = a.macs.clone();
            for i in self.asset_interfaces(a.id).await? {
                if let Some(m) = i.mac.filter(|m| !macs.contains(m)) {
                    macs.push(m);
                }
            }
            out.push(Candidate { id: a.id, machine_id: a.facts.machine_id, macs, address: a.address });
        }
        Ok(out)
    }

    /// Whether an asset has this name.
    pub async fn asset_name_taken(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 AS one FROM assets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    // ---- scan results ----

    /// Keeps a scan's failure on the asset (the facts stay as the last success left them).
    pub async fn set_scan_error(&self, id: AssetId, message: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE assets SET last_scan_error = $1, last_scan_error_ms = $2 WHERE id = $3")
            .bind(message)
            .bind(now_ms)
            .bind(id.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Records a successful scan of asset `id` at `address`, in one transaction: the
    /// facts, interfaces and software replace the stored ones, the error is cleared, and
    /// the software changes since the last successful scan are appended to the history
    /// (none on the first one: everything would read as just installed). Returns them.
    pub async fn record_scan(
        &self,
        id: AssetId,
        address: &str,
        f: &ScanFacts,
        now_ms: i64,
    ) -> Result<Vec<SoftwareChange>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT last_scan_ok_ms FROM assets WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found(id))?;
        let scanned_before = row.try_get::<Option<i64>, _>("last_scan_ok_ms")?.is_some();
        let macs = f.macs();
        let macs = if macs.is_empty() { None } else { Some(macs_json(&macs)?) };
        sqlx::query(
            "UPDATE assets SET address = $1, hostname = COALESCE($2, hostname), os = COALESCE($3, os), \
             arch = COALESCE($4, arch), macs = COALESCE($5, macs), last_seen_ms = $6, fqdn = $7, domain = $8, \
             os_version = $9, kernel = $10, cpu_model = $11, cpu_count = $12, memory_bytes = $13, disks = $14, \
             last_boot_ms = $15, logged_on_users = $16, machine_id = COALESCE($17, machine_id), \
             first_seen_ms = COALESCE(first_seen_ms, $6), last_scan_ok_ms = $6, last_scan_error = NULL, \
             last_scan_error_ms = NULL, machine_type = $19, pending_reboot = $20 WHERE id = $18",
        )
        .bind(address)
        .bind(f.hostname.as_deref())
        .bind(f.os.as_deref())
        .bind(f.arch.as_deref())
        .bind(macs)
        .bind(now_ms)
        .bind(f.fqdn.as_deref())
        .bind(f.domain.as_deref())
        .bind(f.os_version.as_deref())
        .bind(f.kernel.as_deref())
        .bind(f.cpu_model.as_deref())
        .bind(f.cpu_count)
        .bind(f.memory_bytes)
        .bind(json(&f.disks, "the disk list")?)
        .bind(f.last_boot_ms)
        .bind(json(&f.users, "the user list")?)
        .bind(f.machine_id.as_deref())
        .bind(id.0)
        .bind(f.machine_type.map(|t| t.as_str()))
        .bind(f.pending_reboot.map(i64::from))
        .execute(&mut *tx)
        .await?;
        replace_logins(&mut tx, id, f, now_ms).await?;

        sqlx::query("DELETE FROM asset_interfaces WHERE asset_id = $1").bind(id.0).execute(&mut *tx).await?;
        for chunk in f.interfaces.chunks(CHUNK) {
            let values: Vec<String> =
                (0..chunk.len()).map(|i| format!("($1, ${}, ${}, ${})", 2 + 3 * i, 3 + 3 * i, 4 + 3 * i)).collect();
            let sql =
                format!("INSERT INTO asset_interfaces (asset_id, name, mac, addresses) VALUES {}", values.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0);
            for i in chunk {
                q = q.bind(i.name.clone()).bind(i.mac.clone()).bind(i.addresses.join(" "));
            }
            q.execute(&mut *tx).await?;
        }

        let changes = match &f.package_manager {
            None => Vec::new(), // software unknown: keep what the last scan saw
            Some(_) => {
                let old = software_in(&mut tx, id).await?;
                let changes = if scanned_before { diff_software(&old, &f.software, now_ms) } else { Vec::new() };
                sqlx::query("DELETE FROM asset_software WHERE asset_id = $1").bind(id.0).execute(&mut *tx).await?;
                let mut seen = std::collections::HashSet::new();
                let unique: Vec<&Software> = f.software.iter().filter(|s| seen.insert(s.name.as_str())).collect();
                for chunk in unique.chunks(CHUNK) {
                    let values: Vec<String> =
                        (0..chunk.len()).map(|i| format!("($1, ${}, ${})", 2 + 2 * i, 3 + 2 * i)).collect();
                    let sql =
                        format!("INSERT INTO asset_software (asset_id, name, version) VALUES {}", values.join(", "));
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0);
                    for s in chunk {
                        q = q.bind(s.name.clone()).bind(s.version.clone());
                    }
                    q.execute(&mut *tx).await?;
                }
                for c in &changes {
                    sqlx::query(
                        "INSERT INTO software_history (asset_id, name, kind, old_version, new_version, at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id.0)
                    .bind(&c.name)
                    .bind(c.kind.as_str())
                    .bind(c.old_version.as_deref())
                    .bind(c.new_version.as_deref())
                    .bind(c.at_ms)
                    .execute(&mut *tx)
                    .await?;
                }
                changes
            }
        };
        tx.commit().await?;
        Ok(changes)
    }

    /// The asset's installed software, by name; `name_contains` filters (ignoring case).
    pub async fn asset_software(&self, id: AssetId, name_contains: Option<&str>) -> Result<Vec<Software>> {
        let pattern = crate::asset_search::like_pattern(name_contains.unwrap_or(""));
        let rows = sqlx::query(
            "SELECT name, version FROM asset_software WHERE asset_id = $1 AND LOWER(name) LIKE $2 ESCAPE '\\' ORDER BY name",
        )
        .bind(id.0)
        .bind(pattern)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(Software { name: r.try_get("name")?, version: r.try_get("version")? })).collect()
    }

    /// The asset's software history, newest first.
    pub async fn software_history(&self, id: AssetId) -> Result<Vec<SoftwareChange>> {
        let rows = sqlx::query(
            "SELECT name, kind, old_version, new_version, at_ms FROM software_history WHERE asset_id = $1 \
             ORDER BY at_ms DESC, id DESC",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(SoftwareChange {
                    name: r.try_get("name")?,
                    kind: ChangeKind::parse(&kind).ok_or_else(|| corrupt("software change", &kind))?,
                    old_version: r.try_get("old_version")?,
                    new_version: r.try_get("new_version")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    /// The asset's interfaces as the last scan saw them, by name.
    pub async fn asset_interfaces(&self, id: AssetId) -> Result<Vec<Interface>> {
        let rows = sqlx::query("SELECT name, mac, addresses FROM asset_interfaces WHERE asset_id = $1 ORDER BY name")
            .bind(id.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let addresses: String = r.try_get("addresses")?;
                Ok(Interface {
                    name: r.try_get("name")?,
                    mac: r.try_get("mac")?,
                    addresses: addresses.split_whitespace().map(String::from).collect(),
                })
            })
            .collect()
    }
}

/// Replaces the asset's logged-on users: a user still logged on keeps the time first
/// recorded when the host does not tell its login time; a new one starts at the login time
/// the host told, else at `now_ms`.
async fn replace_logins(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: AssetId,
    f: &ScanFacts,
    now_ms: i64,
) -> Result<()> {
    let rows = sqlx::query("SELECT user_name, since_ms FROM asset_logins WHERE asset_id = $1")
        .bind(id.0)
        .fetch_all(&mut **tx)
        .await?;
    let mut before = std::collections::HashMap::new();
    for r in &rows {
        before.insert(r.try_get::<String, _>("user_name")?, r.try_get::<i64, _>("since_ms")?);
    }
    sqlx::query("DELETE FROM asset_logins WHERE asset_id = $1").bind(id.0).execute(&mut **tx).await?;
    let mut seen = std::collections::HashSet::new();
    let users: Vec<&String> = f.users.iter().filter(|u| seen.insert(u.as_str())).collect();
    for chunk in users.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("($1, ${}, ${})", 2 + 2 * i, 3 + 2 * i)).collect();
        let sql = format!("INSERT INTO asset_logins (asset_id, user_name, since_ms) VALUES {}", values.join(", "));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0);
        for u in chunk {
            let since = f.user_since_ms.get(*u).or_else(|| before.get(*u)).copied().unwrap_or(now_ms);
            q = q.bind((*u).clone()).bind(since);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn software_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: AssetId) -> Result<Vec<Software>> {
    let rows = sqlx::query("SELECT name, version FROM asset_software WHERE asset_id = $1")
        .bind(id.0)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| Ok(Software { name: r.try_get("name")?, version: r.try_get("version")? })).collect()
}
