//! The shell scripts drover runs on targets over SSH, and the parsing of what they print.
//! Pure text in, text out, so the rules are unit tested without a host.

use drover_domain::asset::{HostFacts, normalize_mac};
use drover_domain::package::{FinalAction, FinalActionKind};
use drover_proto::Report;

/// Quotes a string for POSIX sh.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What the first script learns about the target, as the login user.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Facts {
    pub uid: Option<u32>,
    pub user: String,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub macs: Vec<String>,
    /// Users with a session (utmp / logind), in the order listed.
    pub sessions: Vec<String>,
    pub systemd: bool,
    pub start_stop_daemon: bool,
    /// The server's address as the target sees it (from `$SSH_CONNECTION`).
    pub client_ip: Option<String>,
    /// This deployer build is already under /var/lib/drover, and under ~/.drover.
    pub deployer_in_root_dir: bool,
    pub deployer_in_home_dir: bool,
}

impl Facts {
    /// What the inventory keeps of them.
    pub fn host_facts(&self) -> HostFacts {
        HostFacts {
            hostname: self.hostname.clone(),
            os: self.os.clone(),
            arch: self.arch.clone(),
            macs: self.macs.clone(),
        }
    }
}

/// Learns the host, and whether the deployer with this hash is there.
pub(crate) fn facts_script(deployer_sha256: &str) -> String {
    let name = deployer_path("", deployer_sha256);
    format!(
        "{FACTS_SCRIPT}if [ -x {root}{name} ]; then echo deployer=root; fi\nif [ -x \"$HOME/.drover\"{name} ]; then echo deployer=home; fi\n",
        root = base_dir(true)
    )
}

// Shell built-ins where they do (`read` instead of `cat`): every process costs the target
// a fork and an exec, and a deployment runs this once per target.
const FACTS_SCRIPT: &str = r#"id | { read -r ids; u=${ids#uid=}; echo "uid=${u%%(*}"; u=${ids#*(}; echo "user=${u%%)*}"; }
if read -r h </proc/sys/kernel/hostname 2>/dev/null; then echo "hostname=$h"; else echo "hostname=$(hostname)"; fi
echo "arch=$(uname -m)"
if [ -r /etc/os-release ]; then ( . /etc/os-release; echo "os=${PRETTY_NAME:-$ID $VERSION_ID}" ); fi
for f in /sys/class/net/*/address; do [ -r "$f" ] && read -r m <"$f" && echo "mac=$m"; done
if command -v who >/dev/null 2>&1; then who | while read -r u _; do echo "session=$u"; done; fi
if [ -d /run/systemd/system ]; then
  if command -v loginctl >/dev/null 2>&1; then loginctl list-users --no-legend 2>/dev/null | while read -r _ u _; do echo "session=$u"; done; fi
  if command -v systemd-run >/dev/null 2>&1; then echo systemd=1; fi
fi
if command -v start-stop-daemon >/dev/null 2>&1; then echo ssd=1; fi
echo "client=${SSH_CONNECTION%% *}"
"#;

pub(crate) fn parse_facts(out: &str) -> Facts {
    let mut f = Facts::default();
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let some = || (!v.is_empty()).then(|| v.to_string());
        match k {
            "uid" => f.uid = v.parse().ok(),
            "user" => f.user = v.to_string(),
            "hostname" => f.hostname = some(),
            "arch" => f.arch = some(),
            "os" => f.os = some(),
            "mac" => {
                if let Some(m) = normalize_mac(v).filter(|m| m != "00:00:00:00:00:00")
                    && !f.macs.contains(&m)
                {
                    f.macs.push(m);
                }
            }
            "session" if !v.is_empty() && !f.sessions.iter().any(|s| s == v) => f.sessions.push(v.to_string()),
            "systemd" => f.systemd = true,
            "ssd" => f.start_stop_daemon = true,
            "client" => f.client_ip = some(),
            "deployer" if v == "root" => f.deployer_in_root_dir = true,
            "deployer" if v == "home" => f.deployer_in_home_dir = true,
            _ => {}
        }
    }
    f
}

/// How a script gets root, when it needs to.
#[derive(Clone, PartialEq)]
pub(crate) enum Privilege {
    /// The login user is root already.
    Root,
    SudoNoPassword,
    SudoPassword(String),
}

impl std::fmt::Debug for Privilege {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Privilege::Root => "Root",
            Privilege::SudoNoPassword => "SudoNoPassword",
            Privilege::SudoPassword(_) => "SudoPassword(<redacted>)",
        })
    }
}

/// The command line that runs `script` (as root when `privilege` is given) and what to
/// put on its standard input before the script's own input (the sudo password).
pub(crate) fn wrap(script: &str, privilege: Option<&Privilege>) -> (String, Vec<u8>) {
    let quoted = sh_quote(script);
    match privilege {
        None | Some(Privilege::Root) => (format!("sh -c {quoted}"), Vec::new()),
        Some(Privilege::SudoNoPassword) => (format!("sudo -n -- sh -c {quoted}"), Vec::new()),
        Some(Privilege::SudoPassword(pw)) => {
            (format!("sudo -S -p '' -- sh -c {quoted}"), format!("{pw}\n").into_bytes())
        }
    }
}

/// How the detached task is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Launcher {
    SystemdRun,
    StartStopDaemon,
    Setsid,
}

impl Launcher {
    pub fn pick(facts: &Facts, as_root: bool) -> Launcher {
        if as_root && facts.systemd {
            Launcher::SystemdRun
        } else if facts.start_stop_daemon {
            Launcher::StartStopDaemon
        } else {
            Launcher::Setsid
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Launcher::SystemdRun => "systemd-run",
            Launcher::StartStopDaemon => "start-stop-daemon",
            Launcher::Setsid => "setsid",
        }
    }
}

/// Where drover keeps its files on a target, as a shell word.
pub(crate) fn base_dir(as_root: bool) -> &'static str {
    if as_root { "/var/lib/drover" } else { "\"$HOME/.drover\"" }
}

pub(crate) fn deployer_path(base: &str, sha256: &str) -> String {
    format!("{base}/bin/drover-deployer-{}", &sha256[..16.min(sha256.len())])
}

/// Reads the deployer from stdin, checks its hash, installs it.
pub(crate) fn upload_script(base: &str, deployer: &str, sha256: &str) -> String {
    format!(
        r#"set -e; umask 022; mkdir -p {base}/bin; chmod 755 {base} {base}/bin
t={base}/bin/.upload.$$; cat > "$t"
if [ "$(sha256sum "$t" | cut -d' ' -f1)" != "{sha256}" ]; then rm -f "$t"; echo "deployer upload corrupted" >&2; exit 1; fi
chmod 755 "$t"; mv -f "$t" {deployer}"#
    )
}

/// Everything the launch needs to know.
pub(crate) struct LaunchPlan<'a> {
    pub dir: &'a str,
    pub deployer: &'a str,
    /// Switch to this user (the launch runs as root then).
    pub run_as: Option<&'a str>,
    pub launcher: Launcher,
    pub unit: String,
}

/// Writes the job from stdin and creates the detached task; prints `pid=N`. It waits up
/// to 30 s (under the 60 s a script may take) for the deployer to say it runs: a task
/// that starts late on a loaded machine must not be taken for one that never started.
pub(crate) fn launch_script(p: &LaunchPlan<'_>) -> String {
    let (dir, deployer) = (p.dir, p.deployer);
    let inner = sh_quote(r#"exec "$0" run "$1" >>"$1/deployer.log" 2>&1"#);
    let chown = p.run_as.map(|u| format!("chown -R {} \"$D\"", sh_quote(u))).unwrap_or_default();
    let start = match (p.launcher, p.run_as) {
        (Launcher::SystemdRun, user) => format!(
            "systemd-run --quiet --collect --unit={} {} -p WorkingDirectory=\"$D\" /bin/sh -c {inner} {deployer} \"$D\"",
            p.unit,
            user.map(|u| format!("--uid={}", sh_quote(u))).unwrap_or_default()
        ),
        (Launcher::StartStopDaemon, user) => format!(
            "start-stop-daemon --start --background --pidfile \"$D/task.pid\" {} --chdir \"$D\" --startas /bin/sh -- -c {inner} {deployer} \"$D\"",
            user.map(|u| format!("--chuid {}", sh_quote(u))).unwrap_or_default()
        ),
        (Launcher::Setsid, user) => format!(
            "{} setsid -f /bin/sh -c {inner} {deployer} \"$D\" </dev/null >/dev/null 2>&1",
            user.map(|u| format!("runuser -u {} --", sh_quote(u))).unwrap_or_default()
        ),
    };
    format!(
        r#"set -e; umask 077; D={dir}
mkdir -p "$D"; chmod 755 "${{D%/*}}"; rm -f "$D/pid" "$D/task.pid" "$D/record.jsonl"
cat > "$D/job.json"
{chown}
cd "$D"
{start}
i=0; while [ ! -s "$D/pid" ] && [ ! -s "$D/record.jsonl" ] && [ $i -lt 1500 ]; do sleep 0.02; i=$((i+1)); done
if [ -s "$D/pid" ]; then read -r p <"$D/pid" 2>/dev/null || true; echo "pid=$p"; elif [ -s "$D/record.jsonl" ]; then echo "ended=1"
else echo "the deployer did not start:" >&2; tail -c 2000 "$D/deployer.log" >&2 || true; exit 1; fi
find "${{D%/*}}" -mindepth 1 -maxdepth 1 -type d -mtime +14 -exec rm -rf {{}} + 2>/dev/null || true"#
    )
}

pub(crate) const ALIVE: &str = "__DROVER_TASK_ALIVE__";

/// Prints the record and whether the deployer still runs; when it does not, removes
/// what secrets it may have left.
pub(crate) fn check_script(dir: &str) -> String {
    format!(
        r#"D={dir}
cat "$D/record.jsonl" 2>/dev/null || true
p=$(cat "$D/pid" 2>/dev/null || true)
if [ -n "$p" ] && grep -q drover-deployer "/proc/$p/cmdline" 2>/dev/null; then echo {ALIVE}; else rm -rf "$D/job.json" "$D/files"; fi"#
    )
}

/// Ends the task (its whole process group: the deployer's group, which launchers such
/// as start-stop-daemon may give another number than its pid) and prints the record.
pub(crate) fn kill_script(dir: &str, unit: &str) -> String {
    format!(
        r#"D={dir}
p=$(cat "$D/pid" 2>/dev/null || true)
if [ -n "$p" ] && grep -q drover-deployer "/proc/$p/cmdline" 2>/dev/null; then g=$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f3); kill -TERM "-$g" 2>/dev/null || true; sleep 1; kill -KILL "-$g" 2>/dev/null || true; fi
if command -v systemctl >/dev/null 2>&1; then systemctl stop {unit} >/dev/null 2>&1 || true; fi
rm -rf "$D/job.json" "$D/files" "$D/pid"
cat "$D/record.jsonl" 2>/dev/null || true"#
    )
}

/// Starts the package's final action after its delay, detached, so that the SSH session
/// ends first; logged-on users are told with `wall` when there is a delay.
pub(crate) fn final_action_script(f: FinalAction, package: &str) -> Option<String> {
    let (what, cmd) = match f.action {
        FinalActionKind::None => return None,
        FinalActionKind::Reboot => ("restarts", "reboot"),
        FinalActionKind::Shutdown => ("shuts down", "poweroff"),
        FinalActionKind::Logoff => (
            "logs off its users",
            r#"for u in $(who | awk '$1 != "root" {print $1}' | sort -u); do loginctl terminate-user "$u" 2>/dev/null || pkill -KILL -u "$u"; done"#,
        ),
    };
    let delay = f.delay_secs;
    let warn = if delay > 0 {
        let text = format!("drover: this machine {what} in {delay} s (after package {package})");
        format!("echo {} | wall 2>/dev/null; ", sh_quote(&text))
    } else {
        String::new()
    };
    let job = format!("{warn}sleep {delay}; {cmd}");
    Some(format!("setsid -f sh -c {} </dev/null >/dev/null 2>&1", sh_quote(&job)))
}

/// The reports in a collected record, and whether the task was alive. A torn last line
/// (the deployer was writing it) is skipped.
pub(crate) fn parse_record(out: &str) -> (Vec<Report>, bool) {
    let mut alive = false;
    let mut reports = Vec::new();
    for line in out.lines() {
        if line.trim() == ALIVE {
            alive = true;
        } else if let Ok(r) = serde_json::from_str::<Report>(line) {
            reports.push(r);
        }
    }
    (reports, alive)
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
