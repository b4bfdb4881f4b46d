//! Security hardening of the server, tried as an attacker would against a real server:
//! memory and connections (`limits`), bundles and text fields (`bundles`), accounts and
//! sessions (`accounts`), the data directory and its secrets (`datadir`).

mod accounts;
mod bundles;
mod datadir;
mod limits;
mod transport;

use crate::harness::Server;
use serde_json::Value;

/// A raw request to the server: (status, body as JSON, or Null).
async fn raw(s: &Server, rb: reqwest::RequestBuilder) -> (u16, Value) {
    let _ = s;
    let resp = rb.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Asserts an answer is in the API's error format with this status and code.
fn assert_error(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{got:?}");
    assert_eq!(got.1["code"], code, "{got:?}");
    assert!(got.1["error"].as_str().is_some_and(|e| !e.is_empty()), "{got:?}");
}
