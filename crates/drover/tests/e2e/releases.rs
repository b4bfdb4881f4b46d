//! Targets of older releases: one deployment with every step type that runs on both, to a
//! fleet of Debian 12 (this machine's root) and Debian 11 hosts (glibc 2.31, a cached
//! debootstrap root); and why the deployer is built static: the dynamic build does not
//! start on Debian 11.

use crate::fleet::{Fleet, Host, ROOT_PASSWORD};
use crate::harness::{Backend, Server, deployer_path, dynamic_deployer_path, sha256};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Two hosts of this machine's release, two of Debian 11.
const FLEET: &str = "bookworm:2,bullseye:2,bookworm-systemd:1";

const CONF: &[u8] = b"# deployed by drover to every release\nanswer = 42\n";

const SCRIPT: &[u8] = b"#!/bin/sh
set -e
echo \"args: $*\" > /tmp/script-ran
. /etc/os-release
echo \"script on Debian $VERSION_ID, $(ldd --version | head -1)\"
";

const SETUP: &[u8] = b"#!/bin/sh
mkdir -p /opt/drover-setup
echo \"$1\" > /opt/drover-setup/done
echo setup done
";

/// A dummy Debian package `drover-dummy` (one file), built here with dpkg-deb.
fn dummy_deb(dir: &Path) -> PathBuf {
    let root = dir.join("pkg");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/drover-dummy")).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        "Package: drover-dummy\nVersion: 1.2-3\nArchitecture: all\nMaintainer: drover tests <t@invalid>\nDescription: a dummy package the releases test installs and removes\n",
    )
    .unwrap();
    std::fs::write(root.join("usr/share/drover-dummy/hello"), "hello\n").unwrap();
    let deb = dir.join("drover-dummy.deb");
    // gzip: every dpkg reads it
    let out = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&root)
        .arg(&deb)
        .output()
        .expect("dpkg-deb (package dpkg) builds the dummy package");
    assert!(out.status.success(), "dpkg-deb: {}", String::from_utf8_lossy(&out.stderr));
    deb
}

fn package() -> String {
    format!(
        r#"
name = "releases"
version = "1.0"
max_duration_secs = 120

[[steps]]
name = "copy config"
type = "file-copy"
source = "{{PackageShare}}/conf/releases.conf"
destination = "/etc/drover-releases.conf"
mode = "0640"

[[steps]]
name = "command"
type = "command"
command = ". /etc/os-release && echo $VERSION_ID > /tmp/release-marker && id -un"

[[steps]]
name = "script"
type = "script"
path = "{{PackageShare}}/scripts/check.sh"
parameters = "one two"

[[steps]]
name = "installer sh"
type = "installer"
path = "{{PackageShare}}/installers/setup.sh"
parameters = "from-installer"

[[steps]]
name = "installer deb"
type = "installer"
path = "{{PackageShare}}/installers/drover-dummy.deb"

[[steps]]
name = "check all"
type = "condition"
criteria = [
  {{ check = "file-hash", path = "/etc/drover-releases.conf", sha256 = "{hash}" }},
  {{ check = "file-exists", path = "/opt/drover-setup/done" }},
  {{ check = "file-absent", path = "/tmp/never-there" }},
  {{ check = "os", id = "debian", op = ">=", version = "11" }},
  {{ check = "os", id = "debian", op = "<", version = "13" }},
  {{ check = "arch", arch = "x86_64" }},
  {{ check = "software-installed", name = "drover-dummy" }},
  {{ check = "software-version", name = "drover-dummy", op = ">=", version = "1.2-1" }},
  {{ check = "software-absent", name = "drover-never-installed" }},
  {{ check = "command-exit", command = "test -s /tmp/release-marker" }},
]

[[steps]]
name = "is Debian 12"
type = "condition"
criteria = [ {{ check = "os", id = "debian", op = "=", version = "12" }} ]
success_codes = [0, 1]

[[steps]]
name = "kill victim"
type = "kill-process"
process = "drover-victim"

[[steps]]
name = "sleep"
type = "sleep"
seconds = 1

[[steps]]
name = "message"
type = "message"
text = "drover: a package for every release"

[[steps]]
name = "uninstall dummy"
type = "uninstall"
packages = ["drover-dummy"]

[[steps]]
name = "check removed"
type = "condition"
criteria = [
  {{ check = "software-absent", name = "drover-dummy" }},
  {{ check = "file-absent", path = "/usr/share/drover-dummy/hello" }},
]
"#,
        hash = sha256(CONF)
    )
}

fn version_id(host: &Host) -> &'static str {
    match host.release.as_str() {
        "bookworm" | "bookworm-systemd" => "12",
        "bullseye" => "11",
        other => panic!("unexpected release {other} of {}", host.name),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_step_type_on_debian_12_11_and_a_systemd_host() {
    let fleet = Fleet::up_releases(FLEET);
    let releases: Vec<&str> = fleet.hosts.iter().map(|h| h.release.as_str()).collect();
    assert_eq!(releases, ["bookworm", "bookworm", "bullseye", "bullseye", "bookworm-systemd"]);
    let sd = &fleet.hosts[4];
    assert_eq!(fleet.sh(sd, "ps -p 1 -o comm="), "systemd", "{} boots systemd", sd.name);
    let server = Server::start(Backend::Postgres).await;
    let cred = server.credential("root-pw", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    let assets = server.assets(&fleet, &cred).await;

    let tmp = tempfile::tempdir().unwrap();
    let deb = std::fs::read(dummy_deb(tmp.path())).unwrap();
    let files: [(&str, &[u8]); 4] = [
        ("conf/releases.conf", CONF),
        ("scripts/check.sh", SCRIPT),
        ("installers/setup.sh", SETUP),
        ("installers/drover-dummy.deb", &deb),
    ];
    let (status, v) = server.import(&package(), &files).await;
    assert_eq!(status, 200, "{v}");

    // a process for the kill-process step on every host (its own copy of sleep, by name)
    for h in &fleet.hosts {
        fleet.sh(h, "cp /bin/sleep /tmp/drover-victim && setsid /tmp/drover-victim 300 </dev/null >/dev/null 2>&1 &");
        fleet.sh(h, "pgrep -x drover-victim");
    }

    let done = server.deploy_and_wait(json!({"package": "releases", "assets": assets}), Duration::from_secs(180)).await;
    for t in done["targets"].as_array().unwrap() {
        assert_eq!(t["state"], "success", "{t:#}");
    }

    for h in &fleet.hosts {
        let v = version_id(h);
        assert_eq!(fleet.sh(h, "sha256sum /etc/drover-releases.conf | cut -d' ' -f1"), sha256(CONF), "{}", h.name);
        assert_eq!(fleet.sh(h, "stat -c '%a %U' /etc/drover-releases.conf"), "640 root");
        assert_eq!(fleet.sh(h, "cat /tmp/release-marker"), v, "{}", h.name);
        assert_eq!(fleet.sh(h, "cat /tmp/script-ran"), "args: one two");
        assert_eq!(fleet.sh(h, "cat /opt/drover-setup/done"), "from-installer");
        assert_eq!(fleet.exec(h, "dpkg -s drover-dummy").0, 1, "drover-dummy removed from {}", h.name);
        assert_eq!(fleet.exec(h, "pgrep -x drover-victim").0, 1, "drover-victim killed on {}", h.name);
    }

    let id = done["deployment"]["id"].as_i64().unwrap();
    let log = server.log(id).await;
    assert_eq!(log.len(), 5);
    let names = [
        "copy config",
        "command",
        "script",
        "installer sh",
        "installer deb",
        "check all",
        "is Debian 12",
        "kill victim",
        "sleep",
        "message",
        "uninstall dummy",
        "check removed",
    ];
    for h in &fleet.hosts {
        let e =
            log.iter().find(|e| e["asset_name"] == h.name.as_str()).unwrap_or_else(|| panic!("no log of {}", h.name));
        let steps = e["steps"].as_array().unwrap();
        let got: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(got, names, "{e:#}");
        assert!(steps.iter().all(|s| s["success"] == true), "{e:#}");
        let codes: Vec<i64> = steps.iter().map(|s| s["exit_code"].as_i64().unwrap()).collect();
        // the os criterion reads each host's own release: 0 on Debian 12, 1 on Debian 11
        let codename = h.release.trim_end_matches("-systemd");
        let debian12 = if codename == "bookworm" { 0 } else { 1 };
        assert_eq!(codes, [0, 0, 0, 0, 0, 0, debian12, 0, 0, 0, 0, 0], "{}: {e:#}", h.name);
        assert_eq!(output(&steps[1]), "root");
        let script = output(&steps[2]);
        assert!(script.contains(&format!("script on Debian {}", version_id(h))), "{script}");
        let glibc = if codename == "bookworm" { "2.36" } else { "2.31" };
        assert!(script.contains(glibc), "{}: glibc {glibc} expected: {script}", h.name);
        assert!(output(&steps[7]).contains("named 'drover-victim'"), "{e:#}");
        assert_eq!(e["return_code"], 0);
        assert!(e["deployer_version"].as_str().is_some_and(|v| !v.is_empty()), "{e:#}");

        // the facts learnt over SSH name each release
        let a = server.get(&format!("/assets/{}", h.name)).await;
        let os = a["os"].as_str().unwrap_or_default();
        let want = format!("Debian GNU/Linux {} ({codename})", version_id(h));
        assert_eq!(os, want, "{a:#}");
    }
}

fn output(step: &Value) -> String {
    step["output_tail"].as_str().unwrap_or_default().trim().to_string()
}

/// The failure the static build fixes: a plain (dynamic) build needs this machine's glibc
/// (2.34 or newer symbols) and does not start on Debian 11; the static one starts on both.
#[test]
fn only_the_static_deployer_starts_on_debian_11() {
    let dynamic = dynamic_deployer_path();
    assert!(dynamic.exists(), "{} is missing: cargo build -p drover-deployer", dynamic.display());
    let fleet = Fleet::up_releases("bookworm:1,bullseye:1");
    let (new, old) = (&fleet.hosts[0], &fleet.hosts[1]);
    assert_eq!((new.release.as_str(), old.release.as_str()), ("bookworm", "bullseye"));
    let run = "cat >/tmp/d && chmod 755 /tmp/d && /tmp/d --version";

    let (code, out) = fleet.exec_input(old, run, &dynamic);
    assert_ne!(code, 0, "the dynamic deployer started on Debian 11: {out}");
    assert!(out.contains("version `GLIBC_2.3") && out.contains("not found"), "{out}");
    let (code, out) = fleet.exec_input(new, run, &dynamic);
    assert_eq!((code, out.trim()), (0, env!("CARGO_PKG_VERSION")), "the dynamic deployer on Debian 12");

    let fixed = deployer_path();
    for h in [new, old] {
        let (code, out) = fleet.exec_input(h, run, &fixed);
        assert_eq!((code, out.trim()), (0, env!("CARGO_PKG_VERSION")), "the static deployer on {}", h.release);
    }
    // static-pie: no program interpreter, no libraries to load
    let out = Command::new("ldd").arg(&fixed).output().expect("ldd");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("statically linked") || text.contains("not a dynamic executable"), "ldd: {text}");
}

/// An x86_64 machine and a server whose deployer folder has builds for other
/// architectures only: the target ends at once with `target.unsupported_arch`, and
/// nothing is put on the machine. With the x86_64 build added to the folder, the same
/// deployment succeeds: the server picks each machine's build by its architecture.
#[tokio::test(flavor = "multi_thread")]
async fn a_machine_without_a_deployer_for_its_architecture_ends_at_once() {
    let fleet = Fleet::up(1);
    let h = &fleet.hosts[0];
    let folder = tempfile::tempdir().unwrap();
    // an aarch64 ELF header: all the server reads of a build it never runs here
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
    elf.extend(0xb7_u16.to_le_bytes());
    std::fs::write(folder.path().join("drover-deployer-aarch64"), &elf).unwrap();
    let pkg = "name = \"arch\"\nversion = \"1\"\n[[steps]]\nname = \"mark\"\ntype = \"command\"\ncommand = \"echo ran >> /tmp/arch-ran\"\n";

    let dir = folder.path().to_path_buf();
    let server = Server::start_with(Backend::Sqlite, |c| c.deployer_path = dir).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server.post("/assets", json!({"name": h.name, "address": h.ip, "credential": "root"})).await;
    assert_eq!(server.import(pkg, &[]).await.0, 200);
    let started = std::time::Instant::now();
    let done = server.deploy_and_wait(json!({"package": "arch", "assets": [h.name]}), Duration::from_secs(60)).await;
    let t = &done["targets"][0];
    assert_eq!(t["state"], "failed", "{done:#}");
    let log = server.log(done["deployment"]["id"].as_i64().unwrap()).await;
    assert_eq!(log[0]["error_code"], "target.unsupported_arch", "{log:#?}");
    let message = t["message"].as_str().unwrap();
    assert!(message.contains("x86_64") && message.contains("aarch64") && message.contains("--deployer"), "{message}");
    // at once: no wait for a task that cannot start (the launch would wait up to 30 s)
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    let (_, left) = fleet.exec(h, "ls /var/lib/drover/bin /tmp/arch-ran 2>&1");
    assert!(!left.contains("drover-deployer") && left.contains("No such file"), "{left}");
    drop(server);

    std::fs::copy(deployer_path(), folder.path().join("drover-deployer-x86_64")).unwrap();
    let dir = folder.path().to_path_buf();
    let server = Server::start_with(Backend::Sqlite, |c| c.deployer_path = dir).await;
    server.credential("root", json!({"username": "root", "password": ROOT_PASSWORD})).await;
    server.post("/assets", json!({"name": h.name, "address": h.ip, "credential": "root"})).await;
    assert_eq!(server.import(pkg, &[]).await.0, 200);
    let done = server.deploy_and_wait(json!({"package": "arch", "assets": [h.name]}), Duration::from_secs(60)).await;
    assert_eq!(done["targets"][0]["state"], "success", "{done:#}");
    assert_eq!(fleet.sh(h, "cat /tmp/arch-ran").trim(), "ran");
}
