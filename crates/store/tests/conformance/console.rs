//! The console's storage: asset search with paging, sessions (ended with a disabled user), audit log.

use crate::conformance;
use drover_domain::asset::{HostFacts, NewAsset};
use drover_domain::asset_search::{AssetColumn, AssetCount, AssetSearch};
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::user::Role;
use drover_store::{SearchBounds, Store};

conformance!(
    asset_search_filters_sorts_and_pages,
    asset_search_by_software,
    asset_search_counts_up_to_a_bound,
    asset_search_by_few_valued_columns,
    sessions_and_audit
);

async fn asset_search_filters_sorts_and_pages(s: Store) {
    for (i, name) in ["Web-1", "web_2", "db1", "WEB3", "mail"].iter().enumerate() {
        let a = s
            .create_asset(
                &NewAsset { name: name.to_string(), address: format!("10.0.0.{i}"), ssh_port: 22, macs: vec![] },
                1,
            )
            .await
            .unwrap();
        if i % 2 == 0 {
            let facts = HostFacts { os: Some(format!("Debian {}", 10 + i)), ..Default::default() };
            s.record_facts(a.id, &facts, 2).await.unwrap();
        }
    }
    let names = |v: &[drover_domain::asset::Asset]| v.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
    let q = AssetSearch { filters: vec![(AssetColumn::Name, "web".into())], limit: 2, ..Default::default() };
    let (total, page) = s.search_assets(&q).await.unwrap();
    assert_eq!(total, AssetCount { n: 3, exact: true });
    assert_eq!(names(&page), ["WEB3", "Web-1"]);
    let (_, page2) = s.search_assets(&AssetSearch { offset: 2, ..q.clone() }).await.unwrap();
    assert_eq!(names(&page2), ["web_2"]);
    // `_` is a character, not a wildcard
    let q = AssetSearch { filters: vec![(AssetColumn::Name, "b_".into())], limit: 50, ..Default::default() };
    assert_eq!(names(&s.search_assets(&q).await.unwrap().1), ["web_2"]);
    // sorting by a column with empty values: they come last both ways
    let q = AssetSearch { sort: AssetColumn::Os, descending: true, limit: 50, ..Default::default() };
    assert_eq!(names(&s.search_assets(&q).await.unwrap().1), ["mail", "db1", "Web-1", "WEB3", "web_2"]);
    // with other filters, paged
    let q = AssetSearch {
        filters: vec![(AssetColumn::Os, "DEBIAN".into()), (AssetColumn::Name, "w".into())],
        limit: 1,
        ..Default::default()
    };
    assert_eq!(s.search_assets(&q).await.unwrap().0.n, 1);
    assert_eq!(s.assets_matching(&q).await.unwrap().len(), 1);
}

/// `software=`: a name prefix ignoring ASCII case (an index range), `*text` a substring.
async fn asset_search_by_software(s: Store) {
    let installed: [(&str, &[&str]); 5] = [
        ("a1", &["OpenSSL", "nginx"]),
        ("a2", &["openssl-dev", "libssl3"]),
        ("a3", &["opensslx", "apache2"]),
        ("a4", &["opensso", "openssm"]),
        ("a5", &["lib_x", "libax"]),
    ];
    for (i, (name, software)) in installed.iter().enumerate() {
        let a = s
            .create_asset(
                &NewAsset { name: name.to_string(), address: format!("10.0.1.{i}"), ssh_port: 22, macs: vec![] },
                1,
            )
            .await
            .unwrap();
        let rows: Vec<(String, String)> = software.iter().map(|n| (n.to_string(), "1.0".to_string())).collect();
        s.set_asset_software(a.id, &rows).await.unwrap();
    }
    let find = |text: &str| {
        let q = AssetSearch { software: Some(text.into()), limit: 50, ..Default::default() };
        let s = s.clone();
        async move {
            let (total, page) = s.search_assets(&q).await.unwrap();
            let names: Vec<String> = page.iter().map(|a| a.name.clone()).collect();
            assert_eq!(total, AssetCount { n: names.len() as i64, exact: true }, "{q:?}");
            // asset by asset (the plan of a prefix that matches many rows): the same answer
            let per_asset = SearchBounds { per_asset_from: 1, ..SearchBounds::default() };
            assert_eq!(s.search_assets_within(&q, per_asset).await.unwrap(), (total, page), "{q:?}");
            let all: Vec<String> = s.assets_matching(&q).await.unwrap().into_iter().map(|(_, n)| n).collect();
            assert_eq!(all, names, "the whole search and its page agree");
            let full: Vec<String> = s.assets_filtered(&q).await.unwrap().into_iter().map(|a| a.name).collect();
            assert_eq!(full, names);
            names
        }
    };
    // a prefix: not `openssm`/`opensso` (just past the range), whatever the case
    assert_eq!(find("openssl").await, ["a1", "a2", "a3"]);
    assert_eq!(find(" OPENSSL* ").await, ["a1", "a2", "a3"]);
    assert_eq!(find("openssl-").await, ["a2"]);
    assert_eq!(find("openssm").await, ["a4"]);
    assert_eq!(find("ssl").await, Vec::<String>::new(), "no longer a substring");
    // a substring with a leading `*`; LIKE's wildcards are characters
    assert_eq!(find("*ssl").await, ["a1", "a2", "a3"]);
    assert_eq!(find("*b_").await, ["a5"]);
    assert_eq!(find("*b_x").await, ["a5"]);
    assert_eq!(find("*i_a").await, Vec::<String>::new(), "`_` is no wildcard (would match libax)");
    // a substring, paged
    let q = AssetSearch { software: Some("*SSL".into()), descending: true, offset: 1, limit: 1, ..Default::default() };
    let (total, page) = s.search_assets(&q).await.unwrap();
    assert_eq!(total.n, 3);
    assert_eq!(page.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["a2"], "a substring's page keeps its offset");
    // with other filters, paged
    let q = AssetSearch {
        software: Some("open".into()),
        filters: vec![(AssetColumn::Name, "a".into())],
        sort: AssetColumn::Name,
        descending: true,
        offset: 1,
        limit: 2,
    };
    for per_asset_from in [1, 2_000] {
        let bounds = SearchBounds { per_asset_from, ..SearchBounds::default() };
        let (total, page) = s.search_assets_within(&q, bounds).await.unwrap();
        assert_eq!(total, AssetCount { n: 4, exact: true });
        assert_eq!(page.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["a3", "a2"]);
    }
}

/// Counting up to `n`, whatever the software plan (a list from 1 software row up).
fn up_to(n: i64) -> SearchBounds {
    SearchBounds { count_up_to: n, per_asset_from: 1, ..SearchBounds::default() }
}

/// The total is exact up to the bound; past it, the bound and "not exact"; the page is
/// the same either way.
async fn asset_search_counts_up_to_a_bound(s: Store) {
    for i in 0..6 {
        let a = s
            .create_asset(
                &NewAsset { name: format!("n{i}"), address: format!("10.0.2.{i}"), ssh_port: 22, macs: vec![] },
                1,
            )
            .await
            .unwrap();
        // n0, n2, n4 have nginx (and another name with its prefix: one asset, counted once)
        // n1, n3 have apache2, n5 Apache2: one lower-case name in the range of `apache`
        let software: &[&str] = match i {
            5 => &["Apache2"],
            _ if i % 2 == 0 => &["nginx", "nginx-extras"],
            _ => &["apache2"],
        };
        let rows: Vec<(String, String)> = software.iter().map(|n| (n.to_string(), "1".to_string())).collect();
        s.set_asset_software(a.id, &rows).await.unwrap();
    }
    let names = |v: &[drover_domain::asset::Asset]| v.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
    let all = AssetSearch { limit: 2, offset: 3, ..Default::default() };
    let (total, page) = s.search_assets_within(&all, up_to(4)).await.unwrap();
    assert_eq!(total, AssetCount { n: 4, exact: false }, "6 match: more than 4");
    assert_eq!(names(&page), ["n3", "n4"], "the page does not depend on the count");
    assert_eq!(s.search_assets_within(&all, up_to(6)).await.unwrap().0, AssetCount { n: 6, exact: true });
    assert_eq!(s.search_assets_within(&all, up_to(5)).await.unwrap().0, AssetCount { n: 5, exact: false });
    assert_eq!(s.search_assets(&all).await.unwrap().0, AssetCount { n: 6, exact: true }, "the default bound");
    let nginx = AssetSearch { software: Some("nginx".into()), limit: 50, ..Default::default() };
    let (total, page) = s.search_assets_within(&nginx, up_to(2)).await.unwrap();
    assert_eq!(total, AssetCount { n: 2, exact: false });
    assert_eq!(names(&page), ["n0", "n2", "n4"]);
    assert_eq!(s.search_assets_within(&nginx, up_to(3)).await.unwrap().0, AssetCount { n: 3, exact: true });
    let list = SearchBounds { count_up_to: 2, per_asset_from: 1_000, ..SearchBounds::default() };
    assert_eq!(s.search_assets_within(&nginx, list).await.unwrap(), (total, page), "listed, the same");
    let both = AssetSearch { filters: vec![(AssetColumn::Name, "N".into())], ..nginx.clone() };
    assert_eq!(s.search_assets_within(&both, up_to(2)).await.unwrap().0, AssetCount { n: 2, exact: false });
    assert_eq!(s.search_assets_within(&both, up_to(3)).await.unwrap().0, AssetCount { n: 3, exact: true });
    // a range of one name (counted from its assets in id order), whatever its case
    let apache = AssetSearch { software: Some("APACHE".into()), limit: 2, offset: 1, ..Default::default() };
    for (bound, total) in [(2, AssetCount { n: 2, exact: false }), (3, AssetCount { n: 3, exact: true })] {
        let (counted, page) = s.search_assets_within(&apache, up_to(bound)).await.unwrap();
        assert_eq!(counted, total);
        assert_eq!(names(&page), ["n3", "n5"]);
        let list = SearchBounds { count_up_to: bound, per_asset_from: 1_000, ..SearchBounds::default() };
        assert_eq!(s.search_assets_within(&apache, list).await.unwrap(), (total, page), "listed, the same");
    }
    let extras = AssetSearch { software: Some("nginx-".into()), limit: 50, ..Default::default() };
    assert_eq!(s.search_assets_within(&extras, up_to(3)).await.unwrap().0, AssetCount { n: 3, exact: true });
    let none = AssetSearch { software: Some("nope".into()), limit: 50, ..Default::default() };
    assert_eq!(s.search_assets_within(&none, up_to(0)).await.unwrap().0, AssetCount { n: 0, exact: true });
    assert_eq!(AssetCount::EXACT_UP_TO, 10_000);
}

/// A filter on OS, architecture or domain is matched against the column's distinct
/// values first (`os IN (…)`): the same answer as the substring on every asset, which it
/// stays when the column holds more values than the bound.
async fn asset_search_by_few_valued_columns(s: Store) {
    // (one case per sorted value: the backends' collations may order `d` and `D` apart)
    let oses = [Some("Debian 12"), Some("Debian 11"), Some("Ubuntu 24.04"), None, Some("Deb_ian%x"), Some("")];
    for i in 0..12 {
        let a = s
            .create_asset(
                &NewAsset { name: format!("f{i:02}"), address: format!("10.0.3.{i}"), ssh_port: 22, macs: vec![] },
                1,
            )
            .await
            .unwrap();
        let facts = HostFacts {
            os: oses[i % oses.len()].map(String::from),
            arch: Some(if i % 3 == 0 { "aarch64" } else { "x86_64" }.into()),
            ..Default::default()
        };
        s.record_facts(a.id, &facts, 2).await.unwrap();
    }
    let names = |v: &[drover_domain::asset::Asset]| v.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
    // every bound: 0 and 2 (fewer than the 5 OS values: the LIKE), 5 (exactly), the default
    let bounds = [0, 2, 5, SearchBounds::default().values_up_to];
    let search = |filters: Vec<(AssetColumn, &str)>, sort: AssetColumn, descending: bool, offset: i64| {
        let q = AssetSearch {
            filters: filters.into_iter().map(|(c, t)| (c, t.to_string())).collect(),
            sort,
            descending,
            offset,
            limit: 3,
            software: None,
        };
        let s = s.clone();
        async move {
            let mut answers = Vec::new();
            for values_up_to in bounds {
                let b = SearchBounds { values_up_to, ..SearchBounds::default() };
                let (total, page) = s.search_assets_within(&q, b).await.unwrap();
                answers.push((total.n, names(&page)));
            }
            assert!(answers.windows(2).all(|w| w[0] == w[1]), "{q:?}: {answers:?}");
            answers.swap_remove(0)
        }
    };
    // ignoring case, a substring; sorted by the filtered column, both ways, paged
    assert_eq!(
        search(vec![(AssetColumn::Os, "DEBIAN")], AssetColumn::Os, true, 0).await,
        (4, names_of(&["f06", "f00", "f07"]))
    );
    assert_eq!(search(vec![(AssetColumn::Os, "debian")], AssetColumn::Os, true, 3).await, (4, names_of(&["f01"])));
    assert_eq!(
        search(vec![(AssetColumn::Os, "ian 1")], AssetColumn::Os, false, 0).await,
        (4, names_of(&["f01", "f07", "f00"]))
    );
    // LIKE's wildcards are characters; no value matches; an empty value never matches
    assert_eq!(
        search(vec![(AssetColumn::Os, "b_i")], AssetColumn::Name, false, 0).await,
        (2, names_of(&["f04", "f10"]))
    );
    assert_eq!(
        search(vec![(AssetColumn::Os, "an%")], AssetColumn::Name, false, 0).await,
        (2, names_of(&["f04", "f10"]))
    );
    assert_eq!(search(vec![(AssetColumn::Os, "windows")], AssetColumn::Name, false, 0).await, (0, names_of(&[])));
    // two few-valued columns and a name, together
    let filters = vec![(AssetColumn::Os, "deb"), (AssetColumn::Arch, "AARCH"), (AssetColumn::Name, "f")];
    assert_eq!(search(filters, AssetColumn::Name, false, 0).await, (2, names_of(&["f00", "f06"])));
    // a value added later is found (the values are read for each search)
    let a = s
        .create_asset(&NewAsset { name: "f99".into(), address: "10.0.3.99".into(), ssh_port: 22, macs: vec![] }, 1)
        .await
        .unwrap();
    s.record_facts(a.id, &HostFacts { os: Some("Debian 13".into()), ..Default::default() }, 3).await.unwrap();
    assert_eq!(
        search(vec![(AssetColumn::Os, "debian 1")], AssetColumn::Os, true, 0).await,
        (5, names_of(&["f99", "f06", "f00"]))
    );
    // the whole search (a selection) agrees
    let q = AssetSearch { filters: vec![(AssetColumn::Os, "debian".into())], ..Default::default() };
    assert_eq!(s.assets_matching(&q).await.unwrap().len(), 5);
}

fn names_of(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

async fn sessions_and_audit(s: Store) {
    let u = s.create_user("ann", "hash", Role::Operator, 1).await.unwrap();
    s.create_session(u.id, "h1", 10, 100).await.unwrap();
    assert_eq!(s.user_by_session("h1", 50).await.unwrap().unwrap().name, "ann");
    assert!(s.user_by_session("h1", 100).await.unwrap().is_none(), "expired");
    s.set_user_disabled(u.id, true).await.unwrap();
    assert!(s.user_by_session("h1", 50).await.unwrap().is_none(), "a disabled user's session ends");
    s.set_user_disabled(u.id, false).await.unwrap();
    s.create_session(u.id, "h1", 10, 100).await.unwrap();
    assert!(s.user_by_session("h1", 50).await.unwrap().is_some());
    s.delete_sessions_of(u.id).await.unwrap();
    assert!(s.user_by_session("h1", 50).await.unwrap().is_none());

    for i in 0..3 {
        s.append_audit(i, &Executor::user("ann"), AuditAction::Deploy, &format!("d{i}")).await.unwrap();
    }
    let (total, page) = s.audit_page(1, 5).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(), ["d1", "d0"]);
    assert_eq!(page[0].actor, Executor::user("ann"));
}
