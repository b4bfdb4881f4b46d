//! The pinned connection against a real TLS server on loopback.

use super::*;
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::net::TcpListener;

/// A one-connection-at-a-time HTTPS server with a new self-signed certificate; returns
/// its URL, its certificate's SHA-256 and the request lines it read (in the clear, after
/// TLS): what a server with this certificate was sent.
fn server(connections: usize) -> (String, String, std::thread::JoinHandle<Vec<String>>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
    let sha = hex::encode(Sha256::digest(cert.der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for tcp in listener.incoming().take(connections) {
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = StreamOwned::new(conn, tcp.unwrap());
            let mut reader = std::io::BufReader::new(&mut tls);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                seen.push(line.trim_end().to_string());
                line.clear();
            }
            if seen.is_empty() {
                continue;
            }
            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = tls.flush();
        }
        seen
    });
    (url, sha, handle)
}

fn config() -> ureq::config::Config {
    ureq::Agent::config_builder().timeout_global(Some(std::time::Duration::from_secs(5))).build()
}

#[test]
fn the_pinned_server_is_reached() {
    let (url, sha, server) = server(1);
    let agent = ServerAgent::new(config(), Some(&sha.to_ascii_uppercase()));
    let body = agent.agent.get(format!("{url}/healthz")).header("Authorization", "Bearer secret").call();
    assert_eq!(body.unwrap().body_mut().read_to_string().unwrap(), "ok");
    assert_eq!(agent.mismatch(&url), None);
    assert!(server.join().unwrap().contains(&"GET /healthz HTTP/1.1".to_string()));
}

#[test]
fn another_certificate_is_refused_before_any_request() {
    let (url, sha, server) = server(2);
    let pin = "00".repeat(32);
    let agent = ServerAgent::new(config(), Some(&pin));
    let sent = agent.agent.get(format!("{url}/agent/v1/report")).header("Authorization", "Bearer secret").call();
    assert!(sent.is_err());
    let why = agent.mismatch(&url).expect("a mismatch");
    assert!(why.contains(&sha) && why.contains(&pin), "{why}");
    let checked = check_server(&ServerAgent::for_reports(Some(&pin)), &url).unwrap_err();
    assert!(checked.contains("no token"), "{checked}");
    assert!(server.join().unwrap().is_empty(), "the server with another certificate read no request");
}

#[test]
fn a_pin_with_a_plain_http_url_is_refused() {
    let why = check_server(&ServerAgent::for_reports(Some(&"00".repeat(32))), "http://127.0.0.1:9").unwrap_err();
    assert!(why.contains("in clear"), "{why}");
    assert_eq!(check_server(&ServerAgent::for_reports(None), "http://127.0.0.1:9"), Ok(()));
}

/// Tokens go to another node only as they go to the job's own: over HTTPS to a pinned
/// certificate, where the job pins its server.
#[test]
fn only_pinned_https_nodes_are_turned_to_when_the_server_is_pinned() {
    let job = |pin: Option<&str>| -> drover_proto::Job {
        serde_json::from_value(serde_json::json!({
            "protocol": 1, "target_id": 1, "deployment_id": 1, "package_name": "p", "package_version": "1",
            "steps": [], "files": [], "server_url": "https://a:1", "report_token": "r",
            "share_url": "https://a:1/share/v1", "share_token": "s", "deadline_unix_ms": 0,
            "server_cert_sha256": pin,
            "other_servers": [
                {"url": "http://b:1"},
                {"url": "https://c:1", "cert_sha256": "cc"},
                {"url": "https://d:1"},
            ],
        }))
        .unwrap()
    };
    let urls = |j: &drover_proto::Job| other_servers(j).map(|o| o.url.clone()).collect::<Vec<_>>();
    assert_eq!(urls(&job(Some("aa"))), ["https://c:1"]);
    assert_eq!(urls(&job(None)), ["http://b:1", "https://c:1", "https://d:1"], "a plain-HTTP server (asked for)");
}
