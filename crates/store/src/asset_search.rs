//! The asset list as SQL: a case-insensitive substring filter per column, a sort and a
//! page, with the total count of matches. Runs on both backends (`LOWER(..) LIKE`).

use crate::assets::{COLUMNS, asset_from_row};
use crate::{Result, Store};
use drover_domain::asset::Asset;
use drover_domain::asset_search::{AssetColumn, AssetSearch};
use drover_domain::ids::AssetId;
use sqlx::Row;

/// The SQL column of a search column (a fixed list: never user text).
fn sql_column(c: AssetColumn) -> &'static str {
    match c {
        AssetColumn::Name => "name",
        AssetColumn::Address => "address",
        AssetColumn::Hostname => "hostname",
        AssetColumn::Os => "os",
        AssetColumn::Arch => "arch",
        AssetColumn::Domain => "domain",
        AssetColumn::LastSeen => "last_seen_ms",
    }
}

/// `%text%` for LIKE with `\` escaping LIKE's wildcards, lower case.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for ch in text.trim().to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The WHERE clause (with `$1..` placeholders) and the values to bind.
fn where_clause(q: &AssetSearch) -> (String, Vec<String>) {
    let mut conds = Vec::new();
    let mut binds = Vec::new();
    for c in AssetColumn::ALL.into_iter().filter(|c| c.is_text()) {
        if let Some(text) = q.filter(c) {
            binds.push(like_pattern(text));
            conds.push(format!("LOWER({}) LIKE ${} ESCAPE '\\'", sql_column(c), binds.len()));
        }
    }
    if let Some(text) = q.software.as_deref().filter(|t| !t.trim().is_empty()) {
        // the (asset_id, name) key of asset_software serves it
        binds.push(like_pattern(text));
        conds.push(format!(
            "EXISTS (SELECT 1 FROM asset_software s WHERE s.asset_id = assets.id AND LOWER(s.name) LIKE ${} ESCAPE '\\')",
            binds.len()
        ));
    }
    let clause = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    (clause, binds)
}

impl Store {
    /// How many assets match the search, and the requested page of them. Empty (`NULL`)
    /// values sort last in both directions on both backends.
    pub async fn search_assets(&self, q: &AssetSearch) -> Result<(i64, Vec<Asset>)> {
        let (clause, binds) = where_clause(q);
        let mut count = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM assets{clause}")));
        for b in &binds {
            count = count.bind(b.clone());
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        let col = sql_column(q.sort);
        let dir = if q.descending { "DESC" } else { "ASC" };
        // `NULLS LAST` rather than `(col IS NULL)` first: SQLite then walks the column's
        // index instead of sorting every match (a deep page of 100,000 assets: 100 ms → 20 ms)
        let order = if q.sort == AssetColumn::Name {
            format!("name {dir}, id {dir}")
        } else {
            format!("{col} {dir} NULLS LAST, id {dir}")
        };
        let n = binds.len();
        let sql = format!("SELECT {COLUMNS} FROM assets{clause} ORDER BY {order} LIMIT ${} OFFSET ${}", n + 1, n + 2);
        let mut page = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            page = page.bind(b.clone());
        }
        let rows = page.bind(q.limit.max(0)).bind(q.offset.max(0)).fetch_all(&self.pool).await?;
        Ok((total, rows.iter().map(asset_from_row).collect::<Result<_>>()?))
    }

    /// The ids of every asset the search's filters match (its page is ignored), by name.
    pub async fn asset_ids_matching(&self, q: &AssetSearch) -> Result<Vec<AssetId>> {
        let (clause, binds) = where_clause(q);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id FROM assets{clause} ORDER BY name, id")));
        for b in &binds {
            query = query.bind(b.clone());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(AssetId(r.try_get("id")?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(like_pattern(" Web_1% "), "%web\\_1\\%%");
    }
}
