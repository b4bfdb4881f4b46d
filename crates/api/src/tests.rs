//! The wire format: the JSON that clients post today keeps meaning the same.

use crate::assets::{AddAsset, AssetRef};
use crate::credentials::Mapping;
use crate::deployments::{DeployRequest, OptionsRequest};
use crate::logs::LogQuery;
use crate::packages::PackageRef;
use crate::{Done, Empty};
use drover_domain::deployment::{DeployOptions, RunMode};
use serde_json::json;

#[test]
fn a_deploy_request_reads_names_ids_and_flat_options() {
    let r: DeployRequest = serde_json::from_value(json!({
        "package": "hello", "assets": ["web1", 7], "run_mode": "logged-on-user",
        "wake_on_lan": true, "retry_interval_secs": 60
    }))
    .unwrap();
    assert_eq!(r.package, PackageRef::Name("hello".into()));
    assert_eq!(r.assets, vec![AssetRef::Name("web1".into()), AssetRef::Id(7)]);
    assert_eq!(r.run_mode, Some(RunMode::LoggedOnUser));
    assert_eq!(
        r.options,
        OptionsRequest { wake_on_lan: Some(true), retry_interval_secs: Some(60), ..Default::default() }
    );
    let o = r.options.over(DeployOptions::default());
    assert!(o.wake_on_lan && o.retry_interval_secs == 60 && o.boot_secs == DeployOptions::default().boot_secs);
    // what the CLI sends: nothing for what it leaves to the server
    let sent = DeployRequest {
        package: PackageRef::parse("3"),
        version: None,
        assets: vec![AssetRef::parse("web1")],
        selection: None,
        run_mode: None,
        options: OptionsRequest::default(),
    };
    assert_eq!(serde_json::to_value(&sent).unwrap(), json!({"package": 3, "assets": ["web1"]}));
    // a selection instead of assets
    let by_group: DeployRequest =
        serde_json::from_value(json!({"package": "hello", "selection": {"kind": "group", "group": "web"}})).unwrap();
    assert!(by_group.assets.is_empty());
    assert_eq!(by_group.selection, Some(drover_domain::selection::Selection::Group { group: "web".into() }));
}

#[test]
fn a_mapping_names_its_scope() {
    assert_eq!(serde_json::from_value::<Mapping>(json!({})).unwrap(), Mapping::default(), "no scope: refused later");
    assert_eq!(serde_json::to_value(Mapping::global(2)).unwrap(), json!({"global": true, "priority": 2}));
    assert_eq!(
        serde_json::to_value(Mapping::to_range("10.0.0.0/24", 0)).unwrap(),
        json!({"range": "10.0.0.0/24", "priority": 0})
    );
    assert_eq!(
        serde_json::to_value(Mapping::to_domain("corp.example", 1)).unwrap(),
        json!({"domain": "corp.example", "priority": 1})
    );
    let m: Mapping = serde_json::from_value(json!({"asset": "fallback", "priority": 5})).unwrap();
    assert_eq!(m, Mapping::to_asset(AssetRef::Name("fallback".into()), 5));
}

#[test]
fn an_asset_request_is_flat() {
    let a: AddAsset =
        serde_json::from_value(json!({"name": "web1", "address": "10.0.0.1", "credential": "root"})).unwrap();
    assert_eq!((a.asset.name.as_str(), a.asset.ssh_port, a.credential.as_deref()), ("web1", 22, Some("root")));
}

#[test]
fn answers_and_queries_keep_their_fields() {
    assert_eq!(serde_json::to_value(Done::new("x")).unwrap(), json!({"ok": true, "message": "x"}));
    assert_eq!(serde_json::from_value::<Done>(json!({"ok": true})).unwrap(), Done::new(""));
    assert_eq!(serde_json::from_value::<Empty>(json!({})).unwrap(), Empty {});
    assert_eq!(serde_json::from_value::<LogQuery>(json!({})).unwrap(), LogQuery::default());
    assert_eq!(LogQuery::default().limit, 100);
    let q = LogQuery { asset: Some(4), ..Default::default() };
    assert_eq!(serde_json::to_value(q).unwrap(), json!({"asset": 4, "limit": 100}));
}

#[test]
fn a_config_request_reads_flat_options_and_defaults_to_enabled() {
    use crate::schedules::ConfigRequest;
    let r: ConfigRequest = serde_json::from_value(json!({
        "name": "nightly web", "schedule": "nightly", "package": "hello", "assets": ["web1", 7],
        "wake_on_lan": true, "boot_secs": 90
    }))
    .unwrap();
    assert!(r.enabled && !r.trigger_on_scan);
    assert_eq!(r.version, None);
    assert_eq!(r.options, OptionsRequest { wake_on_lan: Some(true), boot_secs: Some(90), ..Default::default() });
    let bad = serde_json::from_value::<ConfigRequest>(json!({"name": "x", "package": "p", "assets": [], "colour": 1}));
    assert!(bad.unwrap_err().to_string().contains("colour"));
}
