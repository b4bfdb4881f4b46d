//! The asset list as SQL: a case-insensitive substring filter per column (on OS,
//! architecture and domain matched against the column's few distinct values first), an
//! installed software filter (a name prefix that seeks the `LOWER(name)` index, or a slower
//! substring), a sort and a page, with the count of matches (exact up to 10,000). Runs on
//! both backends.

use crate::assets::COLUMNS;
use crate::sqlite_writer::FromRow;
use crate::{Result, Store};
use drover_domain::asset::Asset;
use drover_domain::asset_search::{AssetColumn, AssetCount, AssetSearch};
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

/// How a `software=` name prefix is tested. Measured at 100,000 assets × 300 software rows
/// (see the README's "Benchmark" on `bench-inventory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SoftwarePlan {
    /// The matching assets are listed once from the `LOWER(name)` index (0015) and hashed:
    /// cheap when few software rows match, and what a whole search reads anyway.
    List,
    /// Each asset the query walks (in the sort's order) is tested with one seek in the
    /// `(asset_id, LOWER(name))` index (0016): a page of a prefix that matches most assets
    /// stops after the page instead of first listing tens of thousands of matches.
    PerAsset,
}

/// The bounds of an asset search's work: [`Store::search_assets`] uses the defaults; tests
/// set small ones to exercise both sides of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchBounds {
    /// Matches are counted exactly up to this many.
    pub count_up_to: i64,
    /// From this many software rows in a prefix's range, a page tests asset by asset
    /// ([`SoftwarePlan::PerAsset`]).
    pub per_asset_from: i64,
    /// A filter on a column of few values ([`FEW_VALUED`]) is first matched against the
    /// column's distinct values when it holds at most this many.
    pub values_up_to: i64,
}

impl Default for SearchBounds {
    fn default() -> SearchBounds {
        SearchBounds { count_up_to: AssetCount::EXACT_UP_TO, per_asset_from: 2_000, values_up_to: 256 }
    }
}

/// Columns that hold few distinct values in an inventory (a fleet runs a handful of OS
/// releases, two or three architectures, a few domains), each with a `(column, id)` index.
/// A substring filter on one is matched against those values first and becomes
/// `column IN (…)`: an index range instead of `LOWER(column) LIKE` on every asset, which
/// PostgreSQL answered for a deep page (`os=debian&sort=os&dir=desc&offset=5000`) by
/// reading and sorting all 50,000 matches.
const FEW_VALUED: [AssetColumn; 3] = [AssetColumn::Os, AssetColumn::Arch, AssetColumn::Domain];

/// A column filter's matching values, found among the column's distinct values.
type ColumnValues = Vec<(AssetColumn, Vec<String>)>;

/// The software filter's text as a lower-case name prefix, or None for `*text` (a
/// substring).
fn software_prefix(text: &str) -> Option<String> {
    let text = text.trim();
    if text.starts_with('*') { None } else { Some(text.trim_end_matches('*').to_ascii_lowercase()) }
}

/// `LOWER(s.name) >= $n [AND LOWER(s.name) < $m]`: the names that start with `prefix`
/// (lower case), in byte order (PostgreSQL's column has collation "C").
fn software_range(prefix: &str, binds: &mut Vec<String>) -> String {
    binds.push(prefix.to_string());
    let mut range = format!("LOWER(s.name) >= ${}", binds.len());
    if let Some(end) = prefix_end(prefix) {
        binds.push(end);
        range.push_str(&format!(" AND LOWER(s.name) < ${}", binds.len()));
    }
    range
}

/// The condition of the `software=` filter. `*text`: some installed package's name
/// contains `text` (ignoring case), which reads every software row of every asset it
/// tests. Otherwise `text` (a trailing `*` allowed) is a name prefix (ignoring ASCII case,
/// like `LOWER` on both backends): a range over `LOWER(name)` in byte order, which holds
/// exactly the names with that prefix, tested as `plan` says.
fn software_condition(text: &str, plan: SoftwarePlan, binds: &mut Vec<String>) -> String {
    let Some(prefix) = software_prefix(text) else {
        let inner = text.trim().strip_prefix('*').unwrap_or_default();
        binds.push(like_pattern(inner.trim_end_matches('*')));
        return format!(
            "EXISTS (SELECT 1 FROM asset_software s WHERE s.asset_id = assets.id AND LOWER(s.name) LIKE ${} ESCAPE '\\')",
            binds.len()
        );
    };
    let range = software_range(&prefix, binds);
    match plan {
        // A scalar subquery, not EXISTS: neither backend turns it into a join that first
        // lists every match (and SQLite 3.50 answered an EXISTS page ignoring its OFFSET).
        SoftwarePlan::PerAsset => {
            format!("(SELECT 1 FROM asset_software s WHERE s.asset_id = assets.id AND {range} LIMIT 1) IS NOT NULL")
        }
        // The LIMIT (no bound in practice) keeps PostgreSQL from turning the IN into a
        // per-asset semi join: the matches are read once from the index and hashed
        // (SQLite builds the same list either way).
        SoftwarePlan::List => {
            format!("assets.id IN (SELECT s.asset_id FROM asset_software s WHERE {range} LIMIT {})", i64::MAX)
        }
    }
}

/// The least string above every string that starts with `prefix`, in byte (code point)
/// order: its last character that has a successor, incremented, and what follows cut off.
/// None when there is no such string (an empty prefix, or only `char::MAX`).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => 0xE000, // past the surrogates, which are no chars
            n => n,
        };
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The WHERE clause (with `$1..` placeholders) and the values to bind. A column filter
/// in `values` is `column IN` those values (the ones its substring matches), else a LIKE.
fn where_clause(q: &AssetSearch, plan: SoftwarePlan, values: &ColumnValues) -> (String, Vec<String>) {
    let mut conds = Vec::new();
    let mut binds = Vec::new();
    for c in AssetColumn::ALL.into_iter().filter(|c| c.is_text()) {
        let Some(text) = q.filter(c) else { continue };
        match values.iter().find(|(v, _)| *v == c) {
            Some((_, matching)) if matching.is_empty() => conds.push("1 = 0".to_string()),
            Some((_, matching)) => {
                let mut marks = Vec::new();
                for value in matching {
                    binds.push(value.clone());
                    marks.push(format!("${}", binds.len()));
                }
                conds.push(format!("{} IN ({})", sql_column(c), marks.join(", ")));
            }
            None => {
                binds.push(like_pattern(text));
                conds.push(format!("LOWER({}) LIKE ${} ESCAPE '\\'", sql_column(c), binds.len()));
            }
        }
    }
    if let Some(text) = q.software.as_deref().filter(|t| !t.trim().is_empty()) {
        conds.push(software_condition(text, plan, &mut binds));
    }
    let clause = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    (clause, binds)
}

impl Store {
    /// How many assets match the search (exactly up to [`AssetCount::EXACT_UP_TO`]), and
    /// the requested page of them. Empty (`NULL`) values sort last in both directions on
    /// both backends.
    pub async fn search_assets(&self, q: &AssetSearch) -> Result<(AssetCount, Vec<Asset>)> {
        self.search_assets_within(q, SearchBounds::default()).await
    }

    /// [`Store::search_assets`] within `bounds`: the count stops at the first
    /// `count_up_to + 1` matches instead of reading all of them.
    pub async fn search_assets_within(
        &self,
        q: &AssetSearch,
        bounds: SearchBounds,
    ) -> Result<(AssetCount, Vec<Asset>)> {
        let up_to = bounds.count_up_to.max(0);
        let prefix = q.software.as_deref().filter(|t| !t.trim().is_empty()).and_then(software_prefix);
        let plan = match &prefix {
            Some(p) => self.software_plan(p, bounds.per_asset_from.max(1)).await?,
            None => SoftwarePlan::List,
        };
        let values = self.few_values(q, bounds.values_up_to).await?;
        let (clause, binds) = where_clause(q, plan, &values);
        let n = match (&prefix, plan) {
            // software is the only filter: count assets straight from the LOWER(name) index
            (Some(p), SoftwarePlan::PerAsset) if q.filters.iter().all(|(_, v)| v.trim().is_empty()) => {
                let (sql, binds) = match self.only_name_in_range(p).await? {
                    // one name (`openssl`): the index holds its assets in id order, so the
                    // distinct ids stream and the LIMIT stops the read (PostgreSQL hashed
                    // all 100,000 rows of a range before counting 10,001 of them)
                    Some(name) => (
                        format!(
                            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT s.asset_id FROM asset_software s \
                             WHERE LOWER(s.name) = $1 ORDER BY s.asset_id LIMIT {}) AS counted",
                            up_to.saturating_add(1)
                        ),
                        vec![name],
                    ),
                    None => {
                        let mut binds = Vec::new();
                        let range = software_range(p, &mut binds);
                        let sql = format!(
                            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT s.asset_id FROM asset_software s WHERE {range} LIMIT {}) AS counted",
                            up_to.saturating_add(1)
                        );
                        (sql, binds)
                    }
                };
                self.count(&sql, &binds).await?
            }
            // with other filters, counted over the hashed list: testing every asset those
            // filters pass one seek at a time cost more (`nginx` with `name=host-07` at
            // 100,000 assets: 10,000 seeks, p50 288 ms on SQLite)
            _ => {
                let (clause, binds) = where_clause(q, SoftwarePlan::List, &values);
                let sql = format!(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM assets{clause} LIMIT {}) AS counted",
                    up_to.saturating_add(1)
                );
                self.count(&sql, &binds).await?
            }
        };
        let total = AssetCount::bounded(n, up_to);
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
        Ok((total, rows.iter().map(Asset::from_row).collect::<Result<_>>()?))
    }

    /// The `n` of a `SELECT COUNT(*) AS n …` with `binds` for `$1..`.
    async fn count(&self, sql: &str, binds: &[String]) -> Result<i64> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        for b in binds {
            query = query.bind(b.clone());
        }
        Ok(query.fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// For each filter on a [`FEW_VALUED`] column: the column's distinct values its
    /// substring matches (by `LOWER(value) LIKE`, as the filter itself), found by walking
    /// the column's index from value to value (one seek each); none when the column holds
    /// more than `up_to` values (the filter stays a LIKE).
    async fn few_values(&self, q: &AssetSearch, up_to: i64) -> Result<ColumnValues> {
        let mut found = Vec::new();
        for c in FEW_VALUED {
            let Some(text) = q.filter(c) else { continue };
            let col = sql_column(c);
            let up_to = up_to.max(0);
            let sql = format!(
                "WITH RECURSIVE v(val, n) AS (\
                   SELECT MIN({col}), 1 FROM assets \
                   UNION ALL \
                   SELECT (SELECT MIN({col}) FROM assets WHERE {col} > v.val), v.n + 1 FROM v \
                   WHERE v.val IS NOT NULL AND v.n <= {up_to}) \
                 SELECT val, CAST(n AS BIGINT) AS n FROM v \
                 WHERE val IS NOT NULL AND (n > {up_to} OR LOWER(val) LIKE $1 ESCAPE '\\')"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(like_pattern(text)).fetch_all(&self.pool).await?;
            let (mut matching, mut too_many) = (Vec::with_capacity(rows.len()), false);
            for row in &rows {
                if row.try_get::<i64, _>("n")? > up_to {
                    too_many = true;
                } else {
                    matching.push(row.try_get::<String, _>("val")?);
                }
            }
            if !too_many {
                found.push((c, matching));
            }
        }
        Ok(found)
    }

    /// The lower-case name of every software row in the prefix's range when they all have
    /// the same one (a full package name, the usual search): two seeks, the range's least
    /// and greatest name in the `LOWER(name)` index.
    async fn only_name_in_range(&self, prefix: &str) -> Result<Option<String>> {
        let mut binds = Vec::new();
        let range = software_range(prefix, &mut binds);
        // two subqueries: SQLite seeks for a lone MIN or MAX, but reads the whole range for both
        let sql = format!(
            "SELECT (SELECT MIN(LOWER(s.name)) FROM asset_software s WHERE {range}) AS lo, \
                    (SELECT MAX(LOWER(s.name)) FROM asset_software s WHERE {range}) AS hi"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b.clone());
        }
        let row = query.fetch_one(&self.pool).await?;
        let (lo, hi): (Option<String>, Option<String>) = (row.try_get("lo")?, row.try_get("hi")?);
        Ok(lo.filter(|lo| hi.as_ref() == Some(lo)))
    }

    /// How to test the software name prefix `prefix` (lower case): asset by asset when its
    /// range holds at least `per_asset_from` software rows (reading at most that many).
    async fn software_plan(&self, prefix: &str, per_asset_from: i64) -> Result<SoftwarePlan> {
        let mut binds = Vec::new();
        let range = software_range(prefix, &mut binds);
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM asset_software s WHERE {range} LIMIT {per_asset_from}) AS r"
        );
        let rows = self.count(&sql, &binds).await?;
        Ok(if rows >= per_asset_from { SoftwarePlan::PerAsset } else { SoftwarePlan::List })
    }

    /// Every asset the search's filters match (its page is ignored), by name: candidates
    /// the engine narrows further (an overview entry's assets).
    pub async fn assets_filtered(&self, q: &AssetSearch) -> Result<Vec<Asset>> {
        let (clause, binds) = where_clause(q, SoftwarePlan::List, &Vec::new());
        let sql = format!("SELECT {COLUMNS} FROM assets{clause} ORDER BY name, id");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b.clone());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Asset::from_row).collect()
    }

    /// The id and name of every asset the search's filters match (its page is ignored),
    /// by name.
    pub async fn assets_matching(&self, q: &AssetSearch) -> Result<Vec<(AssetId, String)>> {
        let (clause, binds) = where_clause(q, SoftwarePlan::List, &Vec::new());
        let sql = format!("SELECT id, name FROM assets{clause} ORDER BY name, id");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b.clone());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((AssetId(r.try_get("id")?), r.try_get("name")?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{SoftwarePlan, like_pattern, prefix_end, software_condition};

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(like_pattern(" Web_1% "), "%web\\_1\\%%");
    }

    #[test]
    fn a_prefix_ends_at_its_successor() {
        assert_eq!(prefix_end("openssl").as_deref(), Some("openssm"));
        assert_eq!(prefix_end("pkg-12").as_deref(), Some("pkg-13"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn software_is_a_prefix_unless_it_starts_with_a_star() {
        let mut binds = Vec::new();
        let sql = software_condition(" OpenSSL* ", SoftwarePlan::List, &mut binds);
        assert_eq!(
            sql,
            "assets.id IN (SELECT s.asset_id FROM asset_software s WHERE LOWER(s.name) >= $1 AND LOWER(s.name) < $2 \
             LIMIT 9223372036854775807)"
        );
        assert_eq!(binds, ["openssl", "openssm"]);
        let mut binds = vec!["x".to_string()];
        let sql = software_condition("*SSL_*", SoftwarePlan::List, &mut binds);
        assert!(sql.contains("LOWER(s.name) LIKE $2 ESCAPE"), "{sql}");
        assert_eq!(binds, ["x", "%ssl\\_%"]);
        let mut binds = Vec::new();
        let sql = software_condition("nginx", SoftwarePlan::PerAsset, &mut binds);
        assert_eq!(
            sql,
            "(SELECT 1 FROM asset_software s WHERE s.asset_id = assets.id AND LOWER(s.name) >= $1 \
             AND LOWER(s.name) < $2 LIMIT 1) IS NOT NULL"
        );
        assert_eq!(binds, ["nginx", "nginy"]);
    }
}
