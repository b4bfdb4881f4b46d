//! Groups: static ones with explicit members, dynamic ones with a rule compiled to SQL
//! (`group_sql`) and resolved whenever they are read.

use crate::error::{corrupt, db_error, unique_as};
use crate::group_sql;
use crate::{Result, Store, StoreError};
use drover_domain::group::{Group, Member, NewGroup, Rule};
use drover_domain::ids::{AssetId, GroupId};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

const COLUMNS: &str = "id, name, description, rule, created_ms";

fn group_from_row(row: &AnyRow) -> Result<Group> {
    let rule: Option<String> = row.try_get("rule")?;
    Ok(Group {
        id: GroupId(row.try_get("id")?),
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        rule: rule.map(|r| serde_json::from_str::<Rule>(&r).map_err(|_| corrupt("group rule", &r))).transpose()?,
        created_ms: row.try_get("created_ms")?,
    })
}

fn member_from_row(row: &AnyRow) -> Result<Member> {
    Ok(Member { asset_id: AssetId(row.try_get("id")?), name: row.try_get("name")? })
}

impl Store {
    /// Adds a group; the name is unique.
    pub async fn create_group(&self, g: &NewGroup, now_ms: i64) -> Result<Group> {
        let rule =
            g.rule.as_ref().map(serde_json::to_string).transpose().map_err(|e| StoreError::Other(e.to_string()))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO asset_groups (name, description, rule, created_ms) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
        )))
        .bind(&g.name)
        .bind(&g.description)
        .bind(rule)
        .bind(now_ms)
        .fetch_one(self.writer())
        .await
        .map_err(unique_as(|| format!("a group named '{}' already exists", g.name)))?;
        group_from_row(&row)
    }

    /// All groups, by name.
    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        let sql = format!("SELECT {COLUMNS} FROM asset_groups ORDER BY name, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(group_from_row).collect()
    }

    pub async fn group(&self, id: GroupId) -> Result<Group> {
        let sql = format!("SELECT {COLUMNS} FROM asset_groups WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0).fetch_optional(&self.pool).await?;
        group_from_row(&row.ok_or_else(|| StoreError::NotFound(format!("group {id} not found")))?)
    }

    pub async fn group_by_name(&self, name: &str) -> Result<Group> {
        let sql = format!("SELECT {COLUMNS} FROM asset_groups WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name).fetch_optional(&self.pool).await?;
        group_from_row(&row.ok_or_else(|| StoreError::NotFound(format!("no group named '{name}'")))?)
    }

    /// Deletes a group and its member list (the assets stay).
    pub async fn delete_group(&self, id: GroupId) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM asset_group_members WHERE group_id = $1").bind(id.0).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM asset_groups WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("group {id} not found")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds an asset to a static group; true if it was not a member yet.
    pub async fn add_group_member(&self, group: GroupId, asset: AssetId) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO asset_group_members (group_id, asset_id) SELECT $1, $2 WHERE NOT EXISTS \
             (SELECT 1 FROM asset_group_members WHERE group_id = $1 AND asset_id = $2)",
        )
        .bind(group.0)
        .bind(asset.0)
        .execute(self.writer())
        .await
        .map_err(|e| db_error(e, String::new, || format!("group {group} or asset {asset} does not exist")))?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes an asset from a static group; true if it was a member.
    pub async fn remove_group_member(&self, group: GroupId, asset: AssetId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM asset_group_members WHERE group_id = $1 AND asset_id = $2")
            .bind(group.0)
            .bind(asset.0)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The group's members now, by name: a static group's list, or the assets a dynamic
    /// group's rule matches at this moment.
    pub async fn group_members(&self, g: &Group) -> Result<Vec<Member>> {
        let Some(rule) = &g.rule else {
            let rows = sqlx::query(
                "SELECT a.id, a.name FROM asset_group_members m JOIN assets a ON a.id = m.asset_id \
                 WHERE m.group_id = $1 ORDER BY a.name, a.id",
            )
            .bind(g.id.0)
            .fetch_all(&self.pool)
            .await?;
            return rows.iter().map(member_from_row).collect();
        };
        let mut versions = HashMap::new();
        for name in rule.software_names() {
            if let std::collections::hash_map::Entry::Vacant(slot) = versions.entry(name.to_lowercase()) {
                let rows = sqlx::query("SELECT DISTINCT version FROM asset_software WHERE LOWER(name) = $1")
                    .bind(slot.key())
                    .fetch_all(&self.pool)
                    .await?;
                slot.insert(rows.iter().map(|r| r.try_get::<String, _>("version")).collect::<Result<Vec<_>, _>>()?);
            }
        }
        let (sql, binds) = group_sql::compile(rule, &versions);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(member_from_row).collect()
    }

    /// Replaces the installed software of an asset (scanning's job; here for tests and
    /// for the software predicate until scans fill it).
    pub async fn set_asset_software(&self, asset: AssetId, software: &[(String, String)]) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM asset_software WHERE asset_id = $1").bind(asset.0).execute(&mut *tx).await?;
        for (name, version) in software {
            sqlx::query("INSERT INTO asset_software (asset_id, name, version) VALUES ($1, $2, $3)")
                .bind(asset.0)
                .bind(name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
