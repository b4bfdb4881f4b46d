//! The console's storage: asset search with paging, sessions (ended with a disabled user), audit log.

use crate::conformance;
use drover_domain::asset::{HostFacts, NewAsset};
use drover_domain::asset_search::{AssetColumn, AssetSearch};
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::user::Role;
use drover_store::Store;

conformance!(asset_search_filters_sorts_and_pages, sessions_and_audit);

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
    assert_eq!(total, 3);
    assert_eq!(names(&page), ["WEB3", "Web-1"]);
    let (_, page2) = s.search_assets(&AssetSearch { offset: 2, ..q.clone() }).await.unwrap();
    assert_eq!(names(&page2), ["web_2"]);
    // `_` is a character, not a wildcard
    let q = AssetSearch { filters: vec![(AssetColumn::Name, "b_".into())], limit: 50, ..Default::default() };
    assert_eq!(names(&s.search_assets(&q).await.unwrap().1), ["web_2"]);
    // sorting by a column with empty values: they come last both ways
    let q = AssetSearch { sort: AssetColumn::Os, descending: true, limit: 50, ..Default::default() };
    assert_eq!(names(&s.search_assets(&q).await.unwrap().1), ["mail", "db1", "Web-1", "WEB3", "web_2"]);
    let q = AssetSearch {
        filters: vec![(AssetColumn::Os, "DEBIAN".into()), (AssetColumn::Name, "w".into())],
        limit: 1,
        ..Default::default()
    };
    assert_eq!(s.search_assets(&q).await.unwrap().0, 1);
    assert_eq!(s.asset_ids_matching(&q).await.unwrap().len(), 1);
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
