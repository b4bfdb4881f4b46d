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

conformance!(disabled_users_lose_their_tokens, tokens_are_listed_and_revoked_by_id);

async fn disabled_users_lose_their_tokens(s: Store) {
    let u = s.create_user("ann", "h", Role::Operator, 1).await.unwrap();
    s.create_token(u.id, "t", 1, 1000).await.unwrap();
    s.set_user_disabled(u.id, true).await.unwrap();
    assert!(s.user_for_login("ann").await.unwrap().unwrap().disabled);
    assert_eq!(s.user_by_token("t", 5).await.unwrap(), None);
    s.create_token(u.id, "t2", 1, 1000).await.unwrap();
    assert_eq!(s.user_by_token("t2", 5).await.unwrap(), None, "a disabled user's token does not authenticate");
    s.set_user_disabled(u.id, false).await.unwrap();
    assert_eq!(s.user_by_token("t2", 5).await.unwrap(), Some(u.clone()));
    let all = s.list_users().await.unwrap();
    assert_eq!((all.len(), all[0].disabled), (1, false));
    s.delete_user(u.id).await.unwrap();
    assert!(s.user_for_login("ann").await.unwrap().is_none());
    assert_eq!(s.user_by_token("t2", 5).await.unwrap(), None);
}

async fn tokens_are_listed_and_revoked_by_id(s: Store) {
    let ann = s.create_user("ann", "h", Role::Operator, 1).await.unwrap();
    let bob = s.create_user("bob", "h", Role::Operator, 1).await.unwrap();
    let (h1, h2) = ("a".repeat(64), "b".repeat(64));
    s.create_token(ann.id, &h1, 1, 1000).await.unwrap();
    s.create_token(ann.id, &h2, 2, 1000).await.unwrap();
    let list = s.tokens_of(ann.id, 5).await.unwrap();
    assert_eq!(list.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec![&h2[..16], &h1[..16]]);
    assert!(!s.delete_token_of(bob.id, &h1[..16]).await.unwrap(), "another user's token is not theirs to end");
    assert!(!s.delete_token_of(ann.id, "a").await.unwrap(), "a short prefix names nothing");
    assert!(s.delete_token_of(ann.id, &h1[..16]).await.unwrap());
    assert_eq!(s.user_by_token(&h1, 5).await.unwrap(), None);
    assert_eq!(s.user_by_token(&h2, 5).await.unwrap(), Some(ann.clone()));
    assert_eq!(s.delete_tokens_of(ann.id).await.unwrap(), 1);
}
