//! Server nodes sharing one database: their leases, the claim that makes exactly one node
//! drive a target, and cancel requests passed from one node to the node that drives.
//!
//! A node renews its lease (`heartbeat`) every few seconds. A target is claimed with one
//! compare-and-set UPDATE (`claim_target`): it goes to the claimer only if its driver
//! is still the one the claimer saw, and that driver is nobody, the claimer itself, or a
//! node whose lease has ended; and only while the claimer's own lease runs, so a node
//! that could not renew its lease (cut off from the database) cannot claim, nor confirm a
//! claim, after the others may have taken its targets over.

use crate::deployments::{TARGET_COLUMNS, final_states_sql};
use crate::error::corrupt;
use crate::sqlite_writer::{Columns, FromRow, execute, query_row};
use crate::{Result, Store, StoreError};
use drover_domain::deployment::{Target, TargetState};
use drover_domain::ids::{AssetId, TargetId};
use drover_domain::serve_ranges::ServeRanges;
use sqlx::Row;
use std::collections::HashMap;

/// A node of the database, as its last heartbeat left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLease {
    pub name: String,
    pub heartbeat_ms: i64,
    pub lease_until_ms: i64,
    /// The IP ranges it serves, as its last heartbeat wrote them.
    pub serve_ranges: ServeRanges,
    /// Where deployers reach it and its certificate's SHA-256, as it said at its start.
    pub url: Option<String>,
    pub cert_sha256: Option<String>,
}

/// How a claim went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The claimer drives the target now. `from`: the node that drove it before, when
    /// another one (its lease had ended), with the end of that lease if it had one.
    Won { from: Option<(String, Option<i64>)> },
    /// Another node drives it (its lease runs), the target is final, or the claimer's
    /// own lease has ended.
    Lost,
}

/// Who drove the target when a claim began, and that node's lease.
const CLAIM_SEEN: &str =
    "SELECT t.server, n.lease_until_ms FROM targets t LEFT JOIN nodes n ON n.name = t.server WHERE t.id = $1";

/// The compare-and-set UPDATE of a claim: `$1` the claimer, `$2` the target, `$3` the driver
/// seen ('' for none), `$4` now.
fn claim_sql() -> String {
    format!(
        "UPDATE targets SET server = $1 WHERE id = $2 AND finished_ms IS NULL AND state NOT IN {} \
         AND COALESCE(server, '') = $3 \
         AND (server IS NULL OR server = $1 OR NOT EXISTS \
              (SELECT 1 FROM nodes o WHERE o.name = targets.server AND o.lease_until_ms > $4)) \
         AND EXISTS (SELECT 1 FROM nodes m WHERE m.name = $1 AND m.lease_until_ms > $4)",
        final_states_sql()
    )
}

fn claim(won: bool, (seen, lease): (Option<String>, Option<i64>), me: &str) -> Claim {
    if !won {
        return Claim::Lost;
    }
    Claim::Won { from: seen.filter(|s| s != me).map(|s| (s, lease)) }
}

impl Store {
    /// Renews the lease of node `name`: it holds its targets until `lease_until_ms`, and
    /// serves the assets in `ranges`.
    pub async fn heartbeat(&self, name: &str, now_ms: i64, lease_until_ms: i64, ranges: &ServeRanges) -> Result<()> {
        if name.is_empty() {
            return Err(StoreError::Refused("a node needs a name: give it one with --node-name".into()));
        }
        sqlx::query(
            "INSERT INTO nodes (name, heartbeat_ms, lease_until_ms, serve_ranges) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET heartbeat_ms = $2, lease_until_ms = $3, serve_ranges = $4",
        )
        .bind(name)
        .bind(now_ms)
        .bind(lease_until_ms)
        .bind(ranges.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Records where deployers reach node `name` (None: it does not know) and its TLS
    /// certificate's SHA-256; after its first heartbeat.
    pub async fn set_node_address(&self, name: &str, url: Option<&str>, cert_sha256: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE nodes SET url = $2, cert_sha256 = $3 WHERE name = $1")
            .bind(name)
            .bind(url)
            .bind(cert_sha256)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Every node that ever renewed a lease on this database, by name.
    pub async fn nodes(&self) -> Result<Vec<NodeLease>> {
        let rows = sqlx::query(
            "SELECT name, heartbeat_ms, lease_until_ms, serve_ranges, url, cert_sha256 FROM nodes ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let ranges: String = r.try_get("serve_ranges")?;
                Ok(NodeLease {
                    name: r.try_get("name")?,
                    heartbeat_ms: r.try_get("heartbeat_ms")?,
                    lease_until_ms: r.try_get("lease_until_ms")?,
                    serve_ranges: ServeRanges::parse(&[&ranges]).map_err(|_| corrupt("node serve ranges", &ranges))?,
                    url: r.try_get("url")?,
                    cert_sha256: r.try_get("cert_sha256")?,
                })
            })
            .collect()
    }

    /// The addresses of assets `ids`, by asset (an asset that no longer exists is left
    /// out). Read 500 at a time.
    pub async fn asset_addresses(&self, ids: &[AssetId]) -> Result<HashMap<AssetId, String>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT id, address FROM assets WHERE id IN ({})", marks.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.0);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(AssetId(r.try_get("id")?), r.try_get("address")?);
            }
        }
        Ok(out)
    }

    /// Every queued target no node has claimed yet, newest first (as
    /// [`Store::unclaimed_targets`]), with its asset's address (empty when the asset is
    /// gone): what a node that serves only some IP ranges picks from.
    pub async fn unclaimed_target_addresses(&self) -> Result<Vec<(TargetId, String)>> {
        let rows = sqlx::query(
            "SELECT id, (SELECT a.address FROM assets a WHERE a.id = targets.asset_id) AS address FROM targets \
             WHERE finished_ms IS NULL AND server IS NULL AND state = $1 ORDER BY id DESC",
        )
        .bind(TargetState::Queued.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let address: Option<String> = r.try_get("address")?;
                Ok((TargetId(r.try_get("id")?), address.unwrap_or_default()))
            })
            .collect()
    }

    /// Claims target `id` for node `me` at `now_ms` (see the module's rule). One UPDATE
    /// decides, so of several nodes claiming at once exactly one wins.
    pub async fn claim_target(&self, id: TargetId, me: &str, now_ms: i64) -> Result<Claim> {
        let not_found = move || StoreError::NotFound(format!("target {id} not found"));
        let name = me.to_string();
        let on_sqlite = self.on_sqlite_writer(true, move |c| {
            let seen: (Option<String>, Option<i64>) =
                query_row(c, CLAIM_SEEN, &[&id.0], |r| Ok((r.col("server")?, r.col("lease_until_ms")?)))?
                    .ok_or_else(not_found)?;
            let won = execute(c, &claim_sql(), &[&name, &id.0, &seen.0.as_deref().unwrap_or(""), &now_ms])? > 0;
            Ok(claim(won, seen, &name))
        });
        if let Some(done) = on_sqlite.await {
            return done;
        }
        let row = sqlx::query(CLAIM_SEEN).bind(id.0).fetch_optional(&self.pool).await?.ok_or_else(not_found)?;
        let seen: (Option<String>, Option<i64>) = (row.try_get("server")?, row.try_get("lease_until_ms")?);
        let done = sqlx::query(sqlx::AssertSqlSafe(claim_sql()))
            .bind(me)
            .bind(id.0)
            .bind(seen.0.as_deref().unwrap_or(""))
            .bind(now_ms)
            .execute(self.writer())
            .await?;
        Ok(claim(done.rows_affected() > 0, seen, me))
    }

    /// Unfinished targets driven by another node than `me` whose lease has ended at
    /// `now_ms` (or that never had one), oldest first: the ones to take over.
    pub async fn orphaned_targets(&self, me: &str, now_ms: i64) -> Result<Vec<Target>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM targets WHERE finished_ms IS NULL AND state NOT IN {} \
             AND server IS NOT NULL AND server <> $1 AND NOT EXISTS \
             (SELECT 1 FROM nodes o WHERE o.name = targets.server AND o.lease_until_ms > $2) ORDER BY id",
            final_states_sql()
        )))
        .bind(me)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Target::from_row).collect()
    }

    /// Unfinished targets node `me` drives, oldest first.
    pub async fn unfinished_targets_of(&self, me: &str) -> Result<Vec<Target>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM targets WHERE finished_ms IS NULL AND server = $1 AND state NOT IN {} \
             ORDER BY id",
            final_states_sql()
        )))
        .bind(me)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Target::from_row).collect()
    }

    /// Queued targets no node has claimed yet, at most `limit`, newest first (the node
    /// that created a deployment starts its targets oldest first, so another node that
    /// helps starts at the other end and the two rarely reach for the same target).
    pub async fn unclaimed_targets(&self, limit: usize) -> Result<Vec<Target>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM targets WHERE finished_ms IS NULL AND server IS NULL AND state = $1 \
             ORDER BY id DESC LIMIT $2"
        )))
        .bind(TargetState::Queued.as_str())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Target::from_row).collect()
    }

    /// Asks the node that drives unfinished target `id` to cancel it, with `message`.
    /// False when the target has ended.
    pub async fn request_cancel(&self, id: TargetId, message: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE targets SET cancel_requested = $1 WHERE id = $2 AND finished_ms IS NULL")
            .bind(message)
            .bind(id.0)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the cancel requests for the unfinished targets node `me` drives, each once.
    pub async fn take_cancel_requests(&self, me: &str) -> Result<Vec<(TargetId, String)>> {
        let rows = sqlx::query(
            "SELECT id, cancel_requested FROM targets WHERE finished_ms IS NULL AND server = $1 \
             AND cancel_requested IS NOT NULL ORDER BY id",
        )
        .bind(me)
        .fetch_all(&self.pool)
        .await?;
        let mut taken = Vec::new();
        for r in &rows {
            let (id, message): (i64, String) = (r.try_get("id")?, r.try_get("cancel_requested")?);
            let done = sqlx::query(
                "UPDATE targets SET cancel_requested = NULL WHERE id = $1 AND cancel_requested IS NOT NULL",
            )
            .bind(id)
            .execute(self.writer())
            .await?;
            if done.rows_affected() == 1 {
                taken.push((TargetId(id), message));
            }
        }
        Ok(taken)
    }
}
