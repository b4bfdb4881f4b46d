//! The CLI against the real server: the README's tour, and its exit codes.

use crate::fleet::Fleet;
use crate::harness::{Backend, Server, done_if, eventually};
use std::io::Write;
use std::process::{Command, Stdio};

struct Cli<'a> {
    server: &'a Server,
    config: std::path::PathBuf,
}

impl Cli<'_> {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_drover"))
            .args(args)
            .env("DROVER_SERVER", &self.server.url)
            .env("DROVER_CLI_CONFIG", &self.config)
            .env_remove("DROVER_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run drover");
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (code, out, err) = self.run(args, stdin);
        assert_eq!(code, 0, "drover {args:?}: {out}{err}");
        out
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_tour_through_the_cli() {
    let fleet = Fleet::up(2);
    let server = Server::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli { server: &server, config: dir.path().join("cli.json") };
    let key = dir.path().join("key");
    std::fs::write(&key, fleet.key()).unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello");

    // nothing trusted, nothing sent: the server's certificate is not pinned yet
    let (code, _, err) = cli.run(&["asset", "list"], None);
    assert_eq!(code, 2);
    assert!(
        err.contains("did not present a TLS certificate this client trusts") && err.contains("run `drover login`"),
        "{err}"
    );
    let (code, _, err) = cli.run(&["asset", "list", "--server-fingerprint", &server.cert_sha256], None);
    assert_eq!(code, 2);
    assert!(err.contains("log in first"), "{err}");
    // the server's self-signed certificate: its fingerprint is shown and nothing is sent
    // until it is pinned (no terminal here, so by --server-fingerprint)
    let fingerprint = server
        .cert_sha256
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let (code, _, err) = cli.run(&["login", "--password-stdin"], Some("admin-password\n"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("SHA-256 fingerprint {fingerprint}")), "{err}");
    assert!(err.contains(&format!("drover login --server-fingerprint {fingerprint}")), "{err}");
    assert!(!cli.config.exists(), "nothing saved");
    let wrong = "AB:".repeat(31) + "AB";
    let (code, _, err) =
        cli.run(&["login", "--password-stdin", "--server-fingerprint", &wrong], Some("admin-password\n"));
    assert_eq!(code, 2);
    assert!(err.contains("did not present a TLS certificate this client trusts"), "{err}");
    let (code, _, err) =
        cli.run(&["login", "--password-stdin", "--server-fingerprint", &fingerprint], Some("wrong-password\n"));
    assert_eq!(code, 2);
    assert!(err.contains("wrong user name or password"), "{err}");
    cli.ok(&["login", "--password-stdin", "--server-fingerprint", &fingerprint], Some("admin-password\n"));
    let saved = std::fs::read_to_string(&cli.config).unwrap();
    assert!(saved.contains(&server.cert_sha256), "the pin is saved with the session: {saved}");
    cli.ok(
        &["credential", "add", "fleet-root", "--user", "root", "--key-file", key.to_str().unwrap(), "--global"],
        None,
    );
    cli.ok(&["asset", "add", "web1", "--address", &fleet.hosts[0].ip], None);
    cli.ok(&["asset", "add", "web2", "--address", &fleet.hosts[1].ip], None);
    cli.ok(&["asset", "add", "gone", "--address", &fleet.unused_ip()], None);
    let out = cli.ok(&["package", "import", examples], None);
    assert!(out.contains("'hello' version 1.0 imported (3 step(s), 1 file(s))"), "{out}");
    let out = cli.ok(&["package", "list"], None);
    assert!(out.contains("hello") && out.contains("1.0"), "{out}");

    let out = cli.ok(&["deploy", "hello", "--asset", "web1", "--asset", "web2"], None);
    assert!(out.contains("2 of 2 target(s) succeeded"), "{out}");
    let list = cli.ok(&["asset", "list"], None);
    assert!(list.contains("SHA256:") && list.contains("web1"), "{list}");
    let log = cli.ok(&["log", "--asset", "web1"], None);
    for want in [
        "asset web1",
        "package hello 1.0",
        "executor user:admin",
        "state success",
        "last step check greeting",
        "return code 0",
        "run mode system",
        "server test-node",
        "step 2 'say hello': exit 0 ok",
        "hello from",
    ] {
        assert!(log.contains(want), "log lacks '{want}':\n{log}");
    }
    let json = cli.ok(&["log", "--asset", "web1", "--json"], None);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["steps"].as_array().unwrap().len(), 3);

    let (code, out, _) = cli.run(&["deploy", "hello", "--asset", "web1", "--asset", "gone"], None);
    assert_eq!(code, 1, "one target offline: {out}");
    assert!(out.contains("1 of 2 target(s) succeeded") && out.contains("offline"), "{out}");

    // a machine that is off waits in the retry queue
    let out =
        cli.ok(&["deploy", "hello", "--asset", "gone", "--retry", "--retry-interval-secs", "60", "--no-follow"], None);
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    let queue = eventually("'gone' in `drover retry-queue`", std::time::Duration::from_secs(20), async || {
        let q = cli.ok(&["retry-queue"], None);
        done_if(q.contains("gone"), q)
    })
    .await;
    assert!(queue.contains("next attempt") && queue.contains("gone") && queue.contains("hello 1.0"), "{queue}");
    cli.ok(&["deployment", "cancel", &id], None);
    assert!(cli.ok(&["retry-queue"], None).contains("the retry queue is empty"));

    let bundle = dir.path().join("hello.tar.gz");
    cli.ok(&["package", "export", "hello", "-o", bundle.to_str().unwrap()], None);
    let (code, _, err) = cli.run(&["package", "import", bundle.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = cli.run(&["deploy", "nope", "--asset", "web1"], None);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");

    // a viewer may read but not deploy
    cli.ok(&["user", "add", "vera", "--role", "viewer"], Some("vera-password\n"));
    let (code, _, err) = cli.run(&["passwd", "--stdin"], Some("not-it\nnew-password-1\n"));
    assert_eq!(code, 2);
    assert!(err.contains("current password is wrong"), "{err}");
    cli.ok(&["passwd", "--stdin"], Some("admin-password\nnew-password-1\n"));
    let (code, _, err) = cli.run(&["asset", "list"], None);
    assert_eq!(code, 2, "the old token ended");
    assert!(err.contains("log in again"), "{err}");
    cli.ok(&["login", "--user", "vera", "--password-stdin"], Some("vera-password\n"));
    cli.ok(&["asset", "list"], None);
    let (code, _, err) = cli.run(&["deploy", "hello", "--asset", "web1"], None);
    assert_eq!(code, 2);
    assert!(err.contains("role viewer") && err.contains("operator"), "{err}");
    let (code, _, err) = cli.run(&["credential", "list"], None);
    assert_eq!(code, 2);
    assert!(err.contains("admin"), "{err}");
}

const HOSTILE: &str = r#"
name = "hostile"
version = "1"
run_mode = "system"
rescan_after = true
[[steps]]
name = "noisy"
type = "command"
command = "printf 'before\\033[2Jafter\\n'"
"#;

/// What a hostile target (its host name, its step output) and a hostile folder (links
/// out of it) can do to an admin's terminal and files through the CLI, and a closed pipe.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_escapes_control_characters_refuses_links_and_ends_quietly_on_a_closed_pipe() {
    let fleet = Fleet::up(1);
    let server = Server::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli { server: &server, config: dir.path().join("cli.json") };
    let key = dir.path().join("key");
    std::fs::write(&key, fleet.key()).unwrap();
    cli.ok(&["login", "--password-stdin", "--server-fingerprint", &server.cert_sha256], Some("admin-password\n"));
    cli.ok(&["credential", "add", "root", "--user", "root", "--key-file", key.to_str().unwrap(), "--global"], None);
    cli.ok(&["asset", "add", "web1", "--address", &fleet.hosts[0].ip], None);
    // the target's own host name clears the screen when printed raw
    fleet.sh(&fleet.hosts[0], "printf 'evil\\033[2Jhost' > /proc/sys/kernel/hostname");

    // a package folder with a link out of it is refused, naming the link
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(pkg.join("files")).unwrap();
    std::fs::write(pkg.join("package.toml"), HOSTILE).unwrap();
    std::os::unix::fs::symlink(&key, pkg.join("files/id_ed25519")).unwrap();
    let (code, out, err) = cli.run(&["package", "import", pkg.to_str().unwrap()], None);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("files/id_ed25519 is a symbolic link"), "{err}");
    let (code, _, _) = cli.run(&["package", "show", "hostile"], None);
    assert_eq!(code, 2, "nothing was imported");
    std::os::unix::fs::symlink(&key, pkg.join("package.link")).unwrap();
    std::fs::remove_file(pkg.join("files/id_ed25519")).unwrap();
    std::fs::remove_file(pkg.join("package.toml")).unwrap();
    std::os::unix::fs::symlink(pkg.join("package.link"), pkg.join("package.toml")).unwrap();
    let (code, _, err) = cli.run(&["package", "import", pkg.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(err.contains("package.toml is a symbolic link"), "{err}");
    std::fs::remove_file(pkg.join("package.toml")).unwrap();
    std::fs::write(pkg.join("package.toml"), HOSTILE).unwrap();
    cli.ok(&["package", "import", pkg.to_str().unwrap()], None);

    let out = cli.ok(&["deploy", "hostile", "--asset", "web1"], None);
    assert!(out.contains("1 of 1 target(s) succeeded"), "{out}");
    for args in [&["asset", "list"][..], &["log", "--asset", "web1"], &["asset", "show", "web1"]] {
        let out = cli.ok(args, None);
        assert!(!out.contains('\x1b'), "drover {args:?} printed a raw escape:\n{out}");
    }
    let log = cli.ok(&["log", "--asset", "web1"], None);
    assert!(log.contains("before\\x1b[2Jafter"), "{log}");
    let shown = cli.ok(&["asset", "show", "web1"], None);
    assert!(shown.contains("evil\\u001b[2Jhost"), "the host name, escaped by JSON: {shown}");

    // `drover log | head -1`: the reader goes away before drover writes
    for args in [&["log", "--asset", "web1"][..], &["log", "--asset", "web1", "--json"], &["asset", "list"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_drover"))
            .args(args)
            .env("DROVER_SERVER", &server.url)
            .env("DROVER_CLI_CONFIG", &cli.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "drover {args:?} on a closed pipe: {err}");
        assert!(err.is_empty(), "drover {args:?} on a closed pipe said: {err}");
    }
}

/// A certificate authority and a server certificate it issued for 127.0.0.1, as PEM:
/// (authority, server certificate, server key).
fn authority_and_server_cert() -> (String, String, String) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "drover test authority");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A server with a certificate from the organisation's own authority: `drover login
/// --server-ca` trusts it with no fingerprint, saves the authority with the session, and
/// another authority's file does not do.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_trusts_a_server_certificate_from_a_given_authority() {
    let (ca, cert, key) = authority_and_server_cert();
    let server = Server::start_with_cert(Backend::Sqlite, &cert, &key).await;
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli { server: &server, config: dir.path().join("cli.json") };
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let (other, _, _) = authority_and_server_cert();
    let other_file = dir.path().join("other-ca.pem");
    std::fs::write(&other_file, &other).unwrap();

    let (code, _, err) =
        cli.run(&["login", "--password-stdin", "--server-ca", other_file.to_str().unwrap()], Some("admin-password\n"));
    assert_eq!(code, 2);
    assert!(err.contains("did not present a TLS certificate this client trusts"), "{err}");
    cli.ok(&["login", "--password-stdin", "--server-ca", ca_file.to_str().unwrap()], Some("admin-password\n"));
    let saved = std::fs::read_to_string(&cli.config).unwrap();
    assert!(
        saved.contains("ca.pem") && !saved.contains(&server.cert_sha256),
        "the authority is saved, no pin: {saved}"
    );
    let out = cli.ok(&["asset", "list"], None);
    assert!(!out.contains("error"), "{out}");
}
