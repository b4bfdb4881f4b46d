use crate::conformance;
use drover_domain::asset::{HostFacts, NewAsset};
use drover_domain::credential::{CredentialKind, CredentialMapping, SudoMode, credential_order};
use drover_domain::host_key::{HostKey, PinSource};
use drover_domain::ids::{AssetId, CredentialId};
use drover_domain::scope::{Domain, IpRange, Scope, Target};

fn m(credential_id: CredentialId, scope: Scope, priority: i64) -> CredentialMapping {
    CredentialMapping { id: None, credential_id, scope, priority }
}
use drover_store::{Store, StoreError};

conformance!(
    assets,
    credentials_and_mappings,
    mapping_order_and_conflicts,
    missing_things_are_not_found,
    host_keys_belong_to_the_address,
    host_authorities,
    share_locations,
    fifty_scans_at_once_all_land
);

fn pin(address: &str, key: &str, source: PinSource) -> HostKey {
    HostKey {
        address: address.into(),
        port: 22,
        key: key.into(),
        fingerprint: format!("SHA256:{key}"),
        source,
        pinned_by: source.by_admin().then(|| "admin".to_string()),
        pinned_ms: 3,
    }
}

async fn host_keys_belong_to_the_address(s: Store) {
    let a = s.create_asset(&new_asset("web1"), 1).await.unwrap();
    assert!(s.pin_host_key_first_use(&pin("10.0.0.1", "ssh-ed25519 FIRST", PinSource::FirstUse)).await.unwrap());
    assert!(
        !s.pin_host_key_first_use(&pin("10.0.0.1", "ssh-ed25519 OTHER", PinSource::FirstUse)).await.unwrap(),
        "a first-use pin never replaces a pin"
    );
    assert_eq!(s.asset(a.id).await.unwrap().host_key.as_deref(), Some("ssh-ed25519 FIRST"));
    // removing and adding the asset again keeps the pin
    s.delete_asset(a.id).await.unwrap();
    let again = s.create_asset(&new_asset("web1"), 2).await.unwrap();
    assert_eq!(again.host_key.as_deref(), Some("ssh-ed25519 FIRST"));
    // an import adds a key of another type and replaces one of the same type
    s.pin_host_key(&pin("10.0.0.1", "ssh-rsa RSA", PinSource::KnownHosts), false).await.unwrap();
    s.pin_host_key(&pin("10.0.0.1", "ssh-ed25519 ADMIN", PinSource::KnownHosts), false).await.unwrap();
    let keys = s.host_keys("10.0.0.1", 22).await.unwrap();
    let got: Vec<(&str, PinSource)> = keys.iter().map(|k| (k.key.as_str(), k.source)).collect();
    assert_eq!(got, vec![("ssh-ed25519 ADMIN", PinSource::KnownHosts), ("ssh-rsa RSA", PinSource::KnownHosts)]);
    // an admin's trust replaces them all; other ports and addresses are apart
    s.pin_host_key(&pin("10.0.0.1", "ssh-ed25519 NEW", PinSource::Admin), true).await.unwrap();
    assert_eq!(s.host_keys("10.0.0.1", 22).await.unwrap().len(), 1);
    assert!(s.host_keys("10.0.0.1", 2222).await.unwrap().is_empty());
    assert!(s.host_keys("10.0.0.2", 22).await.unwrap().is_empty());
    assert_eq!(s.host_keys("10.0.0.1", 22).await.unwrap()[0].pinned_by.as_deref(), Some("admin"));
    assert_eq!(s.list_host_keys().await.unwrap().len(), 1);
    // the credential that last worked, forgotten when the credential goes
    let c = s.create_credential("c", "root", CredentialKind::Password, SudoMode::None, |_| vec![1], 1).await.unwrap();
    s.set_last_credential(again.id, c.id).await.unwrap();
    assert_eq!(s.last_credential(again.id).await.unwrap(), Some(c.id));
    s.delete_credential(c.id).await.unwrap();
    assert_eq!(s.last_credential(again.id).await.unwrap(), None);
}

async fn host_authorities(s: Store) {
    let ca = s.add_host_authority("ssh-ed25519 CA", "SHA256:ca", "*.corp.example", 4).await.unwrap();
    assert_eq!((ca.hosts.as_str(), ca.created_ms), ("*.corp.example", 4));
    let dup = s.add_host_authority("ssh-ed25519 CA", "SHA256:ca", "*", 5).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(ref m) if m.contains("SHA256:ca")), "{dup:?}");
    assert_eq!(s.list_host_authorities().await.unwrap(), vec![ca.clone()]);
    s.delete_host_authority(ca.id).await.unwrap();
    assert!(matches!(s.delete_host_authority(ca.id).await, Err(StoreError::NotFound(_))));
}

async fn share_locations(s: Store) {
    let range = IpRange::parse("10.1.0.0/16").unwrap();
    let near = s.add_share_location(&range, "http://10.1.0.5:8000", None, 6).await.unwrap();
    assert_eq!(
        (near.range.to_string().as_str(), near.url.as_str(), near.created_ms),
        ("10.1.0.0/16", "http://10.1.0.5:8000", 6)
    );
    let dup = s.add_share_location(&range, "https://other", None, 7).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(ref m) if m.contains("10.1.0.0/16")), "{dup:?}");
    let other = IpRange::parse("192.168.0.1-192.168.0.9").unwrap();
    let far = s.add_share_location(&other, "https://m.example/drover", Some("ab12"), 8).await.unwrap();
    assert_eq!(s.list_share_locations().await.unwrap(), vec![near.clone(), far.clone()]);
    s.delete_share_location(near.id).await.unwrap();
    assert!(matches!(s.delete_share_location(near.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.list_share_locations().await.unwrap(), vec![far]);
}

fn new_asset(name: &str) -> NewAsset {
    NewAsset { name: name.into(), address: "10.0.0.1".into(), ssh_port: 22, macs: vec!["aa:bb:cc:dd:ee:ff".into()] }
}

async fn assets(s: Store) {
    let a = s.create_asset(&new_asset("web1"), 5).await.unwrap();
    assert_eq!((a.name.as_str(), a.ssh_port, a.created_ms), ("web1", 22, 5));
    assert_eq!(a.macs, vec!["aa:bb:cc:dd:ee:ff"]);
    assert!(a.host_key.is_none());
    let err = s.create_asset(&new_asset("web1"), 6).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("'web1'")), "{err:?}");
    assert!(matches!(s.asset(AssetId(999)).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.asset_by_name("nope").await, Err(StoreError::NotFound(_))));
    s.create_asset(&new_asset("app1"), 7).await.unwrap();
    let names: Vec<String> = s.list_assets().await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["app1", "web1"]);

    s.pin_host_key(&pin("10.0.0.1", "ssh-ed25519 AAAA", PinSource::Admin), true).await.unwrap();
    let pinned = s.asset_by_name("web1").await.unwrap();
    assert_eq!(pinned.host_key.as_deref(), Some("ssh-ed25519 AAAA"));
    assert_eq!(pinned.host_key_fingerprint.as_deref(), Some("SHA256:ssh-ed25519 AAAA"));
    assert_eq!(s.last_credential(a.id).await.unwrap(), None);

    let facts = HostFacts {
        hostname: Some("h".into()),
        os: Some("Debian 12".into()),
        arch: Some("x86_64".into()),
        macs: vec![],
    };
    s.record_facts(a.id, &facts, 42).await.unwrap();
    let got = s.asset(a.id).await.unwrap();
    assert_eq!((got.os.as_deref(), got.last_seen_ms), (Some("Debian 12"), Some(42)));
    assert_eq!(got.macs, vec!["aa:bb:cc:dd:ee:ff"], "no MACs learnt: the known ones stay");
    let facts = HostFacts { macs: vec!["02:00:00:00:00:01".into(), "02:00:00:00:00:02".into()], ..facts };
    s.record_facts(a.id, &facts, 43).await.unwrap();
    assert_eq!(s.asset(a.id).await.unwrap().macs, vec!["02:00:00:00:00:01", "02:00:00:00:00:02"]);
    let partial = HostFacts { os: Some("Debian 13".into()), ..HostFacts::default() };
    s.record_facts(a.id, &partial, 44).await.unwrap();
    let got = s.asset(a.id).await.unwrap();
    assert_eq!(
        (got.hostname.as_deref(), got.os.as_deref(), got.arch.as_deref(), got.last_seen_ms),
        (Some("h"), Some("Debian 13"), Some("x86_64"), Some(44)),
        "unknown facts keep the recorded ones"
    );
    s.delete_asset(a.id).await.unwrap();
    assert!(matches!(s.asset(a.id).await, Err(StoreError::NotFound(_))));
}

async fn credentials_and_mappings(s: Store) {
    let c = s
        .create_credential(
            "root-pw",
            "root",
            CredentialKind::Password,
            SudoMode::None,
            |id| format!("sealed-{id}").into_bytes(),
            3,
        )
        .await
        .unwrap();
    assert_eq!(s.sealed_secret(c.id).await.unwrap(), format!("sealed-{}", c.id).into_bytes());
    assert_eq!(s.credential_by_name("root-pw").await.unwrap(), c);
    let dup = s
        .create_credential("root-pw", "x", CredentialKind::Key, SudoMode::NoPassword, |_| vec![1], 4)
        .await
        .unwrap_err();
    assert_eq!(dup, StoreError::Conflict("a credential named 'root-pw' already exists".into()));
    let k = s
        .create_credential("key", "deploy", CredentialKind::Key, SudoMode::NoPassword, |_| vec![0, 1, 255], 5)
        .await
        .unwrap();
    assert_eq!(s.sealed_secret(k.id).await.unwrap(), vec![0, 1, 255], "binary secrets survive");
    assert_eq!(s.credential(k.id).await.unwrap().sudo, SudoMode::NoPassword);

    let a = s.create_asset(&new_asset("web1"), 1).await.unwrap();
    let b = s.create_asset(&new_asset("web2"), 1).await.unwrap();
    let global = s.add_mapping(&m(c.id, Scope::Global, 0)).await.unwrap();
    assert!(global.id.is_some());
    s.add_mapping(&m(k.id, Scope::Asset(a.id), 1)).await.unwrap();
    let again = s.add_mapping(&m(k.id, Scope::Asset(a.id), 2)).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let order = |asset: &drover_domain::asset::Asset, maps: &[CredentialMapping]| {
        credential_order(Target { id: asset.id, address: &asset.address }, maps, None)
    };
    let all = s.all_mappings().await.unwrap();
    assert_eq!(order(&a, &all), vec![k.id, c.id]);
    assert_eq!(order(&b, &all), vec![c.id], "only the global one");
    assert_eq!(s.mappings_of(k.id).await.unwrap().len(), 1);
    s.delete_credential(k.id).await.unwrap();
    assert_eq!(s.all_mappings().await.unwrap().len(), 1, "its mappings went with it");
    assert!(matches!(s.credential(k.id).await, Err(StoreError::NotFound(_))));
}

async fn mapping_order_and_conflicts(s: Store) {
    let mut creds = Vec::new();
    for name in ["c1", "c2", "c3", "c4"] {
        let c =
            s.create_credential(name, "root", CredentialKind::Password, SudoMode::None, |_| vec![7], 1).await.unwrap();
        creds.push(c.id);
    }
    let [c1, c2, c3, c4] = creds[..] else { unreachable!() };
    let a = s.create_asset(&new_asset("web1"), 1).await.unwrap().id;
    let other = s.create_asset(&new_asset("web2"), 1).await.unwrap().id;
    let range = |r: &str| Scope::IpRange(IpRange::parse(r).unwrap());
    let domain = |d: &str| Scope::Domain(Domain::parse(d).unwrap());
    let maps = [
        m(c1, Scope::Global, 0),
        m(c2, Scope::Asset(a), 1),
        m(c3, range("10.0.0.0/24"), 0),
        m(c4, Scope::Asset(other), 0),
        m(c3, Scope::Global, 1),
        m(c4, domain("corp.example"), 0),
    ];
    for mapping in &maps {
        s.add_mapping(mapping).await.unwrap();
    }
    let got = s.all_mappings().await.unwrap();
    let strip = |v: Vec<CredentialMapping>| -> Vec<CredentialMapping> {
        v.into_iter().map(|m| CredentialMapping { id: None, ..m }).collect()
    };
    let mut want = maps.to_vec();
    want.sort_by_key(|m| m.credential_id);
    assert_eq!(strip(got.clone()), want, "scopes survive the round trip");
    assert_eq!(credential_order(Target { id: a, address: "10.0.0.1" }, &got, None), vec![c2, c3, c1]);
    assert_eq!(credential_order(Target { id: a, address: "10.0.0.1" }, &got, Some(c1)), vec![c1, c2, c3]);

    let dup = s.add_mapping(&m(c1, Scope::Global, 5)).await.unwrap_err();
    assert_eq!(dup, StoreError::Conflict(format!("credential {c1} is already mapped to every asset (global)")));
    let dup = s.add_mapping(&m(c2, Scope::Asset(a), 0)).await.unwrap_err();
    assert_eq!(dup, StoreError::Conflict(format!("credential {c2} is already mapped to asset {a}")));
    let dup = s.add_mapping(&m(c3, range("10.0.0.0/24"), 3)).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
    s.add_mapping(&m(c3, range("10.0.0.0/25"), 3)).await.unwrap();
    let missing = s.add_mapping(&m(CredentialId(999), Scope::Asset(a), 0)).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing:?}");
    let missing = s.add_mapping(&m(c1, Scope::Asset(AssetId(999)), 0)).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing:?}");

    s.delete_asset(a).await.unwrap();
    assert!(
        s.all_mappings().await.unwrap().iter().all(|m| m.scope != Scope::Asset(a)),
        "the asset's mappings went with it"
    );
    let c4_maps = s.mappings_of(c4).await.unwrap();
    assert_eq!(c4_maps.len(), 2);
    s.delete_mapping(c4, c4_maps[0].id.unwrap()).await.unwrap();
    assert_eq!(strip(s.mappings_of(c4).await.unwrap()), vec![m(c4, domain("corp.example"), 0)]);
    let gone = s.delete_mapping(c4, c4_maps[0].id.unwrap()).await.unwrap_err();
    assert!(matches!(gone, StoreError::NotFound(_)), "{gone:?}");
    let other_cred = s.delete_mapping(c1, s.mappings_of(c4).await.unwrap()[0].id.unwrap()).await.unwrap_err();
    assert!(matches!(other_cred, StoreError::NotFound(_)), "another credential's mapping: {other_cred:?}");
}

async fn missing_things_are_not_found(s: Store) {
    let nf = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let (a, c) = (AssetId(404), CredentialId(404));
    nf(s.last_credential(a).await.map(drop));
    nf(s.record_facts(a, &HostFacts::default(), 1).await);
    nf(s.delete_asset(a).await);
    nf(s.delete_credential(c).await);
    nf(s.sealed_secret(c).await.map(drop));
    nf(s.credential(c).await.map(drop));
    assert_eq!(
        s.credential_by_name("ghost").await.unwrap_err(),
        StoreError::NotFound("no credential named 'ghost'".into())
    );
    assert_eq!(s.asset_by_name("ghost").await.unwrap_err(), StoreError::NotFound("no asset named 'ghost'".into()));
    assert!(s.list_assets().await.unwrap().is_empty());
    assert!(s.list_credentials().await.unwrap().is_empty());
}

/// Fifty scans recorded at once, each replacing 300 software rows (then again, as a
/// rescan with changes): every one lands; none fails as "database is locked".
async fn fifty_scans_at_once_all_land(s: Store) {
    use drover_domain::inventory::{ScanFacts, Software};
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(s.create_asset(&new_asset(&format!("scan{i}")), 1).await.unwrap().id);
    }
    for round in 0..2 {
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let (s, id) = (s.clone(), *id);
            let software =
                (0..300).map(|k| Software { name: format!("pkg-{k}"), version: format!("1.{round}") }).collect();
            let facts = ScanFacts {
                hostname: Some(format!("h{i}")),
                package_manager: Some("dpkg".into()),
                software,
                ..Default::default()
            };
            tasks.push(tokio::spawn(async move { s.record_scan(id, "10.0.0.1", &facts, 10 + round).await }));
        }
        for t in tasks {
            let changes = t.await.unwrap().unwrap();
            assert_eq!(changes.len(), if round == 0 { 0 } else { 300 }, "round {round}");
        }
    }
    assert_eq!(s.asset_software(ids[49], None).await.unwrap().len(), 300);
}
