//! Hostile targets: machines that answer SSH but cannot take drover as they are — no
//! `sh`, a read-only `/var/lib`, a full or `noexec` deployer folder, no `sudo` — each end
//! quickly with their own code and a message saying what to do, and nothing half-written
//! is left on them.

use crate::deploy::{CONF, hello_package};
use crate::fleet::{Fleet, ROOT_PASSWORD};
use crate::harness::{Backend, Server};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn hostile_targets_end_with_their_own_code_and_nothing_half_installed() {
    let fleet = Fleet::up(5);
    let server = Server::start(Backend::Sqlite).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server
        .credential("deploy", json!({"username": "deploy", "password": "drover-deploy", "sudo": "no_password"}))
        .await;
    let h = &fleet.hosts;
    for (host, credential) in h.iter().zip(["root", "root", "root", "root", "deploy"]) {
        server.post("/assets", json!({"name": host.name, "address": host.ip, "credential": credential})).await;
    }
    // 0: no sh. A real machine without /bin/sh: the file is gone (here /usr/bin/sh, which
    // /bin/sh is through the /bin -> usr/bin link) and root's login shell, bash, finds no
    // `sh` on its PATH (an account whose own login shell is missing cannot log in at all:
    // sshd refuses it, `ssh.auth_failed`)
    assert_eq!(fleet.exec_argv(&h[0], &["mv", "/usr/bin/sh", "/usr/bin/sh.hidden"]).0, 0);
    // 1: /var/lib read-only
    fleet.sh(&h[1], "mount --bind -o ro /var/lib /var/lib && ! touch /var/lib/probe 2>/dev/null");
    // 2: the deployer's folder a small file system with 1 MB left: the deployer does not fit
    fleet.sh(
        &h[2],
        "mkdir -p /var/lib/drover && mount -t tmpfs -o size=2m tmpfs /var/lib/drover && head -c 1048576 /dev/zero >/var/lib/drover/fill",
    );
    // 3: the deployer's folder mounted noexec
    fleet.sh(&h[3], "mkdir -p /var/lib/drover && mount -t tmpfs -o noexec,mode=755 tmpfs /var/lib/drover");
    // 4: a credential that becomes root with sudo, on a machine without sudo
    fleet.sh(&h[4], "rm /usr/bin/sudo");

    server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    let names: Vec<&str> = h.iter().map(|h| h.name.as_str()).collect();
    let start = Instant::now();
    let done = server.deploy_and_wait(json!({"package": "hello", "assets": names}), Duration::from_secs(60)).await;
    // every one ends at once (no 60 s script timeout, no task watched for its death)
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}: {done:#}", start.elapsed());
    let target = |i: usize| -> Value {
        done["targets"].as_array().unwrap().iter().find(|t| t["asset_name"] == h[i].name.as_str()).unwrap().clone()
    };
    let expect = |i: usize, code: &str, words: &[&str]| {
        let t = target(i);
        assert_eq!(t["state"], "failed", "{t:#}");
        assert_eq!(t["error_code"], code, "{t:#}");
        let msg = t["message"].as_str().unwrap();
        for w in words {
            assert!(msg.contains(w), "the message of {code} does not say '{w}': {msg}");
        }
    };
    expect(0, "target.no_shell", &["cannot run `sh`", "install one as /bin/sh", "user 'root'"]);
    expect(1, "target.read_only", &["/var/lib/drover", "read-only file system", "remount"]);
    expect(2, "target.disk_full", &["no space left in /var/lib/drover/bin", "df -h"]);
    expect(3, "target.noexec", &["/var/lib/drover/bin", "noexec", "remount it with exec"]);
    expect(4, "target.sudo_failed", &["sudo is not installed", "credential 'deploy'", "install sudo"]);

    // nothing half-written stays: no folder where none could be made, no partial upload,
    // no deployer that cannot run, no job (its tokens are secrets)
    // (the hosts start with an empty /var/lib/drover)
    assert_eq!(
        fleet.exec_argv(&h[0], &["ls", "-A", "/var/lib/drover"]),
        (0, String::new()),
        "no sh, yet things were put there"
    );
    assert_eq!(fleet.exec_argv(&h[0], &["mv", "/usr/bin/sh.hidden", "/usr/bin/sh"]).0, 0);
    assert_eq!(fleet.sh(&h[1], "ls -A /var/lib/drover"), "");
    assert_eq!(fleet.sh(&h[2], "ls -A /var/lib/drover/bin"), "", "the partial upload stays");
    assert_eq!(fleet.sh(&h[2], "ls -A /var/lib/drover"), "bin\nfill");
    assert_eq!(fleet.sh(&h[3], "ls -A /var/lib/drover/bin"), "", "a deployer that cannot run stays");
    assert_eq!(fleet.exec(&h[3], "ls /var/lib/drover/targets").0, 2);
    assert_eq!(fleet.sh(&h[4], "ls -A /var/lib/drover"), "");
    assert_eq!(fleet.exec(&h[4], "ls -A /home/deploy/.drover").0, 2);
}
