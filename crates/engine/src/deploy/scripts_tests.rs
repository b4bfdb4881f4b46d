//! The scripts of `scripts/` run with `sh` against a temporary directory, through the
//! same command line the targets get; and each passes `sh -n` and `shellcheck`.

use super::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ALL: [&Script; 8] =
    [&FACTS, &UPLOAD, &LAUNCH, &START, &TASK, &FINAL_ACTION, &SUDO_CHECK, &crate::deploy::scan_facts::SCAN];

fn scripts_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/deploy/scripts")
}

/// Runs a call as the targets do (`sh -c '<command line>'`), with `input` on stdin.
fn run(call: &Call, input: &[u8], env: &[(&str, &str)]) -> Output {
    let (line, _) = command(call, None);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&line)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sh: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).unwrap_or_else(|e| panic!("{e}"));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write_exec(path: &Path, body: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, body).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
}

/// Whether a process runs (a zombie does not).
fn lives(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_script_is_embedded_and_passes_sh_n_and_shellcheck() {
    let mut files: Vec<String> = std::fs::read_dir(scripts_dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".sh"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        ALL.len(),
        "a .sh file in scripts/ is not embedded in remote.rs (or the other way): {files:?}"
    );
    for s in ALL {
        assert!(
            files.iter().any(|f| std::fs::read_to_string(scripts_dir().join(f)).ok().as_deref() == Some(s.text)),
            "{} is not one of the files in scripts/",
            s.name
        );
    }
    for f in &files {
        let path = scripts_dir().join(f);
        let out = Command::new("sh").arg("-n").arg(&path).output().unwrap_or_else(|e| panic!("cannot run sh: {e}"));
        assert!(out.status.success(), "sh -n {f}: {}", text(&out.stderr));
        let out = Command::new("shellcheck").args(["-s", "sh"]).arg(&path).output().unwrap_or_else(|e| {
            panic!("cannot run shellcheck ({e}): install it with `apt-get install shellcheck` (scripts/test does)")
        });
        assert!(out.status.success(), "shellcheck -s sh {f}:\n{}{}", text(&out.stdout), text(&out.stderr));
    }
}

#[test]
fn facts_prints_the_host_and_finds_the_deployer_in_home() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let home = tmp.path().join("home");
    let root_base = tmp.path().join("root");
    let sha = "0123456789abcdef0123456789abcdef";
    write_exec(&home.join(".drover").join(drover_proto::workdir::deployer_file(sha)), "#!/bin/sh\n");
    let home_s = home.to_string_lossy().into_owned();
    let out = run(&facts_under(&root_base.to_string_lossy(), ["ffff", sha]), b"", &[("HOME", &home_s)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let f = parse_facts(&text(&out.stdout));
    assert!(f.uid.is_some() && !f.user.is_empty(), "{}", text(&out.stdout));
    assert_eq!(f.home.as_deref(), Some(home_s.as_str()));
    assert!(f.arch.is_some() && f.hostname.is_some(), "{}", text(&out.stdout));
    assert!(f.gzip, "this machine has gzip: {}", text(&out.stdout));
    // the os-release names as a shell that sources the file reads them
    let sourced = Command::new("sh")
        .args(["-c", ". /etc/os-release; echo \"${PRETTY_NAME:-$ID $VERSION_ID}\""])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.os.as_deref(), Some(text(&sourced.stdout).trim()), "{}", text(&out.stdout));
    assert_eq!(f.deployers_in_home_dir, [drover_proto::workdir::deployer_file(sha)], "{}", text(&out.stdout));
    assert!(f.deployers_in_root_dir.is_empty(), "{}", text(&out.stdout));
    // another build is not taken for this one
    let out = run(&facts_under(&root_base.to_string_lossy(), ["ffff"]), b"", &[("HOME", &home_s)]);
    assert!(parse_facts(&text(&out.stdout)).deployers_in_home_dir.is_empty());
}

#[test]
fn upload_refuses_a_wrong_hash_and_installs_a_right_one() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = tmp.path().join("base").to_string_lossy().into_owned();
    let bytes = b"#!/bin/sh\necho deployer\n";
    let sha = hex::encode(Sha256::digest(bytes));
    let dest = deployer_path(&base, &sha);
    let out = run(&upload(&base, &dest, &"0".repeat(64), false), bytes, &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("corrupted"), "{}", text(&out.stderr));
    assert!(!Path::new(&dest).exists());
    let left = std::fs::read_dir(format!("{base}/bin")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the corrupted upload was removed");
    let out = run(&upload(&base, &dest, &sha, false), bytes, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&dest).ok().as_deref(), Some(&bytes[..]));
    let mode = std::fs::metadata(&dest).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    assert_eq!(mode, 0o755);

    // where the facts found gzip, the upload is compressed and installed as it was built
    let build = crate::deployers::tests::build(bytes.to_vec());
    std::fs::remove_file(&dest).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(build.gzipped(), &bytes[..]);
    let out = run(&upload(&base, &dest, &sha, true), build.gzipped(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&dest).ok().as_deref(), Some(&bytes[..]));
    // a cut or damaged compressed upload fails gzip's own check, and nothing stays
    std::fs::remove_file(&dest).unwrap_or_else(|e| panic!("{e}"));
    let gz = build.gzipped();
    let mut damaged = gz.to_vec();
    damaged[gz.len() / 2] ^= 0xff;
    for bad in [&gz[..gz.len() - 4], &damaged[..]] {
        let out = run(&upload(&base, &dest, &sha, true), bad, &[]);
        assert!(!out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("cannot write the deployer"), "{}", text(&out.stderr));
        assert!(!Path::new(&dest).exists());
        assert_eq!(std::fs::read_dir(format!("{base}/bin")).map(|d| d.count()).unwrap_or(0), 0);
    }
    // plain bytes said to be compressed are refused, and nothing stays
    let out = run(&upload(&base, &dest, &sha, true), bytes, &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not in gzip format"), "{}", text(&out.stderr));
    assert!(!Path::new(&dest).exists());
}

/// A write that fails half-way (a full disk, here a `cat` that says so) names the
/// failure for the server and leaves no partial upload; so does a job that cannot be
/// written, and the work directory with its half job goes too.
#[test]
fn a_full_disk_is_named_and_leaves_nothing_half_written() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fake = tmp.path().join("fake");
    write_exec(
        &fake.join("cat"),
        "#!/bin/sh\nprintf partial\necho 'cat: write error: No space left on device' >&2\nexit 1\n",
    );
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
    let base = tmp.path().join("base").to_string_lossy().into_owned();
    let dest = deployer_path(&base, &"a".repeat(64));
    let out = run(&upload(&base, &dest, &"a".repeat(64), false), b"the deployer", &[("PATH", &path)]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("drover-fail=disk_full {base}/bin\n")), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(format!("{base}/bin"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(parse_failure(&stderr).map(|f| f.code), Some(drover_domain::FailureCode::DiskFull));

    // (the job written by the script: where the deployer starts the task as the login
    // user, it writes the job itself, see the deployer's `start`)
    let dir = format!("{base}/targets/7");
    let plan = LaunchPlan { launcher: Launcher::SystemdRun, ..launch_plan(&dir, &dest) };
    let out = run(&launch(&plan), b"{\"job\": 1}", &[("PATH", &path)]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("drover-fail=disk_full {base}/targets\n")), "{stderr}");
    assert!(!Path::new(&dir).exists(), "the work directory with its half job stays");
}

/// A launch of `deployer` in `dir` by the deployer itself, as root's tasks are started
/// without systemd.
fn launch_plan<'a>(dir: &'a str, deployer: &'a str) -> LaunchPlan<'a> {
    LaunchPlan { dir, deployer, run_as: None, launcher: Launcher::Deployer, unit: "u", resume: false }
}

const RECORD_LINE: &str =
    r#"{"target_id":1,"seq":1,"at_unix_ms":5,"event":{"event":"step_started","index":0,"name":"a"}}"#;

/// A deployer that, as the real one, starts its task (`start`: writes the job when named,
/// then itself as `run`, in the background in a session of its own) and prints its pid;
/// the task writes its pid and one report, starts a child in its group, and waits.
fn fake_deployer(base: &str) -> String {
    let path = deployer_path(base, "fakefakefakefake");
    write_exec(
        Path::new(&path),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = start ]; then [ -z \"$4\" ] || {{ mkdir -p \"$2\" && cat >\"$2/$4\"; }}; setsid \"$0\" run \"$2\" >>\"$2/$3\" 2>&1 </dev/null & echo \"pid=$!\"; exit 0; fi\n[ \"$1\" = run ] || exit 3\nd=$2\nsleep 300 &\necho $! >\"$d/child.tmp\"\nmv \"$d/child.tmp\" \"$d/child\"\necho $$ >\"$d/pid\"\necho '{RECORD_LINE}' >>\"$d/record.jsonl\"\nwait\n"
        ),
    );
    path
}

/// Kills a process group when the test ends, passed or not.
struct GroupGuard(i64);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.0)]).output();
    }
}

/// Launches the fake deployer with setsid in `dir`; returns its pid and its child's.
fn launch_fake(deployer: &str, dir: &str, job: &[u8]) -> (i64, i64) {
    let plan = LaunchPlan { unit: "drover-target-test", ..launch_plan(dir, deployer) };
    let out = run(&launch(&plan), job, &[]);
    assert!(out.status.success(), "launch: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let pid = stdout.lines().find_map(|l| l.strip_prefix("pid=")).and_then(|p| p.trim().parse::<i64>().ok());
    let pid = pid.unwrap_or_else(|| panic!("launch printed no pid: {stdout}"));
    assert_eq!(std::fs::read(format!("{dir}/job.json")).ok().as_deref(), Some(job), "job.json is stdin");
    let child = || std::fs::read_to_string(format!("{dir}/child")).ok().and_then(|c| c.trim().parse::<i64>().ok());
    wait_until("the task's child pid", || child().is_some());
    (pid, child().unwrap_or_default())
}

#[test]
fn launch_check_and_kill_drive_a_task() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = tmp.path().join("base").to_string_lossy().into_owned();
    let deployer = fake_deployer(&base);

    // launch, then check while it runs: the record and ALIVE
    let dir = target_dir(&base, TargetId(1));
    let (pid, child) = launch_fake(&deployer, &dir, br#"{"job":1}"#);
    let _guard = GroupGuard(pid);
    assert!(lives(pid) && lives(child));
    let out = run(&check(&dir), b"", &[]);
    let (reports, alive) = parse_record(&text(&out.stdout));
    assert_eq!((reports.len(), alive), (1, true), "{}", text(&out.stdout));
    assert!(Path::new(&format!("{dir}/job.json")).exists(), "kept while it runs");

    // the deployer dies: no ALIVE, the job (tokens) removed, the record still printed
    let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{pid}")]).status();
    wait_until("the killed deployer to end", || !lives(pid));
    let out = run(&check(&dir), b"", &[]);
    let (reports, alive) = parse_record(&text(&out.stdout));
    assert_eq!((reports.len(), alive), (1, false), "{}", text(&out.stdout));
    assert!(!Path::new(&format!("{dir}/job.json")).exists(), "job.json removed once it ended");

    // launched again while it runs (another node took the target over): the running
    // task is the launch's, nothing is written or started
    let dir = target_dir(&base, TargetId(3));
    let (pid, _) = launch_fake(&deployer, &dir, br#"{"job":"first"}"#);
    let _guard3 = GroupGuard(pid);
    let plan = launch_plan(&dir, &deployer);
    let out = run(&launch(&plan), br#"{"job":"second"}"#, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), format!("pid={pid}"));
    assert_eq!(std::fs::read_to_string(format!("{dir}/job.json")).unwrap_or_default(), r#"{"job":"first"}"#);
    let tasks = Command::new("pgrep").args(["-f", &format!("run {dir}$")]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(&tasks.stdout).lines().count(), 1, "one task: {}", text(&tasks.stdout));

    // kill ends the whole process group and prints the record
    let dir = target_dir(&base, TargetId(2));
    let (pid, child) = launch_fake(&deployer, &dir, b"{}");
    let _guard2 = GroupGuard(pid);
    let out = run(&kill(&dir, "drover-target-test-none"), b"", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(parse_record(&text(&out.stdout)).0.len(), 1);
    wait_until("the deployer and its child to end", || !lives(pid) && !lives(child));
    assert!(!Path::new(&format!("{dir}/pid")).exists() && !Path::new(&format!("{dir}/job.json")).exists());
}

#[test]
fn launch_fails_with_the_deployer_error_when_it_does_not_start() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = tmp.path().join("base").to_string_lossy().into_owned();
    let deployer = deployer_path(&base, "brokenbrokenbrok");
    write_exec(Path::new(&deployer), "#!/bin/sh\necho 'cannot start: broken' >&2\nexit 3\n");
    let dir = target_dir(&base, TargetId(3));
    let plan = launch_plan(&dir, &deployer);
    let started = Instant::now();
    // the deployer's own error, at once
    let out = run(&launch(&plan), b"{}", &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("did not start") && err.contains("cannot start: broken"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
}

#[test]
fn final_action_runs_detached() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bin = tmp.path().join("bin");
    let mark = tmp.path().join("powered-off");
    // the real poweroff is in /usr/sbin, which this PATH leaves out
    write_exec(&bin.join("poweroff"), &format!("#!/bin/sh\necho off >'{}'\n", mark.display()));
    assert!(!Path::new("/usr/bin/poweroff").exists() && !Path::new("/bin/poweroff").exists());
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let f = FinalAction { action: FinalActionKind::Shutdown, delay_secs: 0 };
    let call = final_action(f, "p").unwrap_or_else(|| panic!("shutdown has a script"));
    let out = run(&call, b"", &[("PATH", &path)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_until("the detached poweroff", || mark.exists());
    let bad = Call { script: &FINAL_ACTION, args: vec!["format-disk".into(), "0".into(), String::new()] };
    let out = run(&bad, b"", &[("PATH", &path)]);
    assert!(!out.status.success() && text(&out.stderr).contains("unknown final action"));
}

#[test]
fn a_resumed_launch_keeps_the_record_and_drops_the_resume_file() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = tmp.path().join("base").to_string_lossy().into_owned();
    // a deployer that reports one line, as one that ends at once does
    let deployer = deployer_path(&base, "resumeresumeresu");
    write_exec(
        Path::new(&deployer),
        "#!/bin/sh\nif [ \"$1\" = start ]; then [ -z \"$4\" ] || cat >\"$2/$4\"; \"$0\" run \"$2\"; echo pid=$$; exit 0; fi\necho '{\"seq\":3}' >> \"$2/record.jsonl\"\n",
    );
    let dir = target_dir(&base, TargetId(4));
    let launch_with = |resume: bool| {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(format!("{dir}/record.jsonl"), "{\"seq\":1}\n{\"seq\":2}\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(format!("{dir}/resume"), "2\n").unwrap_or_else(|e| panic!("{e}"));
        let plan = LaunchPlan { resume, ..launch_plan(&dir, &deployer) };
        let out = run(&launch(&plan), b"{}", &[]);
        assert!(out.status.success(), "launch: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("pid="), "{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!Path::new(&format!("{dir}/resume")).exists(), "the server's start_at says where to go on");
        std::fs::read_to_string(format!("{dir}/record.jsonl")).unwrap_or_default()
    };
    assert_eq!(launch_with(true), "{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3}\n", "resumed: the record goes on");
    assert_eq!(launch_with(false), "{\"seq\":3}\n", "a new task starts a new record");
}

fn start_plan(root_base: &str, need: Need, arch: &str, sha: &str) -> Call {
    let builds = vec![(arch, sha)];
    start(&StartPlan { root_base, target: TargetId(9), need, unit: "u", resume: false, builds })
}

/// The common case in one run: the facts, the deployer found in the login user's home
/// folder, the job from stdin written, the task created, its pid printed.
#[test]
fn start_creates_the_task_in_one_run_when_the_deployer_is_there() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let home = tmp.path().join("home");
    let home_s = home.to_string_lossy().into_owned();
    let root_base = tmp.path().join("root").to_string_lossy().into_owned();
    // as root, the login user's tasks go under the root base, as the server's rule says
    let uid = text(&Command::new("id").arg("-u").output().unwrap_or_else(|e| panic!("{e}")).stdout);
    let base = if uid.trim() == "0" { root_base.clone() } else { format!("{home_s}/.drover") };
    let sha = "feedfeedfeedfeedfeed";
    let deployer = fake_deployer(&base);
    let arch = text(&Command::new("uname").arg("-m").output().unwrap_or_else(|e| panic!("{e}")).stdout);
    let arch = arch.trim();
    // the fake is the build with this hash
    std::fs::rename(&deployer, deployer_path(&base, sha)).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let out = run(&start_plan(&root_base, Need::User, arch, sha), br#"{"job":9}"#, &[("HOME", &home_s)]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let dir = target_dir(&base, TargetId(9));
    let pid = launched_pid(&stdout).unwrap_or_else(|| panic!("no pid: {stdout}"));
    let _guard = GroupGuard(pid);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(
        parse_start(&stdout),
        Some(Start::Launched { launcher: "deployer".into(), dir: dir.clone() }),
        "{stdout}"
    );
    assert_eq!(parse_facts(&stdout).home.as_deref(), Some(home_s.as_str()), "the facts come first: {stdout}");
    assert_eq!(std::fs::read(format!("{dir}/job.json")).ok().as_deref(), Some(&br#"{"job":9}"#[..]));
    assert!(lives(pid), "the pid printed is the running deployer's");
    assert!(!Path::new(&format!("{dir}/started")).exists(), "no FIFO left behind");
}

/// What the server must judge is left to it, with the facts: a deployer not there yet,
/// no build for the architecture, a run mode whose account the server picks; nothing is
/// written on the machine.
#[test]
fn start_leaves_to_the_server_what_it_must_judge() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let home_s = tmp.path().join("home").to_string_lossy().into_owned();
    let root_base = tmp.path().join("root").to_string_lossy().into_owned();
    let arch = text(&Command::new("uname").arg("-m").output().unwrap_or_else(|e| panic!("{e}")).stdout);
    let cases = [
        (Need::User, arch.trim(), "deployer missing"),
        (Need::User, "pdp11", "no deployer for"),
        (Need::Server, arch.trim(), "run mode"),
    ];
    for (need, arch, why) in cases {
        let out = run(&start_plan(&root_base, need, arch, "abcabcabcabcabcabc"), b"{}", &[("HOME", &home_s)]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        match parse_start(&stdout) {
            Some(Start::Server(w)) => assert!(w.starts_with(why), "{need:?}: {w}"),
            other => panic!("{need:?} {arch}: {other:?}\n{stdout}"),
        }
        assert!(parse_facts(&stdout).uid.is_some(), "{stdout}");
        assert!(!Path::new(&home_s).exists() && !Path::new(&root_base).exists(), "nothing written");
    }
}
