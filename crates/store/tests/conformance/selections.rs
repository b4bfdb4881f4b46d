//! Groups, reports and their safety rules, on both backends.

use crate::conformance;
use drover_domain::asset::{HostFacts, NewAsset};
use drover_domain::group::{NewGroup, Rule};
use drover_domain::report::{NewReport, builtins};
use drover_domain::user::Role;
use drover_store::{REFUSED_EXAMPLES, ReportLimits, STORE_TABLES, Store, StoreError};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

conformance!(
    static_and_dynamic_groups,
    reports_read_the_views,
    builtin_reports_run,
    refused_reports_change_nothing,
    long_reports_are_stopped,
    store_tables_are_all_listed
);

async fn asset(s: &Store, name: &str, address: &str, hostname: &str, os: &str) -> drover_domain::asset::Asset {
    let a = s
        .create_asset(&NewAsset { name: name.into(), address: address.into(), ssh_port: 22, macs: vec![] }, 1)
        .await
        .unwrap();
    let facts =
        HostFacts { hostname: Some(hostname.into()), os: Some(os.into()), arch: Some("x86_64".into()), macs: vec![] };
    s.record_facts(a.id, &facts, 1000).await.unwrap();
    a
}

fn names(m: &[drover_domain::group::Member]) -> Vec<&str> {
    m.iter().map(|m| m.name.as_str()).collect()
}

async fn static_and_dynamic_groups(s: Store) {
    let web1 = asset(&s, "web1", "10.0.0.1", "web1.example.com", "Debian GNU/Linux 12").await;
    let web2 = asset(&s, "web2", "10.0.0.2", "web2.example.com", "Debian GNU/Linux 11").await;
    let db = asset(&s, "db", "10.0.1.3", "db.corp.lan", "Rocky Linux 9").await;
    s.set_asset_software(web1.id, &[("nginx".into(), "1.22.1-9".into())]).await.unwrap();
    s.set_asset_software(web2.id, &[("nginx".into(), "1.24.0-2".into())]).await.unwrap();
    s.set_asset_software(db.id, &[("postgresql".into(), "15.4".into())]).await.unwrap();

    let st =
        s.create_group(&NewGroup { name: "pets".into(), description: String::new(), rule: None }, 1).await.unwrap();
    assert!(s.add_group_member(st.id, db.id).await.unwrap());
    assert!(!s.add_group_member(st.id, db.id).await.unwrap(), "a member once");
    assert!(s.add_group_member(st.id, web2.id).await.unwrap());
    assert_eq!(names(&s.group_members(&st).await.unwrap()), ["db", "web2"]);
    assert!(matches!(s.add_group_member(st.id, drover_domain::ids::AssetId(999)).await, Err(StoreError::NotFound(_))));
    assert!(s.remove_group_member(st.id, web2.id).await.unwrap());
    assert_eq!(names(&s.group_members(&st).await.unwrap()), ["db"]);

    let dynamic =
        |rule: &str| NewGroup { name: rule.into(), description: String::new(), rule: Some(Rule::parse(rule).unwrap()) };
    for (rule, want) in [
        ("os starts-with Debian and software nginx < 1.24", vec!["web1"]),
        ("os starts-with debian", vec!["web1", "web2"]),
        ("not software nginx", vec!["db"]),
        ("domain equals example.com or address starts-with 10.0.1.", vec!["db", "web1", "web2"]),
        ("software nginx >= 1.24 or hostname ends-with .LAN", vec!["db", "web2"]),
        ("name contains '%'", vec![]),
        ("os contains \"' OR 1=1 --\"", vec![]),
    ] {
        let g = s.create_group(&dynamic(rule), 2).await.unwrap();
        assert_eq!(names(&s.group_members(&g).await.unwrap()), want, "{rule}");
    }
    let again = s.create_group(&dynamic("not software nginx"), 3).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again}");
    // a deleted asset leaves its static groups; deleting a group keeps its assets
    s.delete_asset(db.id).await.unwrap();
    assert!(s.group_members(&st).await.unwrap().is_empty());
    s.delete_group(st.id).await.unwrap();
    assert!(matches!(s.group(st.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.list_groups().await.unwrap().len(), 7);
    assert_eq!(
        s.group_by_name("os starts-with debian").await.unwrap().rule,
        Some(Rule::parse("os starts-with debian").unwrap())
    );
}

fn limits() -> ReportLimits {
    ReportLimits { timeout: Duration::from_secs(10), max_rows: 100 }
}

async fn reports_read_the_views(s: Store) {
    let web1 = asset(&s, "web1", "10.0.0.1", "web1.example.com", "Debian 12").await;
    asset(&s, "db", "db.corp.lan", "db", "Rocky 9").await;
    s.set_asset_software(web1.id, &[("curl".into(), "8.0".into())]).await.unwrap();
    let r = s
        .run_report_sql(
            "SELECT a.AssetID, a.name, a.domain, COUNT(s.name) AS software FROM report_assets a \
             LEFT JOIN report_software s ON s.AssetID = a.AssetID GROUP BY a.AssetID, a.name, a.domain ORDER BY a.name",
            &[],
            limits(),
        )
        .await
        .unwrap();
    assert_eq!(r.columns, ["AssetID", "name", "domain", "software"]);
    assert_eq!(r.asset_column(), Some(0));
    assert_eq!(r.rows[0][1..], [json!("db"), json!("corp.lan"), json!(0)]);
    assert_eq!(r.rows[1][1..], [json!("web1"), json!("example.com"), json!(1)]);
    assert!(!r.truncated);
    // parameters are bound; the row cap truncates
    let one = s
        .run_report_sql("SELECT AssetID FROM report_assets WHERE name = $1", &["web1".into()], limits())
        .await
        .unwrap();
    assert_eq!(one.rows, [[json!(web1.id.0)]]);
    let capped = s
        .run_report_sql("SELECT name FROM report_assets ORDER BY name", &[], ReportLimits { max_rows: 1, ..limits() })
        .await
        .unwrap();
    assert_eq!((capped.rows.len(), capped.truncated), (1, true));
    // every view answers its documented columns
    for (view, cols) in drover_domain::report::VIEWS {
        let sql = format!("SELECT {} FROM {view}", cols.join(", "));
        s.run_report_sql(&sql, &[], limits()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let saved = s
        .create_report(
            &NewReport {
                name: "debian".into(),
                description: String::new(),
                sql: "SELECT AssetID FROM report_assets WHERE os LIKE 'Debian%'".into(),
                params: vec![],
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(s.report_by_name("debian").await.unwrap(), saved);
    let bad =
        NewReport { name: "x".into(), description: String::new(), sql: "SELECT * FROM users".into(), params: vec![] };
    assert!(matches!(s.create_report(&bad, 5).await, Err(StoreError::Refused(_))));
    s.delete_report(saved.id).await.unwrap();
    assert!(s.list_reports().await.unwrap().is_empty());
}

async fn builtin_reports_run(s: Store) {
    asset(&s, "web1", "10.0.0.1", "web1", "Debian 12").await;
    let params =
        BTreeMap::from([("package".to_string(), "hello".to_string()), ("software".to_string(), "curl".to_string())]);
    for b in builtins() {
        let given: BTreeMap<String, String> =
            params.iter().filter(|(k, _)| b.report.params.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let binds = b.report.bind_values(&given, 10_000_000_000).unwrap();
        let r = s
            .run_report_sql(&b.report.sql, &binds, limits())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", b.report.name));
        let want_rows = match b.report.name.as_str() {
            "software-missing" | "not-scanned-7-days" => 1,
            _ => 0,
        };
        assert_eq!(r.rows.len(), want_rows, "{}", b.report.name);
    }
}

/// What every refused report must leave as it was.
async fn fingerprint(s: &Store) -> (i64, usize, usize) {
    (s.count_users().await.unwrap(), s.list_assets().await.unwrap().len(), s.list_reports().await.unwrap().len())
}

async fn refused_reports_change_nothing(s: Store) {
    s.create_user("admin", "hash", Role::Admin, 1).await.unwrap();
    asset(&s, "web1", "10.0.0.1", "web1", "Debian 12").await;
    let before = fingerprint(&s).await;
    for (sql, words) in REFUSED_EXAMPLES {
        let e = s.run_report_sql(sql, &[], limits()).await.expect_err(sql);
        assert!(matches!(e, StoreError::Refused(_)) && e.to_string().contains(words), "{sql}: {e}");
        let new = NewReport { name: "bad".into(), description: String::new(), sql: sql.to_string(), params: vec![] };
        assert!(matches!(s.create_report(&new, 1).await, Err(StoreError::Refused(_))), "{sql}");
    }
    assert_eq!(fingerprint(&s).await, before, "nothing changed");
    // a SELECT the checker passes still cannot write: the connection is read-only
    let r = s.run_report_sql("SELECT name FROM report_assets", &[], limits()).await.unwrap();
    assert_eq!(r.rows.len(), 1);
}

async fn long_reports_are_stopped(s: Store) {
    let sql = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000000) \
               SELECT COUNT(*) AS c FROM n";
    let started = Instant::now();
    let e = s
        .run_report_sql(sql, &[], ReportLimits { timeout: Duration::from_millis(300), max_rows: 10 })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ran past its time limit of 300 ms"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(20), "stopped, not run to the end: {:?}", started.elapsed());
    // the store works on afterwards
    assert!(s.list_assets().await.unwrap().is_empty());
}

async fn store_tables_are_all_listed(s: Store) {
    for t in s.table_names().await.unwrap() {
        assert!(
            STORE_TABLES.contains(&t.as_str()) || t.starts_with("report_") || t.starts_with("sqlite_"),
            "table '{t}' is missing from STORE_TABLES: a CTE of that name could shadow it"
        );
    }
}
