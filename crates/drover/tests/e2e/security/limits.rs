//! Memory and connections: body limits, the report endpoint, JSON rejections, header
//! and connection limits, hashing off the async workers.

use super::{assert_error, raw};
use crate::harness::{Backend, Server};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread")]
async fn json_bodies_are_bounded_and_rejections_are_json() {
    let s = Server::start(Backend::Sqlite).await;
    // no login needed, and a large body is refused before it is read whole
    let big = format!("{{\"name\": \"admin\", \"password\": \"{}\"}}", "x".repeat(1024 * 1024));
    let got =
        raw(&s, s.http.post(format!("{}/api/v1/session", s.url)).header("content-type", "application/json").body(big))
            .await;
    assert_error(&got, 413, "too_large");
    // the refusal ends its connection and says so: the client's next request takes another
    let big = format!("{{\"name\": \"admin\", \"password\": \"{}\"}}", "x".repeat(1024 * 1024));
    let closed = s.http.post(format!("{}/api/v1/session", s.url)).header("content-type", "application/json").body(big);
    let closed = closed.send().await.unwrap();
    assert_eq!(closed.headers().get("connection").and_then(|v| v.to_str().ok()), Some("close"));
    // axum's own rejections: bad JSON, no content type, a bad path parameter, no route
    let bad = raw(
        &s,
        s.http
            .post(format!("{}/api/v1/assets", s.url))
            .bearer_auth(&s.token)
            .header("content-type", "application/json")
            .body("{nope"),
    )
    .await;
    assert_error(&bad, 400, "bad_request");
    let untyped = raw(&s, s.http.post(format!("{}/api/v1/assets", s.url)).bearer_auth(&s.token).body("{}")).await;
    assert_error(&untyped, 415, "unsupported_media_type");
    let path = s.call(reqwest::Method::GET, "/deployments/abc", None).await;
    assert_error(&path, 400, "bad_request");
    let missing = s.call(reqwest::Method::GET, "/no-such-thing", None).await;
    assert_error(&missing, 404, "not_found");
    // cancelling a deployment that does not exist
    let cancel = s.call(reqwest::Method::POST, "/deployments/999/cancel", Some(json!({}))).await;
    assert_error(&cancel, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_endpoint_checks_its_token_before_the_body() {
    let s = Server::start(Backend::Sqlite).await;
    // Headers announcing an 8 MiB body, and no body at all: the answer comes at once, so
    // the server did not wait for (nor read) the body before checking the token. (Sending
    // the body too races the refusal: the client may see a broken pipe instead.)
    let addr = s.url.trim_start_matches("https://").to_string();
    let mut conn = crate::tls::connect(&addr, &s.cert_sha256).await;
    let head = "POST /agent/v1/report HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not-a-token\r\n\
                Content-Type: application/json\r\nContent-Length: 8388608\r\n\r\n";
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"code\"") {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("an answer before any body was sent")
            .unwrap();
        assert!(n > 0, "closed without an answer: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("\"code\":\"forbidden\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_half_open_connections_are_closed_and_bounded() {
    let limits = drover_web::ServeLimits {
        header_read_timeout: Duration::from_secs(2),
        max_connections: 2,
        ..Default::default()
    };
    let s = Server::start_serving(Backend::Sqlite, |_| {}, limits).await;
    let addr = s.url.trim_start_matches("https://").to_string();
    // a connection that never sends its headers is closed after the header timeout
    let mut half = crate::tls::connect(&addr, &s.cert_sha256).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 512];
    let n =
        tokio::time::timeout(Duration::from_secs(10), half.read(&mut buf)).await.expect("closed in time").unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(start.elapsed() < Duration::from_secs(5), "closed after {:?}", start.elapsed());

    // two idle connections fill the bound (the client's pooled one closed meanwhile)
    let _idle: Vec<_> = futures_connect(&addr, 2).await;
    let quick = crate::tls::client_builder(&s.cert_sha256).timeout(Duration::from_millis(1000)).build().unwrap();
    assert!(quick.get(format!("{}/healthz", s.url)).send().await.is_err(), "a connection past the bound waits");
    // once the idle ones time out, it is served
    let ok = s.http.get(format!("{}/healthz", s.url)).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

async fn futures_connect(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_flood_does_not_stall_healthz() {
    let s = Server::start(Backend::Sqlite).await;
    let mut logins = Vec::new();
    for i in 0..6 {
        let engine = s.engine.clone();
        logins.push(tokio::spawn(async move {
            let name = format!("nobody-{i}");
            let attempt = drover_engine::LoginAttempt {
                name: &name,
                password: "wrong password",
                client: None,
                now_ms: drover_engine::now_ms(),
            };
            let _ = engine.login(attempt).await;
        }));
    }
    // Behaviour, not a timing: with the hashes on the async workers (as before), no
    // request is served until every hash is done; on the bounded blocking pool, /healthz
    // answers while logins are still being hashed.
    let mut answered_during_flood = 0;
    while logins.iter().any(|l| !l.is_finished()) {
        let r = s.http.get(format!("{}/healthz", s.url)).timeout(Duration::from_secs(30)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        if logins.iter().any(|l| !l.is_finished()) {
            answered_during_flood += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered_during_flood > 0, "/healthz was not answered while the logins were hashed");
}

#[tokio::test(flavor = "multi_thread")]
async fn step_reports_outside_their_bounds_are_refused_and_store_nothing() {
    let s = Server::start(Backend::Sqlite).await;
    let pkg = "name = \"one\"\nversion = \"1\"\n[[steps]]\nname = \"only\"\ntype = \"command\"\ncommand = \"true\"\n";
    assert_eq!(s.import(pkg, &[]).await.0, 200);
    s.post("/assets", json!({"name": "gone", "address": "192.0.2.1"})).await;
    let body = json!({"package": "one", "assets": ["gone"], "retry_offline": true, "retry_interval_secs": 600, "retry_expiry_secs": 3600});
    let d = s.post("/deployments", body).await;
    let target = d["targets"][0]["id"].as_i64().unwrap();
    // a report token for the target, as a deployer would hold it
    let store =
        drover_store::Store::connect(&format!("sqlite://{}?mode=rwc", s.data.path().join("drover.db").display()))
            .await
            .unwrap();
    let token = "report-token-for-the-test";
    store
        .set_tokens(drover_domain::ids::TargetId(target), &crate::harness::sha256(token.as_bytes()), "x")
        .await
        .unwrap();
    let report = |seq: u64, index: usize, tail: usize| {
        let event = json!({"event": "step_finished", "index": index, "name": "only", "exit_code": 0, "success": true,
                           "duration_ms": 1, "output_tail": "x".repeat(tail)});
        json!({"target_id": target, "seq": seq, "at_unix_ms": 1, "event": event})
    };
    let send = async |r: serde_json::Value| {
        raw(&s, s.http.post(format!("{}/agent/v1/report", s.url)).bearer_auth(token).json(&r)).await
    };
    let refused = |got: (u16, serde_json::Value), why: &str| {
        assert_error(&got, 422, "invalid");
        assert!(got.1["error"].as_str().unwrap().contains(why), "{got:?}");
    };
    refused(send(report(1, 60_000, 10)).await, "step index 60000, but the package has 1 steps");
    refused(send(report(2, 0, 20_000)).await, "output tail");
    refused(send(report(100_000, 0, 10)).await, "sequence number");
    refused(send(report(3, 0, 900 * 1024)).await, "a report body has at most 64 KiB");
    // a refusal ends its connection and says so: the client's next request takes another
    let closed = s.http.post(format!("{}/agent/v1/report", s.url)).bearer_auth(token).json(&report(3, 0, 900 * 1024));
    let closed = closed.send().await.unwrap();
    assert_eq!(closed.headers().get("connection").and_then(|v| v.to_str().ok()), Some("close"));
    let log = s.log(d["deployment"]["id"].as_i64().unwrap()).await;
    assert_eq!(log[0]["steps"], json!([]), "nothing stored: {log:?}");
    let ok = send(report(4, 0, 100)).await;
    assert_eq!(ok.0, 200, "{ok:?}");
    let log = s.log(d["deployment"]["id"].as_i64().unwrap()).await;
    assert_eq!(log[0]["steps"].as_array().unwrap().len(), 1);
}
