//! A fleet of test hosts for one test, removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Host {
    pub name: String,
    pub ip: String,
    pub mac: String,
    /// The Debian codename of its root (`bookworm`, `bullseye`, ...).
    pub release: String,
}

pub struct Fleet {
    pub id: String,
    pub dir: PathBuf,
    pub hosts: Vec<Host>,
}

pub const ROOT_PASSWORD: &str = "drover-root";

/// Every host of the fleets up in this process: (ip, fleet id, host name), so that the
/// harness can pin a host's key the admin way when a test adds an asset for it.
static HOSTS: std::sync::Mutex<Vec<(String, String, String)>> = std::sync::Mutex::new(Vec::new());

/// The known_hosts line (`IP ssh-ed25519 AAAA…`) of the fleet host at `ip`, read from the
/// host itself; None when no fleet of this process has a host there.
pub fn known_host_line(ip: &str) -> Option<String> {
    let (id, name) = HOSTS.lock().unwrap().iter().find(|h| h.0 == ip).map(|h| (h.1.clone(), h.2.clone()))?;
    let out = Command::new(script())
        .args(["exec", "--id", &id, &name, "--", "cat", "/etc/ssh/drover_host_ed25519_key.pub"])
        .output()
        .expect("fleet exec");
    assert!(out.status.success(), "cannot read the host key of {name}: {}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8_lossy(&out.stdout);
    let mut fields = key.split_whitespace();
    Some(format!("{ip} {} {}", fields.next()?, fields.next()?))
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testfleet/fleet")
}

/// Runs the fleet script; panics with its stderr on failure.
fn fleet(args: &[&str]) -> String {
    let out = Command::new(script()).args(args).output().expect("run testfleet/fleet (needs bash, root)");
    assert!(
        out.status.success(),
        "testfleet/fleet {args:?} failed ({}): {}{}\n(the end-to-end tests need root, iproute2 and openssh-server: run them with the README's test command)",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Fleet {
    pub fn up(count: usize) -> Fleet {
        Self::up_with(&["--count", &count.to_string()])
    }

    /// Hosts of several Debian releases, e.g. `bookworm:1,bullseye:2` (host 1 bookworm,
    /// hosts 2 and 3 bullseye). A release other than this machine's is a cached root that
    /// the first use builds with debootstrap (needs the package mirror once).
    pub fn up_releases(spec: &str) -> Fleet {
        Self::up_with(&["--release", spec])
    }

    fn up_with(args: &[&str]) -> Fleet {
        let mut all = vec!["up", "--id", "auto"];
        all.extend_from_slice(args);
        let out = fleet(&all);
        let dir = out
            .lines()
            .find_map(|l| l.strip_prefix("fleet_dir="))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("fleet up printed no fleet_dir=: {out}"));
        let id = dir.file_name().map(|s| s.to_string_lossy().into_owned()).expect("fleet id");
        let tsv = std::fs::read_to_string(dir.join("hosts.tsv")).expect("hosts.tsv");
        let hosts = tsv
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                let release = std::fs::read_to_string(dir.join("hosts").join(c[0]).join("release"))
                    .map(|r| r.trim().to_string())
                    .unwrap_or_default();
                Host { name: c[0].into(), ip: c[1].into(), mac: c[2].into(), release }
            })
            .collect::<Vec<Host>>();
        HOSTS.lock().unwrap().extend(hosts.iter().map(|h| (h.ip.clone(), id.clone(), h.name.clone())));
        Fleet { id, dir, hosts }
    }

    /// Runs a command on a host as root; returns (exit code, stdout).
    pub fn exec(&self, host: &Host, cmd: &str) -> (i32, String) {
        let out = self.exec_output(host, cmd);
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn exec_output(&self, host: &Host, cmd: &str) -> std::process::Output {
        Command::new(script())
            .args(["exec", "--id", &self.id, &host.name, "--", "sh", "-c", cmd])
            .output()
            .expect("fleet exec")
    }

    /// Runs a program on a host as root without a shell (for hosts whose `sh` is gone);
    /// returns (exit code, stdout and stderr).
    pub fn exec_argv(&self, host: &Host, argv: &[&str]) -> (i32, String) {
        let out = Command::new(script())
            .args(["exec", "--id", &self.id, &host.name, "--"])
            .args(argv)
            .output()
            .expect("fleet exec");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    /// Runs a command on a host as root with `input` as its standard input; returns
    /// (exit code, stdout and stderr).
    pub fn exec_input(&self, host: &Host, cmd: &str, input: &Path) -> (i32, String) {
        let file = std::fs::File::open(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let out = Command::new(script())
            .args(["exec", "--id", &self.id, &host.name, "--", "sh", "-c", cmd])
            .stdin(file)
            .output()
            .expect("fleet exec");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    /// Runs a command that must succeed and returns its trimmed stdout.
    pub fn sh(&self, host: &Host, cmd: &str) -> String {
        let out = self.exec_output(host, cmd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`{cmd}` on {} ended with {}: {stdout}{}",
            host.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.trim().to_string()
    }

    pub fn run(&self, verb: &str, host: &Host, extra: &[&str]) {
        let mut args = vec![verb, "--id", &self.id, &host.name];
        args.extend_from_slice(extra);
        fleet(&args);
    }

    /// Powers a host off: every process on it but its PID 1 ends (sshd, tasks, sessions),
    /// and a Wake-on-LAN magic packet for its MAC (UDP 9 or 7, broadcast or not) boots it
    /// again `boot_secs` later. Harmless when it is already off.
    pub fn power_off(&self, host: &Host, boot_secs: u64) {
        self.run("power-off", host, &["--boot-secs", &boot_secs.to_string()]);
    }

    /// Boots a host that is off at once (its sshd answers when this returns); harmless when on.
    pub fn power_on(&self, host: &Host) {
        self.run("power-on", host, &[]);
    }

    /// What the host's Wake-on-LAN listener got, one line per packet (`TIME MAC|not-magic
    /// match|ignored port=P from=IP`) and `TIME booted (wake-on-lan|power-on)`; empty if none.
    pub fn wol_log(&self, host: &Host) -> String {
        std::fs::read_to_string(self.dir.join("hosts").join(&host.name).join("wol.log")).unwrap_or_default()
    }

    /// The host's /var/log/fleet-power.log: a line per reboot/poweroff/halt/shutdown run on
    /// it (`reboot 2026-11-25T01:02:03Z`, `shutdown TIME -r now (reboot)`); empty if none.
    pub fn power_log(&self, host: &Host) -> String {
        self.exec(host, "cat /var/log/fleet-power.log 2>/dev/null").1
    }

    /// The fleet's bridge device (`drvbr<ID>`): where Wake-on-LAN broadcasts must be sent.
    pub fn bridge(&self) -> String {
        format!("drvbr{}", self.id)
    }

    /// The fleet's hosts as OpenSSH known_hosts lines, read from the hosts.
    pub fn known_hosts(&self) -> String {
        self.hosts.iter().filter_map(|h| known_host_line(&h.ip)).map(|l| l + "\n").collect()
    }

    pub fn key(&self) -> String {
        std::fs::read_to_string(self.dir.join("id_ed25519")).expect("fleet key")
    }

    /// The bridge address: where the server is reached from the hosts.
    pub fn server_ip(&self) -> String {
        let ip = &self.hosts[0].ip;
        let prefix = ip.rsplit_once('.').map(|(p, _)| p).expect("ipv4");
        format!("{prefix}.1")
    }

    /// An address of the fleet's network that no host has.
    pub fn unused_ip(&self) -> String {
        let ip = &self.hosts[0].ip;
        let prefix = ip.rsplit_once('.').map(|(p, _)| p).expect("ipv4");
        format!("{prefix}.250")
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        HOSTS.lock().unwrap_or_else(|e| e.into_inner()).retain(|h| h.1 != self.id);
        let _ = Command::new(script()).args(["down", "--id", &self.id]).output();
    }
}
