//! Accounts and sessions: login throttling, admins managing users and their tokens,
//! users listing and revoking their own tokens, the token lifetime.

use super::{assert_error, raw};
use crate::harness::{Backend, Server};
use serde_json::{Value, json};

async fn login(s: &Server, name: &str, password: &str) -> (u16, Value) {
    raw(s, s.http.post(format!("{}/api/v1/session", s.url)).json(&json!({"name": name, "password": password}))).await
}

async fn as_user(s: &Server, token: &str, method: reqwest::Method, path: &str) -> (u16, Value) {
    raw(s, s.http.request(method, format!("{}/api/v1{path}", s.url)).bearer_auth(token).json(&json!({}))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_lock_the_user_name_and_the_address_for_a_while() {
    let s = Server::start(Backend::Sqlite).await;
    for _ in 0..5 {
        assert_error(&login(&s, "admin", "wrong password").await, 401, "unauthorized");
    }
    // now even the right password is refused, saying when to retry
    let locked = login(&s, "admin", "admin-password").await;
    assert_error(&locked, 429, "throttled");
    assert!(locked.1["error"].as_str().unwrap().contains("try again after"), "{locked:?}");
    // the tokens already issued still work
    s.get("/me").await;

    // five unknown names from one address lock the address
    let s = Server::start(Backend::Sqlite).await;
    for i in 0..5 {
        assert_error(&login(&s, &format!("nobody{i}"), "wrong password").await, 401, "unauthorized");
    }
    let locked = login(&s, "admin", "admin-password").await;
    assert_error(&locked, 429, "throttled");
    assert!(locked.1["error"].as_str().unwrap().contains("address 127.0.0.1"), "{locked:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_disable_enable_remove_users_and_revoke_their_tokens() {
    let s = Server::start(Backend::Sqlite).await;
    s.post("/users", json!({"name": "bob", "password": "bob-password", "role": "operator"})).await;
    let bob = login(&s, "bob", "bob-password").await.1["token"].as_str().unwrap().to_string();
    assert_eq!(as_user(&s, &bob, reqwest::Method::GET, "/me").await.0, 200);

    let users = s.get("/users").await;
    let names: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["admin", "bob"]);
    assert_eq!(users[1]["disabled"], false);
    // a non-admin cannot manage users
    assert_error(&as_user(&s, &bob, reqwest::Method::GET, "/users").await, 403, "forbidden");

    s.post("/users/bob/revoke-tokens", json!({})).await;
    assert_error(&as_user(&s, &bob, reqwest::Method::GET, "/me").await, 401, "unauthorized");

    let bob = login(&s, "bob", "bob-password").await.1["token"].as_str().unwrap().to_string();
    s.post("/users/bob/disable", json!({})).await;
    assert_error(&as_user(&s, &bob, reqwest::Method::GET, "/me").await, 401, "unauthorized");
    let refused = login(&s, "bob", "bob-password").await;
    assert_error(&refused, 403, "forbidden");
    assert!(refused.1["error"].as_str().unwrap().contains("disabled"), "{refused:?}");
    assert_eq!(s.get("/users").await[1]["disabled"], true);

    s.post("/users/bob/enable", json!({})).await;
    assert_eq!(login(&s, "bob", "bob-password").await.0, 200);

    // the last admin stays
    assert_error(&s.call(reqwest::Method::POST, "/users/admin/disable", Some(json!({}))).await, 422, "invalid");
    s.ok(reqwest::Method::DELETE, "/users/bob", None).await;
    assert_error(&login(&s, "bob", "bob-password").await, 401, "unauthorized");
    assert_error(&s.call(reqwest::Method::DELETE, "/users/bob", None).await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn users_list_and_revoke_their_own_tokens_and_their_lifetime_is_configurable() {
    let s = Server::start_with(Backend::Sqlite, |c| c.token_ttl = std::time::Duration::from_secs(3600)).await;
    let second = login(&s, "admin", "admin-password").await.1["token"].as_str().unwrap().to_string();
    let tokens = s.get("/me/tokens").await;
    let tokens = tokens.as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    for t in tokens {
        assert_eq!(t["expires_ms"].as_i64().unwrap() - t["created_ms"].as_i64().unwrap(), 3_600_000, "{t}");
        assert!(!t.to_string().contains(&second) && !t.to_string().contains(&s.token));
    }
    assert_eq!(tokens.iter().filter(|t| t["current"] == true).count(), 1);
    let other = tokens.iter().find(|t| t["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    s.ok(reqwest::Method::DELETE, &format!("/me/tokens/{other}"), None).await;
    assert_error(&as_user(&s, &second, reqwest::Method::GET, "/me").await, 401, "unauthorized");
    assert_eq!(s.get("/me/tokens").await.as_array().unwrap().len(), 1);
    assert_error(&s.call(reqwest::Method::DELETE, &format!("/me/tokens/{other}"), None).await, 404, "not_found");
}
