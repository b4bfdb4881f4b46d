//! Generated assets for the inventory benchmarks: `host-NNNNNN` at `10.x.y.z`, with OSes
//! and architectures in rotation, inserted straight into the store's tables in batches.

const OSES: [&str; 4] = ["Debian 12", "Debian 11", "Ubuntu 24.04", "Rocky 9"];
const ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// Inserts `n` assets in one transaction, 500 a statement.
pub async fn insert_assets(pool: &sqlx::AnyPool, n: usize) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "('host-{i:06}', '10.{}.{}.{}', 22, '[]', 'host-{i:06}.example.net', '{}', '{}', {}, 1)",
                    i / 65536 % 256,
                    i / 256 % 256,
                    i % 256,
                    OSES[i % OSES.len()],
                    ARCHES[i % ARCHES.len()],
                    1_700_000_000_000i64 + *i as i64 * 1000
                )
            })
            .collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO assets (name, address, ssh_port, macs, hostname, os, arch, last_seen_ms, created_ms) VALUES {}",
            values.join(", ")
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
