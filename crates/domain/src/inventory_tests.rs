use super::*;

fn sw(name: &str, version: &str) -> Software {
    Software { name: name.into(), version: version.into() }
}

fn cand(id: i64, mid: Option<&str>, macs: &[&str], address: &str) -> Candidate {
    Candidate {
        id: AssetId(id),
        machine_id: mid.map(String::from),
        macs: macs.iter().map(|m| m.to_string()).collect(),
        address: address.into(),
    }
}

#[test]
fn identity_is_machine_id_then_mac_then_address() {
    let all = [
        cand(1, None, &[], "10.0.0.5"),
        cand(2, None, &["02:00:00:00:00:01"], "10.0.0.9"),
        cand(3, Some("abc"), &[], "10.0.0.7"),
    ];
    let macs = vec!["02:00:00:00:00:01".to_string()];
    assert_eq!(match_identity(Some("abc"), &macs, "10.0.0.5", &all), Some((AssetId(3), MatchedBy::MachineId)));
    assert_eq!(match_identity(Some("zzz"), &macs, "10.0.0.5", &all), Some((AssetId(2), MatchedBy::Mac)));
    assert_eq!(match_identity(None, &[], "10.0.0.5", &all), Some((AssetId(1), MatchedBy::Address)));
    assert_eq!(match_identity(Some(""), &[], "10.0.0.99", &all), None);
    // the oldest of two with the same machine id (a cloned VM) wins
    let twins = [cand(8, Some("m"), &[], "a"), cand(4, Some("m"), &[], "b")];
    assert_eq!(match_identity(Some("m"), &[], "c", &twins), Some((AssetId(4), MatchedBy::MachineId)));
}

#[test]
fn software_diff_names_installed_removed_and_changed() {
    let old = [sw("a", "1"), sw("b", "1"), sw("c", "1")];
    let new = [sw("a", "1"), sw("b", "2"), sw("d", "0.1")];
    let d = diff_software(&old, &new, 7);
    let got: Vec<(&str, ChangeKind, Option<&str>, Option<&str>)> =
        d.iter().map(|c| (c.name.as_str(), c.kind, c.old_version.as_deref(), c.new_version.as_deref())).collect();
    assert_eq!(
        got,
        vec![
            ("b", ChangeKind::VersionChanged, Some("1"), Some("2")),
            ("c", ChangeKind::Removed, Some("1"), None),
            ("d", ChangeKind::Installed, None, Some("0.1")),
        ]
    );
    assert!(d.iter().all(|c| c.at_ms == 7));
    assert!(diff_software(&new, &new, 1).is_empty());
}

#[test]
fn names_are_unique_and_clean() {
    let taken = ["web1", "web1-2"];
    assert_eq!(unique_name("web1", "10.0.0.1", |n| taken.contains(&n)), "web1-3");
    assert_eq!(unique_name("db", "10.0.0.1", |n| taken.contains(&n)), "db");
    assert_eq!(unique_name("a\x1b[2Jb", "x", |_| false), "a[2Jb");
    assert_eq!(unique_name("", "10.0.0.1", |_| false), "10.0.0.1");
    assert_eq!(unique_name("123", "10.0.0.1", |_| false), "10.0.0.1");
    assert_eq!(unique_name("<b>x</b>;rm", "f", |_| false), "<b>x</b>;rm", "stored as is");
}
