//! The ansible-core reference of bench-deploy (`--ansible`): a throwaway venv with
//! ansible-core from PyPI, an inventory of the fleet's hosts and a playbook doing the
//! package's work (copy the payload, `echo ok`, check its sha256), timed wall clock.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The playbook's tasks per host: copy, command, stat, assert.
const TASKS: u64 = 4;

/// ansible-core installed in a venv inside a temp dir (removed when dropped).
pub struct Ansible {
    dir: tempfile::TempDir,
    /// As `ansible-playbook --version` prints it, e.g. `2.19.14`.
    pub version: String,
}

/// One `ansible-playbook` run.
pub struct Run {
    pub wall: f64,
    /// Hosts whose recap shows every task ok, none failed, none unreachable.
    pub ok: usize,
}

fn run_quiet(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Ansible {
    /// `python3 -m venv`, then `pip install ansible-core` (needs PyPI).
    pub fn install() -> Result<Ansible, String> {
        let dir = tempfile::Builder::new()
            .prefix("bench-deploy-ansible-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let venv = dir.path().join("venv");
        run_quiet(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
        run_quiet(
            Command::new(venv.join("bin/pip")).args(["install", "--disable-pip-version-check", "-q", "ansible-core"]),
            "pip install ansible-core",
        )?;
        let out =
            run_quiet(Command::new(venv.join("bin/ansible-playbook")).arg("--version"), "ansible-playbook --version")?;
        // first line: `ansible-playbook [core 2.19.14]`
        let version = out
            .lines()
            .next()
            .and_then(|l| l.split("[core ").nth(1))
            .and_then(|v| v.strip_suffix(']'))
            .ok_or_else(|| format!("unexpected `ansible-playbook --version` output: {out}"))?
            .to_string();
        Ok(Ansible { dir, version })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the config, inventory, payload and playbook, then times `ansible-playbook`
    /// over every host of the fleet, `forks` at once.
    pub async fn run(&self, spec: &Spec<'_>) -> Result<Run, String> {
        let w = |name: &str, body: &[u8]| {
            std::fs::write(self.path(name), body).map_err(|e| format!("cannot write {name}: {e}"))
        };
        // ansible's own defaults, plus pipelining (fewer round trips per task: the usual
        // tuning, so the reference is not slower than a tuned ansible would be)
        w(
            "ansible.cfg",
            format!(
                "[defaults]\ninventory = {}\nforks = {}\nhost_key_checking = False\nretry_files_enabled = False\n\n[ssh_connection]\npipelining = True\n",
                self.path("inventory.ini").display(),
                spec.forks
            )
            .as_bytes(),
        )?;
        let mut inv = String::from("[fleet]\n");
        for ip in spec.ips {
            inv.push_str(ip);
            inv.push('\n');
        }
        inv.push_str(&format!(
            "\n[fleet:vars]\nansible_user=root\nansible_ssh_private_key_file={}\nansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o KexAlgorithms=curve25519-sha256'\nansible_python_interpreter={}\n",
            spec.key.display(),
            spec.python
        ));
        w("inventory.ini", inv.as_bytes())?;
        w("payload.bin", spec.payload)?;
        let playbook = format!(
            r#"- hosts: fleet
  gather_facts: false
  tasks:
    - name: copy
      ansible.builtin.copy:
        src: {payload}
        dest: /tmp/payload-ansible.bin
        mode: "0644"
    - name: command
      ansible.builtin.command: echo ok
    - name: check (stat)
      ansible.builtin.stat:
        path: /tmp/payload-ansible.bin
        checksum_algorithm: sha256
      register: payload
    - name: check (assert)
      ansible.builtin.assert:
        that:
          - payload.stat.exists
          - payload.stat.checksum == "{sha}"
"#,
            payload = self.path("payload.bin").display(),
            sha = spec.sha256
        );
        w("playbook.yml", playbook.as_bytes())?;

        let start = Instant::now();
        let out = tokio::process::Command::new(self.path("venv/bin/ansible-playbook"))
            .arg(self.path("playbook.yml"))
            .current_dir(self.dir.path())
            .env("ANSIBLE_CONFIG", self.path("ansible.cfg"))
            // its temp files and SSH control sockets in the temp dir, not ~/.ansible
            .env("ANSIBLE_HOME", self.path("home"))
            .env("ANSIBLE_NOCOLOR", "1")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot start ansible-playbook: {e}"))?;
        let wall = start.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ok = recap_ok(&stdout);
        if ok < spec.ips.len() {
            let tail: Vec<&str> = stdout.lines().rev().take(spec.ips.len() + 12).collect();
            eprintln!(
                "ansible-playbook ({}): {ok}/{} hosts ok; end of its output:\n{}\n{}",
                out.status,
                spec.ips.len(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(Run { wall, ok })
    }
}

/// What the playbook runs against.
pub struct Spec<'a> {
    pub ips: &'a [String],
    pub key: &'a Path,
    /// The hosts' Python interpreter.
    pub python: &'a str,
    pub forks: usize,
    pub payload: &'a [u8],
    pub sha256: &'a str,
}

/// Hosts in the PLAY RECAP with ok=TASKS, failed=0, unreachable=0.
fn recap_ok(stdout: &str) -> usize {
    let Some((_, recap)) = stdout.split_once("PLAY RECAP") else { return 0 };
    recap
        .lines()
        .filter_map(|l| l.split_once(" : ").map(|(_, counts)| counts))
        .filter(|counts| {
            let n = |key: &str| {
                counts.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse::<u64>().ok())
            };
            n("ok") == Some(TASKS) && n("failed") == Some(0) && n("unreachable") == Some(0)
        })
        .count()
}

/// The path of `python3` on the host at `ip` (a login as root with the fleet's key), or
/// None when it has none.
pub fn host_python(ip: &str, key: &Path) -> Result<Option<String>, String> {
    let out = Command::new("ssh")
        .args(crate::SSH_OPTIONS)
        .arg("-i")
        .arg(key)
        .arg(format!("root@{ip}"))
        .arg("command -v python3 || true")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ssh: {e}"))?;
    if !out.status.success() {
        return Err(format!("ssh root@{ip} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((!path.is_empty()).then_some(path))
}
