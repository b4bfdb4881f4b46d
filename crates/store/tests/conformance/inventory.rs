use crate::conformance;
use drover_domain::asset::{HostFacts, NewAsset};
use drover_domain::credential::{CredentialKind, CredentialMapping, SudoMode, credential_order};
use drover_domain::ids::{AssetId, CredentialId};
use drover_store::{Store, StoreError};

conformance!(assets, credentials_and_mappings, mapping_order_and_conflicts, missing_things_are_not_found);

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

    s.pin_host_key(a.id, "ssh-ed25519 AAAA", "SHA256:x").await.unwrap();
    let pinned = s.asset_by_name("web1").await.unwrap();
    assert_eq!(pinned.host_key.as_deref(), Some("ssh-ed25519 AAAA"));
    assert_eq!(pinned.host_key_fingerprint.as_deref(), Some("SHA256:x"));
    s.clear_host_key(a.id).await.unwrap();
    assert!(s.asset(a.id).await.unwrap().host_key.is_none());

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
    s.add_mapping(&CredentialMapping { credential_id: c.id, asset_id: None, priority: 0 }).await.unwrap();
    s.add_mapping(&CredentialMapping { credential_id: k.id, asset_id: Some(a.id), priority: 1 }).await.unwrap();
    let again =
        s.add_mapping(&CredentialMapping { credential_id: k.id, asset_id: Some(a.id), priority: 2 }).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let mut for_a: Vec<(CredentialId, Option<AssetId>)> =
        s.mappings_for(a.id).await.unwrap().into_iter().map(|m| (m.credential_id, m.asset_id)).collect();
    for_a.sort();
    assert_eq!(for_a, vec![(c.id, None), (k.id, Some(a.id))]);
    assert_eq!(s.mappings_for(b.id).await.unwrap().len(), 1, "only the global one");
    s.delete_credential(k.id).await.unwrap();
    assert_eq!(s.mappings_for(a.id).await.unwrap().len(), 1, "its mappings went with it");
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
    let m = |credential_id, asset_id, priority| CredentialMapping { credential_id, asset_id, priority };
    for mapping in [m(c1, None, 0), m(c2, Some(a), 1), m(c3, Some(a), 0), m(c4, Some(other), 0), m(c3, None, 1)] {
        s.add_mapping(&mapping).await.unwrap();
    }
    let got = s.mappings_for(a).await.unwrap();
    assert_eq!(
        got,
        vec![m(c3, Some(a), 0), m(c2, Some(a), 1), m(c1, None, 0), m(c3, None, 1)],
        "the asset's own mappings by priority, then the global ones; never another asset's"
    );
    assert_eq!(credential_order(a, &got), vec![c3, c2, c1]);

    let dup = s.add_mapping(&m(c1, None, 5)).await.unwrap_err();
    assert_eq!(dup, StoreError::Conflict(format!("credential {c1} is already mapped to all assets")));
    let dup = s.add_mapping(&m(c2, Some(a), 0)).await.unwrap_err();
    assert_eq!(dup, StoreError::Conflict(format!("credential {c2} is already mapped to asset {a}")));
    let missing = s.add_mapping(&m(CredentialId(999), Some(a), 0)).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing:?}");
    let missing = s.add_mapping(&m(c1, Some(AssetId(999)), 0)).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing:?}");

    s.delete_asset(a).await.unwrap();
    let left = s.mappings_for(a).await.unwrap();
    assert_eq!(left, vec![m(c1, None, 0), m(c3, None, 1)], "the asset's mappings went with it");
    assert_eq!(s.mappings_for(other).await.unwrap()[0], m(c4, Some(other), 0));
}

async fn missing_things_are_not_found(s: Store) {
    let nf = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let (a, c) = (AssetId(404), CredentialId(404));
    nf(s.pin_host_key(a, "k", "f").await);
    nf(s.clear_host_key(a).await);
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
