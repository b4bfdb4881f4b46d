//! The deployer's connection to the server: TLS, pinned to the server's certificate. A
//! relay on the path sees only TLS records (no token, no package file); a server with
//! another certificate gets no request at all, and the target ends with
//! `target.server_cert_mismatch`.

use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where the fleet's hosts reach this machine: the bridge's own address.
fn bridge_ip(fleet: &Fleet) -> String {
    let prefix = fleet.hosts[0].ip.rsplit_once('.').map(|(p, _)| p.to_string()).expect("ipv4");
    format!("{prefix}.1")
}

/// A package that copies `content` from the share and writes a marker.
fn package(content: &[u8]) -> String {
    format!(
        "name = \"secret\"\nversion = \"1\"\nmax_duration_secs = 60\n\
         [[steps]]\nname = \"copy\"\ntype = \"file-copy\"\nsource = \"{{PackageShare}}/secret.txt\"\ndestination = \"/tmp/secret.txt\"\n\
         [[steps]]\nname = \"mark\"\ntype = \"command\"\ncommand = \"echo ran > /tmp/tls-marker\"\n\
         [[steps]]\nname = \"check\"\ntype = \"condition\"\ncriteria = [{{ check = \"file-hash\", path = \"/tmp/secret.txt\", sha256 = \"{}\" }}]\n",
        crate::harness::sha256(content)
    )
}

/// One relayed connection: what the client (the deployer) sent, and what came back.
#[derive(Default)]
struct Captured {
    up: Vec<u8>,
    down: Vec<u8>,
}

/// A TCP relay to `to` that records every byte both ways.
async fn relay(listener: TcpListener, to: String, log: Arc<Mutex<Vec<Arc<Mutex<Captured>>>>>) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(server) = TcpStream::connect(&to).await else { continue };
        let cap = Arc::new(Mutex::new(Captured::default()));
        log.lock().unwrap().push(Arc::clone(&cap));
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        tokio::spawn(pump(cr, sw, Arc::clone(&cap), true));
        tokio::spawn(pump(sr, cw, cap, false));
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cap: Arc<Mutex<Captured>>,
    up: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        {
            let mut c = cap.lock().unwrap();
            if up { c.up.extend_from_slice(&buf[..n]) } else { c.down.extend_from_slice(&buf[..n]) }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sniffed_deployment_shows_only_tls() {
    let fleet = Fleet::up(1);
    let relay_listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let relay_port = relay_listener.local_addr().unwrap().port();
    let public = format!("https://{}:{relay_port}", bridge_ip(&fleet));
    let server = Server::start_with(Backend::Sqlite, |c| c.public_url = Some(public.clone())).await;
    let to = server.url.trim_start_matches("https://").to_string();
    let log = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(relay(relay_listener, to, Arc::clone(&log)));

    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = server.assets(&fleet, "root").await;
    let content = format!("TOP-SECRET-{:016x}\n", rand::random::<u64>());
    let (status, v) = server.import(&package(content.as_bytes()), &[("secret.txt", content.as_bytes())]).await;
    assert_eq!(status, 200, "{v}");
    let done = server.deploy_and_wait(json!({"package": "secret", "assets": assets}), Duration::from_secs(90)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "success", "{t:#}");
    assert_eq!(fleet.sh(&fleet.hosts[0], "cat /tmp/secret.txt"), content.trim_end(), "the file went through the relay");

    let conns = log.lock().unwrap();
    // at least the health check, the share download and the reports
    assert!(conns.len() >= 2, "{} connection(s) through the relay", conns.len());
    for (i, c) in conns.iter().enumerate() {
        let c = c.lock().unwrap();
        assert!(c.up.starts_with(&[0x16, 0x03]), "connection {i} does not begin with a TLS handshake record");
        for (what, bytes) in [("sent", &c.up), ("received", &c.down)] {
            for needle in [content.trim_end().as_bytes(), b"Bearer", b"/agent/v1/report", b"/share/v1", b"HTTP/1.1"] {
                assert!(
                    !contains(bytes, needle),
                    "connection {i} {what} '{}' in clear",
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
}

/// A TLS server with a certificate of its own (an impostor in the middle): counts the
/// connections and records what it could read after a handshake (nothing, if the
/// deployer refuses its certificate).
async fn impostor(listener: TcpListener, dir: std::path::PathBuf, seen: Arc<Mutex<(usize, Vec<u8>)>>) {
    let names = ["localhost".to_string()];
    let cert = drover_engine::datadir::tls::load_or_create(&dir, &names).unwrap();
    let acceptor = drover_web::tls_acceptor(&cert).unwrap();
    while let Ok((tcp, _)) = listener.accept().await {
        seen.lock().unwrap().0 += 1;
        let acceptor = acceptor.clone();
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else { return };
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = tls.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().1.extend_from_slice(&buf[..n]);
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deployer_refuses_a_server_with_another_certificate() {
    let fleet = Fleet::up(1);
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new((0, Vec::new())));
    tokio::spawn(impostor(listener, dir.path().to_path_buf(), Arc::clone(&seen)));
    let public = format!("https://{}:{port}", bridge_ip(&fleet));
    let server = Server::start_with(Backend::Sqlite, |c| c.public_url = Some(public.clone())).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = server.assets(&fleet, "root").await;
    let content = b"not for impostors\n";
    let (status, v) = server.import(&package(content), &[("secret.txt", content)]).await;
    assert_eq!(status, 200, "{v}");
    let done = server.deploy_and_wait(json!({"package": "secret", "assets": assets}), Duration::from_secs(90)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "target.server_cert_mismatch", "{t:#}");
    let message = t["message"].as_str().unwrap();
    let impostor_sha = crate::tls::pem_sha256(&dir.path().join("tls-cert.pem"));
    assert!(
        message.contains(&impostor_sha) && message.contains(&server.cert_sha256) && message.contains("no token"),
        "the end names both certificates: {message}"
    );
    let host = &fleet.hosts[0];
    assert_eq!(fleet.exec(host, "test -e /tmp/tls-marker").0, 1, "no step ran");
    assert_eq!(fleet.exec(host, "test -e /tmp/secret.txt").0, 1, "no file was downloaded");
    let (connections, read) = seen.lock().unwrap().clone();
    assert!(connections >= 1, "the deployer did try the impostor");
    assert!(read.is_empty(), "the impostor read nothing: {}", String::from_utf8_lossy(&read));
}
