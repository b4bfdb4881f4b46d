//! Tests of scopes and the credential order.

use super::*;

fn m(c: i64, scope: Scope, priority: i64) -> CredentialMapping {
    CredentialMapping { id: None, credential_id: CredentialId(c), scope, priority }
}
fn range(s: &str) -> Scope {
    Scope::IpRange(IpRange::parse(s).unwrap_or_else(|e| panic!("{e}")))
}
fn domain(s: &str) -> Scope {
    Scope::Domain(Domain::parse(s).unwrap_or_else(|e| panic!("{e}")))
}
fn ids(v: &[i64]) -> Vec<CredentialId> {
    v.iter().copied().map(CredentialId).collect()
}
fn at(id: i64, address: &str) -> Target<'_> {
    Target { id: AssetId(id), address }
}

#[test]
fn order_is_asset_then_narrowest_range_then_longest_domain_then_global() {
    let maps = [
        m(1, Scope::Global, 0),
        m(2, range("10.0.0.0/8"), 0),
        m(3, range("10.0.0.0/24"), 5),
        m(4, domain("example"), 0),
        m(5, Scope::Asset(AssetId(7)), 9),
        m(6, range("10.0.0.5-10.0.0.6"), 0),
        m(7, Scope::Asset(AssetId(8)), 0),
        m(8, range("192.168.0.0/16"), 0),
    ];
    assert_eq!(credential_order(at(7, "10.0.0.5"), &maps, None), ids(&[5, 6, 3, 2, 1]));
    // a name: no IP range applies, domains do
    let maps = [
        m(1, Scope::Global, 0),
        m(2, domain("corp.example"), 0),
        m(3, domain("example"), 0),
        m(4, range("0.0.0.0/0"), 0),
    ];
    assert_eq!(credential_order(at(1, "web1.corp.example"), &maps, None), ids(&[2, 3, 1]));
}

#[test]
fn priority_then_id_within_a_scope_and_duplicates_once() {
    let maps = [
        m(7, Scope::Asset(AssetId(1)), 0),
        m(4, Scope::Asset(AssetId(1)), 0),
        m(7, Scope::Global, 0),
        m(2, Scope::Global, 5),
        m(9, Scope::Global, 1),
    ];
    assert_eq!(credential_order(at(1, "h"), &maps, None), ids(&[4, 7, 9, 2]));
    assert!(credential_order(at(1, "h"), &[], None).is_empty());
    assert!(credential_order(at(1, "h"), &[m(1, Scope::Asset(AssetId(2)), 0)], None).is_empty(), "another asset's");
}

#[test]
fn the_credential_that_last_worked_goes_first_only_while_still_mapped() {
    let maps = [m(1, Scope::Asset(AssetId(1)), 0), m(2, Scope::Global, 0), m(3, range("10.1.0.0/16"), 0)];
    assert_eq!(credential_order(at(1, "10.1.2.3"), &maps, Some(CredentialId(2))), ids(&[2, 1, 3]));
    // not mapped to this asset (any more): never tried
    assert_eq!(credential_order(at(1, "10.2.0.1"), &maps, Some(CredentialId(3))), ids(&[1, 2]));
    assert_eq!(credential_order(at(1, "10.2.0.1"), &maps, Some(CredentialId(99))), ids(&[1, 2]));
}

#[test]
fn ip_ranges_parse_and_match() {
    let r = IpRange::parse("10.77.3.0/28").unwrap();
    assert!(r.contains_address("10.77.3.0") && r.contains_address("10.77.3.15"));
    assert!(!r.contains_address("10.77.3.16") && !r.contains_address("10.77.2.255"));
    assert!(!r.contains_address("host.example"), "names are not resolved");
    assert_eq!(r.size(), 16);
    let r = IpRange::parse("10.0.0.5 - 10.0.0.40").unwrap();
    assert!(r.contains_address("10.0.0.5") && r.contains_address("10.0.0.40") && !r.contains_address("10.0.0.41"));
    assert_eq!(r.size(), 36);
    assert!(IpRange::parse("0.0.0.0/0").unwrap().contains_address("1.2.3.4"));
    assert!(!IpRange::parse("0.0.0.0/0").unwrap().contains_address("::1"), "families do not mix");
    let v6 = IpRange::parse("fd00::/64").unwrap();
    assert!(v6.contains_address("fd00::1") && v6.contains_address("[fd00::2]") && !v6.contains_address("fd01::1"));
    assert!(IpRange::parse("::/0").unwrap().size() == u128::MAX);
    assert!(IpRange::parse("10.0.0.0/8").unwrap().contains("::ffff:10.1.2.3".parse().unwrap()), "v4-mapped");
    for bad in ["10.0.0.0", "10.0.0.1/24", "10.0.0.0/33", "10.0.0.9-10.0.0.1", "10.0.0.1-fd00::1", "x/8", ""] {
        assert!(IpRange::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn domains_match_whole_labels() {
    let d = Domain::parse("Corp.Example.").unwrap();
    assert_eq!(d.as_str(), "corp.example");
    assert!(d.covers("corp.example") && d.covers("WEB1.corp.example") && d.covers("a.b.corp.example."));
    assert!(!d.covers("evilcorp.example") && !d.covers("corp.example.evil") && !d.covers("10.0.0.1"));
    assert_eq!(Domain::parse("*.corp.example").unwrap().as_str(), "corp.example");
    for bad in ["", ".", "a..b", "10.0.0.1", "bad domain", "x/y"] {
        assert!(Domain::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn scopes_serialize_as_kind_and_value() {
    let json = |s: &Scope| serde_json::to_value(s).unwrap();
    assert_eq!(json(&Scope::Global), serde_json::json!({"kind": "global"}));
    assert_eq!(json(&range("10.0.0.0/24")), serde_json::json!({"kind": "ip_range", "value": "10.0.0.0/24"}));
    assert_eq!(json(&Scope::Asset(AssetId(3))), serde_json::json!({"kind": "asset", "value": 3}));
    let back: Scope = serde_json::from_value(serde_json::json!({"kind": "domain", "value": "corp.example"})).unwrap();
    assert_eq!(back, domain("corp.example"));
    assert!(serde_json::from_value::<Scope>(serde_json::json!({"kind": "ip_range", "value": "nope"})).is_err());
}
