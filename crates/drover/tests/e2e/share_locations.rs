//! Package shares per location: a plain web server holding the package files for an IP
//! range; the range's target fetches from it (its access log shows it), a target outside
//! the range from the server, and a corrupted file there fails the target on its SHA-256.

use crate::deploy::{CONF, hello_package};
use crate::harness::{Backend, Server, sha256};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A plain HTTP server holding content-addressed files at `/files/<sha256>`: what it
/// serves for a hash (changeable, to corrupt a file) and its access log (`IP PATH`, and
/// ` with a token` when the request carried an Authorization header).
#[derive(Clone, Default)]
struct WebShare {
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl WebShare {
    /// Serves on all addresses (the hosts reach it at the bridge address); its port.
    async fn start(&self) -> u16 {
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let share = self.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, peer)) = listener.accept().await {
                let share = share.clone();
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&req);
                    let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
                    let token =
                        if text.to_ascii_lowercase().contains("\r\nauthorization:") { " with a token" } else { "" };
                    share.log.lock().unwrap().push(format!("{} {path}{token}", peer.ip()));
                    let found =
                        path.strip_prefix("/files/").and_then(|sha| share.files.lock().unwrap().get(sha).cloned());
                    let (status, body) = match found {
                        Some(b) => ("200 OK", b),
                        None => ("404 Not Found", b"no such file".to_vec()),
                    };
                    let head =
                        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = conn.write_all(head.as_bytes()).await;
                    let _ = conn.write_all(&body).await;
                });
            }
        });
        port
    }

    fn put(&self, sha: &str, bytes: &[u8]) {
        self.files.lock().unwrap().insert(sha.to_string(), bytes.to_vec());
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// Runs the CLI as the test's admin; panics unless it succeeds; its output.
fn cli(server: &Server, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drover"))
        .args(args)
        .env("DROVER_SERVER", &server.url)
        .env("DROVER_TOKEN", &server.token)
        .env("DROVER_SERVER_FINGERPRINT", &server.cert_sha256)
        .env("DROVER_CLI_CONFIG", server.data.path().join("cli.json"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "drover {args:?}: {text}");
    text
}

fn target(done: &Value, asset: &str) -> Value {
    done["targets"].as_array().unwrap().iter().find(|t| t["asset_name"] == asset).unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_fetches_package_files_from_its_own_share() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 2).await;
    let (near, far) = (&fleet.hosts[0], &fleet.hosts[1]);
    let web = WebShare::default();
    let port = web.start().await;
    let sha = sha256(CONF);
    web.put(&sha, CONF);
    let bridge_ip = fleet.unused_ip().rsplit_once('.').map(|(p, _)| format!("{p}.1")).unwrap();
    let url = format!("http://{bridge_ip}:{port}/");

    // refused: a bad range, a bad URL; then added for the near host's address only
    let (status, v) =
        server.call(reqwest::Method::POST, "/share-locations", Some(json!({"range": "10.1.2", "url": url}))).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("not an IP range"), "{v}");
    let body = json!({"range": format!("{}/32", near.ip), "url": "ftp://x"});
    let (status, v) = server.call(reqwest::Method::POST, "/share-locations", Some(body)).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("not a share URL"), "{v}");
    // a certificate pin needs an https:// share
    let body = json!({"range": format!("{}/32", near.ip), "url": url, "fingerprint": "ab".repeat(32)});
    let (status, v) = server.call(reqwest::Method::POST, "/share-locations", Some(body)).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("needs an https:// share URL"), "{v}");
    // added with the CLI, as an admin would
    let range = format!("{}/32", near.ip);
    let added = cli(&server, &["share-location", "add", "--range", &range, "--url", &url]);
    assert!(
        added.contains(&format!("targets in {range} fetch package files from {}", url.trim_end_matches('/'))),
        "{added}"
    );
    let listed = cli(&server, &["share-location", "list"]);
    assert!(listed.contains(&range) && listed.contains(url.trim_end_matches('/')), "{listed}");
    let list = server.get("/share-locations").await;
    assert_eq!(list["locations"].as_array().unwrap().len(), 1, "{list}");
    let l = list["locations"][0].clone();
    assert_eq!(l["url"], url.trim_end_matches('/'), "{l}");

    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let done = server.deploy_and_wait(json!({"package": "hello", "assets": assets}), Duration::from_secs(60)).await;
    for a in &assets {
        assert_eq!(target(&done, a)["state"], "success", "{done:#}");
    }
    // only the near host fetched from the web share, the file it names, and without the
    // share token (a plain-HTTP share is sent none: the server is HTTPS)
    assert_eq!(web.log(), vec![format!("{} /files/{sha}", near.ip)]);
    assert_eq!(fleet.sh(near, "cat /etc/drover-hello.conf").as_bytes(), CONF.trim_ascii_end());
    assert_eq!(fleet.sh(far, "cat /etc/drover-hello.conf").as_bytes(), CONF.trim_ascii_end());
    let id = done["deployment"]["id"].as_i64().unwrap();
    let log = serde_json::to_string(&server.log(id).await).unwrap();
    assert!(log.contains(&format!("package files from the share of {}/32", near.ip)), "{log}");

    // a corrupted file on the location's share: the target fails on its SHA-256 and the
    // bad file is not installed
    web.put(&sha, b"tampered\n");
    fleet.sh(near, "rm /etc/drover-hello.conf");
    let done =
        server.deploy_and_wait(json!({"package": "hello", "assets": [near.name]}), Duration::from_secs(60)).await;
    let t = target(&done, &near.name);
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "step.failed", "{t:#}");
    let id = done["deployment"]["id"].as_i64().unwrap();
    let log = serde_json::to_string(&server.log(id).await).unwrap();
    assert!(log.contains(&format!("SHA-256 {sha}")), "the log does not name the expected hash: {log}");
    assert_eq!(fleet.exec(near, "test -e /etc/drover-hello.conf").0, 1, "a corrupted file was installed");

    // removed: the near host uses the server's share again
    let lid = l["id"].as_i64().unwrap();
    let removed = cli(&server, &["share-location", "remove", &lid.to_string()]);
    assert!(removed.contains(&format!("share location {lid} removed")), "{removed}");
    let before = web.log().len();
    let done =
        server.deploy_and_wait(json!({"package": "hello", "assets": [near.name]}), Duration::from_secs(60)).await;
    assert_eq!(target(&done, &near.name)["state"], "success", "{done:#}");
    assert_eq!(web.log().len(), before, "the removed location's share was still used");
}
