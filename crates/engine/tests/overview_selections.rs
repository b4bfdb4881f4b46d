//! Overview entries as deployment selections over a real SQLite store: the assets an
//! entry resolves to (a SQL prefilter narrowed by the domain's rule) are exactly those
//! the overview counted in it, whatever the case of the value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use drover_domain::asset::{HostFacts, NewAsset};
use drover_domain::inventory::ScanFacts;
use drover_domain::machine::MachineType;
use drover_domain::selection::{OverviewKind, Selection};
use drover_engine::{Engine, EngineConfig};
use drover_store::Store;

/// name, address, host name, OS
const ASSETS: [(&str, &str, Option<&str>, Option<&str>); 9] = [
    ("web1", "10.0.1.5", Some("web1.Example.net"), Some("Debian 12")),
    ("web2", "10.0.1.6", Some("web2.example.net."), Some("debian 12")),
    ("db1", "110.0.1.7", Some("db1.db.example.net"), Some("Debian 11")),
    ("mail", "mail.example.net", None, Some("Rocky 9")),
    ("bare", "10.0.2.1", Some("bare"), None),
    ("blank", "10.0.2.2", Some("blank."), Some("  ")),
    ("v6", "fd00::1", None, Some("Ubuntu 24.04")),
    ("other", "other.example.org", Some("other.example.org"), Some("Debian 12.1")),
    ("ip-name", "10.0.1.9", Some("x.10.0.1.9"), Some("Ubuntu")),
];

#[tokio::test]
async fn overview_entries_resolve_to_their_assets() {
    let dir = tempfile::tempdir().unwrap();
    let deployer = dir.path().join("deployer");
    std::fs::write(&deployer, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0").unwrap();
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("drover.db").display())).await.unwrap();
    for (name, address, hostname, os) in ASSETS {
        let new = NewAsset { name: name.into(), address: address.into(), ssh_port: 22, macs: vec![] };
        let a = store.create_asset(&new, 1).await.unwrap();
        let facts = HostFacts { hostname: hostname.map(Into::into), os: os.map(Into::into), ..HostFacts::default() };
        store.record_facts(a.id, &facts, 2).await.unwrap();
        // two scanned machines have a type; the others stay unknown
        let machine_type = match name {
            "web1" => Some(MachineType::Vm),
            "db1" => Some(MachineType::Container),
            _ => None,
        };
        if machine_type.is_some() {
            let scan = ScanFacts { machine_type, ..ScanFacts::default() };
            store.record_scan(a.id, address, &scan, 3).await.unwrap();
        }
    }
    let engine = Engine::open(store, EngineConfig::new(dir.path().join("data"), deployer)).await.unwrap();
    let all = engine.list_assets().await.unwrap();

    let mut checked = 0;
    for kind in OverviewKind::ALL {
        let mut values: Vec<String> = engine.overview(kind).await.unwrap().into_iter().map(|e| e.value).collect();
        values.extend(
            ["EXAMPLE.NET", "debian 12", "VM", "server", "10.0.1.0/24", "10.0.1.", "unknown", "nope", ""]
                .map(String::from),
        );
        for value in values {
            let expected: Vec<String> =
                all.iter().filter(|a| kind.value_of(a).eq_ignore_ascii_case(&value)).map(|a| a.name.clone()).collect();
            let selection = Selection::Overview { overview: kind, value: value.clone() };
            let got: Vec<String> =
                engine.resolve_selection(&selection).await.unwrap().into_iter().map(|(_, n)| n).collect();
            assert_eq!(got, expected, "{kind:?} = {value:?}");
            checked += usize::from(!got.is_empty());
        }
    }
    // the fixture means something: these entries hold assets
    assert!(checked >= 10, "only {checked} non-empty entries");
    let domain = Selection::Overview { overview: OverviewKind::Domain, value: "EXAMPLE.NET".into() };
    let names: Vec<String> = engine.resolve_selection(&domain).await.unwrap().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["mail", "web1", "web2"]);
    let vm = Selection::Overview { overview: OverviewKind::Type, value: "vm".into() };
    let names: Vec<String> = engine.resolve_selection(&vm).await.unwrap().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["web1"]);
}
