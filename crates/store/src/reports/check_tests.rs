use super::{REFUSED_EXAMPLES as BAD, check_report_sql};

#[test]
fn selects_over_views_pass() {
    for sql in [
        "SELECT AssetID, name FROM report_assets WHERE os LIKE 'Debian%' ORDER BY name",
        "SELECT a.AssetID, COUNT(*) AS n FROM report_assets a JOIN report_software s ON s.AssetID = a.AssetID \
         GROUP BY a.AssetID HAVING COUNT(*) > 1",
        "WITH recent AS (SELECT AssetID FROM report_targets WHERE state = 'failed') \
         SELECT AssetID FROM recent UNION SELECT AssetID FROM report_assets WHERE os IS NULL",
        "SELECT AssetID FROM report_assets WHERE AssetID IN (SELECT AssetID FROM report_software WHERE name = $1);",
        "select lower(name), coalesce(os, 'unknown') from REPORT_ASSETS -- a comment",
    ] {
        check_report_sql(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[test]
fn bad_patterns_are_refused() {
    for (sql, words) in BAD {
        let e = check_report_sql(sql).expect_err(sql).to_string();
        assert!(e.starts_with("report refused") && e.contains(words), "{sql}: {e}");
    }
}
