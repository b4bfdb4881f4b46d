//! Credentials go only where an admin allows: passwords only to hosts whose key an admin
//! pinned, pins that outlive the asset row, key credentials pinning on first use, and
//! scopes. The hosts' sshd logs (LogLevel VERBOSE) show what reached them.

use crate::deploy::{CONF, hello_package};
use crate::fleet::{Fleet, Host, ROOT_PASSWORD};
use crate::harness::{Api, Backend, Server};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Logs in as a new user with `role`.
async fn user(server: &Server, name: &str, role: &str) -> Api {
    let password = format!("{name}-password-1234");
    server.post("/users", json!({"name": name, "password": password, "role": role})).await;
    let http = server.http.clone();
    let v: Value = http
        .post(format!("{}/api/v1/session", server.url))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Api {
        url: server.url.clone(),
        cert_sha256: server.cert_sha256.clone(),
        token: v["token"].as_str().unwrap().to_string(),
        http,
    }
}

/// How many lines the host's sshd log has now, and the ones after `from`.
fn sshd_log(fleet: &Fleet, h: &Host) -> Vec<String> {
    fleet.sh(h, "cat /var/log/sshd.log").lines().map(str::to_string).collect()
}

fn assert_no_password_attempt(lines: &[String], what: &str) {
    let bad: Vec<&String> = lines
        .iter()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("password") || l.contains("accepted") || l.contains("failed") || l.contains("postponed")
        })
        .collect();
    assert!(bad.is_empty(), "{what}: sshd saw an authentication attempt: {bad:#?}\nall new lines: {lines:#?}");
}

async fn deploy_one(api: &Api, asset: &str) -> Value {
    let done = api.deploy_and_wait(json!({"package": "hello", "assets": [asset]}), LIMIT).await;
    done["targets"][0].clone()
}

/// The SHA256 fingerprint of the host's key, as `ssh-keygen -lf` shows it on the host.
fn fingerprint(fleet: &Fleet, h: &Host) -> String {
    let out = fleet.sh(h, "ssh-keygen -lf /etc/ssh/drover_host_ed25519_key.pub");
    out.split_whitespace().nth(1).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_goes_to_a_host_no_admin_pinned() {
    let fleet = Fleet::up(1);
    let h = &fleet.hosts[0];
    let server = Server::start(Backend::Sqlite).await;
    let cred = server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let id = server.get("/credentials").await[0]["id"].as_i64().unwrap();
    server.post(&format!("/credentials/{id}/mappings"), json!({"global": true})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;

    // an operator may add assets, not map credentials
    let op = user(&server, "oper", "operator").await;
    let (status, v) =
        op.call(Method::POST, &format!("/credentials/{id}/mappings"), Some(json!({"global": true}))).await;
    assert_eq!(status, 403, "{v}");
    let (status, v) =
        op.call(Method::POST, "/assets", Some(json!({"name": "x", "address": h.ip, "credential": cred}))).await;
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("admin"), "{v}");
    let (status, v) = op.call(Method::POST, "/assets", Some(json!({"name": "fake", "address": h.ip}))).await;
    assert_eq!(status, 200, "{v}");

    let before = sshd_log(&fleet, h).len();
    let t = deploy_one(&op, "fake").await;
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error_code"], "ssh.host_key_unknown", "{t:#}");
    let msg = t["message"].as_str().unwrap();
    assert!(msg.contains("drover asset trust-key fake --fingerprint") && msg.contains("'root'"), "{msg}");
    assert_no_password_attempt(&sshd_log(&fleet, h)[before..], "unpinned host");

    // only an admin pins; trust-key first shows what the host presents
    let (status, _) = op.call(Method::POST, "/assets/fake/trust-host-key", Some(json!({}))).await;
    assert_eq!(status, 403);
    let shown = server.post("/assets/fake/trust-host-key", json!({})).await;
    assert_eq!(
        (shown["pinned"].as_bool(), shown["fingerprint"].as_str()),
        (Some(false), Some(fingerprint(&fleet, h).as_str()))
    );
    assert!(server.get("/assets/fake").await["host_key_fingerprint"].is_null(), "shown, not pinned");
    let (status, v) = server
        .call(Method::POST, "/assets/fake/trust-host-key", Some(json!({"fingerprint": "SHA256:not-this-one"})))
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("nothing was pinned"), "{v}");
    let pinned = server.post("/assets/fake/trust-host-key", json!({"fingerprint": fingerprint(&fleet, h)})).await;
    assert_eq!(pinned["pinned"], true, "{pinned}");
    let t = deploy_one(&op, "fake").await;
    assert_eq!(t["state"], "success", "{t:#}");
    assert_eq!(t["credential"], "root");

    // the pin belongs to the address: removing and adding the asset again keeps it
    let (status, v) = op.call(Method::DELETE, "/assets/fake", None).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = op.call(Method::POST, "/assets", Some(json!({"name": "again", "address": h.ip}))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["host_key_fingerprint"], fingerprint(&fleet, h), "{v}");
    let t = deploy_one(&op, "again").await;
    assert_eq!(t["state"], "success", "{t:#}");

    // a changed key on that address is still refused, before any password
    let old = fingerprint(&fleet, h);
    fleet.run("rekey", h, &[]);
    let before = sshd_log(&fleet, h).len();
    let t = deploy_one(&op, "again").await;
    assert_eq!(t["error_code"], "ssh.host_key_mismatch", "{t:#}");
    assert!(t["message"].as_str().unwrap().contains(&old), "{t:#}");
    let new = sshd_log(&fleet, h);
    assert!(new.len() > before, "the deployment did connect: {new:#?}");
    assert_no_password_attempt(&new[before..], "changed key");
}

#[tokio::test(flavor = "multi_thread")]
async fn key_credentials_pin_on_first_use_and_known_hosts_import_pins() {
    let fleet = Fleet::up(2);
    let (h1, h2) = (&fleet.hosts[0], &fleet.hosts[1]);
    let server = Server::start(Backend::Postgres).await;
    server.credential("key", json!({"username": "root", "private_key": fleet.key()})).await;
    server.credential("pw", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let creds = server.get("/credentials").await;
    let id = |name: &str| creds.as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["id"].as_i64().unwrap();
    for (name, ip) in [("h1", &h1.ip), ("h2", &h2.ip)] {
        let (status, v) = server.call(Method::POST, "/assets", Some(json!({"name": name, "address": ip}))).await;
        assert_eq!(status, 200, "{v}");
    }
    let key_map = server.post(&format!("/credentials/{}/mappings", id("key")), json!({"asset": "h1"})).await;

    // a key login pins the unknown key (tofu_for_keys is on by default)
    assert_eq!(server.get("/settings").await["tofu_for_keys"], true);
    let t = deploy_one(&server, "h1").await;
    assert_eq!((t["state"].as_str(), t["credential"].as_str()), (Some("success"), Some("key")), "{t:#}");
    let keys = server.get("/host-keys").await;
    let k = &keys["keys"][0];
    assert_eq!((k["address"].as_str(), k["source"].as_str()), (Some(h1.ip.as_str()), Some("first_use")), "{keys:#}");
    assert_eq!(k["fingerprint"], fingerprint(&fleet, h1));

    // a first-use pin is not enough for a password
    server.post(&format!("/credentials/{}/mappings", id("pw")), json!({"asset": "h1"})).await;
    let (status, _) =
        server.call(Method::DELETE, &format!("/credentials/{}/mappings/{}", id("key"), key_map["id"]), None).await;
    assert_eq!(status, 200);
    let before = sshd_log(&fleet, h1).len();
    let t = deploy_one(&server, "h1").await;
    assert_eq!(t["error_code"], "ssh.host_key_unknown", "{t:#}");
    assert_no_password_attempt(&sshd_log(&fleet, h1)[before..], "first-use pin");

    // importing known_hosts is an admin pin: the password goes there now
    server.post(&format!("/credentials/{}/mappings", id("pw")), json!({"asset": "h2"})).await;
    let t = deploy_one(&server, "h2").await;
    assert_eq!(t["error_code"], "ssh.host_key_unknown", "{t:#}");
    let text = format!(
        "# from the fleet\n{}|1|aGFzaA==|aGFzaA== ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
        fleet.known_hosts()
    );
    let imported = server.post("/host-keys/import", json!({"known_hosts": text})).await;
    assert_eq!(imported["pinned"].as_array().unwrap().len(), 2, "{imported:#}");
    assert!(imported["skipped"][0].as_str().unwrap().contains("hashed host name"), "{imported:#}");
    for (h, name) in [(h1, "h1"), (h2, "h2")] {
        let t = deploy_one(&server, name).await;
        assert_eq!((t["state"].as_str(), t["credential"].as_str()), (Some("success"), Some("pw")), "{t:#}");
        assert_eq!(server.get(&format!("/assets/{name}")).await["host_key_fingerprint"], fingerprint(&fleet, h));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_first_use_a_key_credential_needs_a_pin_too() {
    let fleet = Fleet::up(1);
    let server = Server::start_with(Backend::Sqlite, |c| c.tofu_for_keys = false).await;
    server.credential("key", json!({"username": "root", "private_key": fleet.key()})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let (status, v) =
        server.call(Method::POST, "/assets", Some(json!({"name": "h1", "address": fleet.hosts[0].ip}))).await;
    assert_eq!(status, 200, "{v}");
    let id = server.get("/credentials").await[0]["id"].as_i64().unwrap();
    server.post(&format!("/credentials/{id}/mappings"), json!({"asset": "h1"})).await;
    let t = deploy_one(&server, "h1").await;
    assert_eq!(t["error_code"], "ssh.host_key_unknown", "{t:#}");
    assert!(t["message"].as_str().unwrap().contains(&fingerprint(&fleet, &fleet.hosts[0])), "shows what it saw: {t:#}");
    assert!(server.get("/host-keys").await["keys"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_mapping_is_tried_inside_the_range_only() {
    let fleet = Fleet::up(2);
    let (h1, h2) = (&fleet.hosts[0], &fleet.hosts[1]);
    let server = Server::start(Backend::Sqlite).await;
    server.credential("ranged", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    // host k is 10.77.ID.(10+k): .8/30 holds h1 (.11), not h2 (.12)
    let net = h1.ip.rsplit_once('.').unwrap().0;
    let range = format!("{net}.8/30");
    let id = server.get("/credentials").await[0]["id"].as_i64().unwrap();
    let m = server.post(&format!("/credentials/{id}/mappings"), json!({"range": range, "priority": 3})).await;
    assert_eq!(m["scope"], json!({"kind": "ip_range", "value": range}));
    let listed = server.get(&format!("/credentials/{id}/mappings")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (status, v) =
        server.call(Method::POST, &format!("/credentials/{id}/mappings"), Some(json!({"range": "10.0.0.1/8"}))).await;
    assert_eq!(status, 422, "{v}");
    let (status, _) = server.call(Method::POST, &format!("/credentials/{id}/mappings"), Some(json!({}))).await;
    assert_eq!(status, 422, "a mapping names its scope");
    server.post("/assets", json!({"name": "inside", "address": h1.ip})).await;
    server.post("/assets", json!({"name": "outside", "address": h2.ip})).await;

    let before = sshd_log(&fleet, h2).len();
    let done = server.deploy_and_wait(json!({"package": "hello", "assets": ["inside", "outside"]}), LIMIT).await;
    let t = |name: &str| done["targets"].as_array().unwrap().iter().find(|t| t["asset_name"] == name).unwrap().clone();
    let inside = t("inside");
    assert_eq!(
        (inside["state"].as_str(), inside["credential"].as_str()),
        (Some("success"), Some("ranged")),
        "{inside:#}"
    );
    let outside = t("outside");
    assert_eq!(outside["error_code"], "target.no_credential", "{outside:#}");
    assert_no_password_attempt(&sshd_log(&fleet, h2)[before..], "outside the range");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_certificate_from_a_trusted_authority_lets_the_password_through() {
    let fleet = Fleet::up(2);
    let (h1, h2) = (&fleet.hosts[0], &fleet.hosts[1]);
    // a CA (made here) signs both hosts' keys; their sshd present the certificates
    let dir = tempfile::tempdir().unwrap();
    let keygen = |args: &[&str]| {
        let out = std::process::Command::new("ssh-keygen").args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "ssh-keygen {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", "ca"]);
    for h in [h1, h2] {
        let host_pub = dir.path().join(format!("{}.pub", h.name));
        std::fs::write(&host_pub, fleet.sh(h, "cat /etc/ssh/drover_host_ed25519_key.pub")).unwrap();
        keygen(&["-q", "-s", "ca", "-I", &h.name, "-h", "-n", &h.ip, host_pub.to_str().unwrap()]);
        let cert = dir.path().join(format!("{}-cert.pub", h.name));
        let (code, out) = fleet.exec_input(h, "cat > /etc/ssh/drover_host_ed25519_key-cert.pub", &cert);
        assert_eq!(code, 0, "{out}");
        fleet.sh(
            h,
            "echo 'HostCertificate /etc/ssh/drover_host_ed25519_key-cert.pub' >> /etc/ssh/sshd_config && kill -HUP $(cat /run/sshd.pid)",
        );
    }
    let ca_pub = std::fs::read_to_string(dir.path().join("ca.pub")).unwrap().trim().to_string();
    let server = Server::start(Backend::Sqlite).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let id = server.get("/credentials").await[0]["id"].as_i64().unwrap();
    server.post(&format!("/credentials/{id}/mappings"), json!({"global": true})).await;
    for (name, ip) in [("h1", &h1.ip), ("h2", &h2.ip)] {
        let (status, v) = server.call(Method::POST, "/assets", Some(json!({"name": name, "address": ip}))).await;
        assert_eq!(status, 200, "{v}");
    }
    // the authority covers h1 only
    let (status, v) =
        server.call(Method::POST, "/host-keys/authorities", Some(json!({"key": ca_pub, "hosts": "bad pattern"}))).await;
    assert_eq!(status, 422, "{v}");
    let ca = server.post("/host-keys/authorities", json!({"key": ca_pub, "hosts": h1.ip})).await;
    assert!(ca["fingerprint"].as_str().unwrap().starts_with("SHA256:"), "{ca}");
    let t = deploy_one(&server, "h1").await;
    assert_eq!((t["state"].as_str(), t["credential"].as_str()), (Some("success"), Some("root")), "{t:#}");
    assert!(server.get("/host-keys").await["keys"].as_array().unwrap().is_empty(), "a certificate pins nothing");
    let before = sshd_log(&fleet, h2).len();
    let t = deploy_one(&server, "h2").await;
    assert_eq!(t["error_code"], "ssh.host_key_unknown", "{t:#}");
    assert_no_password_attempt(&sshd_log(&fleet, h2)[before..], "a host the authority does not cover");
}
