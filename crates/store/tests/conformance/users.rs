use crate::conformance;
use drover_domain::user::Role;
use drover_store::{Store, StoreError};

conformance!(users_and_tokens, password_change_ends_tokens);

async fn users_and_tokens(s: Store) {
    assert_eq!(s.count_users().await.unwrap(), 0);
    let u = s.create_user("ann", "hash-1", Role::Operator, 1).await.unwrap();
    assert_eq!(u.role, Role::Operator);
    let err = s.create_user("ann", "x", Role::Viewer, 2).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("'ann'")), "{err:?}");
    let (found, hash) = s.user_with_hash("ann").await.unwrap().unwrap();
    assert_eq!((found, hash.as_str()), (u.clone(), "hash-1"));
    assert!(s.user_with_hash("bob").await.unwrap().is_none());
    s.create_token(u.id, "tok", 10, 100).await.unwrap();
    assert_eq!(s.user_by_token("tok", 50).await.unwrap(), Some(u.clone()));
    assert_eq!(s.user_by_token("tok", 100).await.unwrap(), None, "expired at its expiry");
    assert_eq!(s.user_by_token("other", 50).await.unwrap(), None);
    s.create_token(u.id, "tok2", 10, 100).await.unwrap();
    s.delete_token("tok2").await.unwrap();
    assert_eq!(s.user_by_token("tok2", 50).await.unwrap(), None);
}

async fn password_change_ends_tokens(s: Store) {
    let u = s.create_user("ann", "old", Role::Admin, 1).await.unwrap();
    s.create_token(u.id, "t", 1, 1000).await.unwrap();
    s.set_password_hash(u.id, "new").await.unwrap();
    assert_eq!(s.user_with_hash("ann").await.unwrap().unwrap().1, "new");
    assert_eq!(s.user_by_token("t", 5).await.unwrap(), None);
}
