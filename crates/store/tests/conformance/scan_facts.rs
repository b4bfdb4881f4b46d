//! What a scan records beyond software (the kind of machine, a pending reboot and the
//! logged-on users, as the report views show them) and edited scan targets, on both backends.

use crate::conformance;
use drover_domain::asset::NewAsset;
use drover_domain::inventory::ScanFacts;
use drover_domain::machine::MachineType;
use drover_domain::scan::{NewScanTarget, ScanSchedule};
use drover_store::{ReportLimits, Store, StoreError};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

conformance!(logged_on_users_type_and_pending_reboot_reach_the_views, a_scan_target_is_edited_in_place);

async fn rows(s: &Store, sql: &str) -> Vec<Vec<Value>> {
    let limits = ReportLimits { timeout: Duration::from_secs(10), max_rows: 100 };
    s.run_report_sql(sql, &[], limits).await.unwrap_or_else(|e| panic!("{sql}: {e}")).rows
}

async fn logged_on_users_type_and_pending_reboot_reach_the_views(s: Store) {
    let new = |name: &str| NewAsset { name: name.into(), address: "10.0.0.1".into(), ssh_port: 22, macs: vec![] };
    let a = s.create_asset(&new("scanned"), 1).await.unwrap();
    let never = s.create_asset(&new("never"), 1).await.unwrap();
    let first = ScanFacts {
        kernel: Some("6.1".into()),
        users: vec!["alice".into(), "bob".into(), "<b>o'neil</b>".into()],
        user_since_ms: BTreeMap::from([("alice".to_string(), 5_000)]),
        machine_type: Some(MachineType::Container),
        pending_reboot: Some(true),
        ..ScanFacts::default()
    };
    s.record_scan(a.id, "10.0.0.1", &first, 10_000).await.unwrap();
    let logged_on = "SELECT AssetID, user_name, since_ms FROM report_logged_on ORDER BY AssetID, user_name";
    assert_eq!(
        rows(&s, logged_on).await,
        [
            vec![json!(a.id.0), json!("<b>o'neil</b>"), json!(10_000)],
            vec![json!(a.id.0), json!("alice"), json!(5_000)],
            vec![json!(a.id.0), json!("bob"), json!(10_000)],
        ],
        "one row per user: the login time the host told, else the scan's; names as is"
    );
    let kinds = "SELECT AssetID, type, pending_reboot FROM report_assets ORDER BY AssetID";
    assert_eq!(
        rows(&s, kinds).await,
        [vec![json!(a.id.0), json!("container"), json!(1)], vec![json!(never.id.0), Value::Null, Value::Null]]
    );
    let pending = "SELECT AssetID FROM report_assets WHERE pending_reboot = 1 AND type = 'container'";
    assert_eq!(rows(&s, pending).await, [vec![json!(a.id.0)]], "filterable in reports");
    let rule = drover_domain::group::Rule::parse("type equals container and not name equals never").unwrap();
    let g = s
        .create_group(
            &drover_domain::group::NewGroup { name: "c".into(), description: String::new(), rule: Some(rule) },
            1,
        )
        .await
        .unwrap();
    let members: Vec<String> = s.group_members(&g).await.unwrap().into_iter().map(|m| m.name).collect();
    assert_eq!(members, ["scanned"], "a dynamic group's rule tests the type");
    let got = s.asset(a.id).await.unwrap().facts;
    assert_eq!((got.machine_type, got.pending_reboot), (Some(MachineType::Container), Some(true)));
    let unknown = s.asset(never.id).await.unwrap().facts;
    assert_eq!((unknown.machine_type, unknown.pending_reboot), (None, None));

    // a rescan: bob stays (from when first seen), alice and the other left, carol came
    let second = ScanFacts {
        kernel: Some("6.1".into()),
        users: vec!["bob".into(), "carol".into()],
        machine_type: Some(MachineType::Server),
        pending_reboot: Some(false),
        ..ScanFacts::default()
    };
    s.record_scan(a.id, "10.0.0.1", &second, 20_000).await.unwrap();
    assert_eq!(
        rows(&s, logged_on).await,
        [vec![json!(a.id.0), json!("bob"), json!(10_000)], vec![json!(a.id.0), json!("carol"), json!(20_000)]]
    );
    assert_eq!(rows(&s, pending).await, Vec::<Vec<Value>>::new());
    let by_type = "SELECT AssetID, pending_reboot FROM report_assets WHERE type = 'server'";
    assert_eq!(rows(&s, by_type).await, [vec![json!(a.id.0), json!(0)]]);
    let builtin =
        drover_domain::report::builtins().into_iter().find(|b| b.report.sql.contains("pending_reboot")).unwrap();
    assert!(rows(&s, &builtin.report.sql).await.is_empty(), "the built-in pending-reboots report runs");
    // a deleted asset takes its users along
    s.delete_asset(a.id).await.unwrap();
    assert!(rows(&s, logged_on).await.is_empty());
}

async fn a_scan_target_is_edited_in_place(s: Store) {
    let new = |name: &str| NewScanTarget {
        name: name.into(),
        target: "10.0.0.0/24".into(),
        ssh_port: 22,
        schedule: ScanSchedule::Manual,
        enabled: true,
    };
    let lab = s.create_scan_target(&new("lab"), None, 1).await.unwrap();
    s.create_scan_target(&new("other"), None, 1).await.unwrap();
    let changed = NewScanTarget {
        name: "lab-west".into(),
        target: "10.0.1.5-10.0.1.40".into(),
        ssh_port: 2222,
        schedule: ScanSchedule::EveryHours { n: 6 },
        enabled: false,
    };
    let got = s.update_scan_target(lab.id, &changed, Some(99)).await.unwrap();
    assert_eq!((got.id, &got.target, got.next_scan_ms, got.created_ms), (lab.id, &changed, Some(99), 1));
    assert_eq!(s.scan_target_by_name("lab-west").await.unwrap(), got);
    let taken = NewScanTarget { name: "other".into(), ..changed.clone() };
    assert!(matches!(s.update_scan_target(lab.id, &taken, None).await, Err(StoreError::Conflict(_))));
    let gone = drover_domain::ids::ScanTargetId(lab.id.0 + 100);
    assert!(matches!(s.update_scan_target(gone, &changed, None).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.scan_target(lab.id).await.unwrap(), got, "a refused edit changes nothing");
}
