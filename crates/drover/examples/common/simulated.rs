//! A **simulation** of machines for the scale benchmark (`bench-deploy --simulate`): no
//! machine, no SSH and no deployer process. Each simulated host answers the SSH port
//! probe, the key exchange and login, and drover's start script after a configurable
//! network latency; a simulated deployer then reports its steps to the engine through
//! the call the server's report route makes (`Engine::report_from_deployer`, with the
//! job's report token). The engine, the store and the thread limiter are the real ones;
//! the host key a simulated host presents goes through the real host-key decision.

use drover_engine::Engine;
use drover_proto::{Event, FinalStatus, Job, Report, StepResult, workdir};
use drover_ssh::{BoxFuture, ConnectOptions, ExecOutput, Simulation, SshError};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The host key every simulated host presents (a real ed25519 public key; its private
/// half was thrown away).
const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4wtHiAe81mRMWVMRuqUtAgQcMhUvyaPDz5kINMyG5V drover-simulated-host";

/// How the simulated machines behave.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// One network round trip.
    pub latency: Duration,
    /// How long each step runs.
    pub step: Duration,
    /// Percent of hosts that are off (their SSH port never answers).
    pub offline_pct: u64,
    /// Percent of targets whose second step fails (exit code 1).
    pub fail_pct: u64,
}

/// What the simulated machines saw.
#[derive(Default)]
pub struct Counters {
    pub logins: AtomicU64,
    pub tasks: AtomicU64,
    pub reports: AtomicU64,
    /// Reports the engine refused or could not store.
    pub report_errors: AtomicU64,
}

/// The simulated machines: every address is one.
pub struct Machines {
    /// The nodes by the URL their jobs carry: a deployer reports to the node that
    /// created its task.
    nodes: Mutex<HashMap<String, Engine>>,
    pub behaviour: Behaviour,
    pub counters: Counters,
    /// Targets whose simulated deployer runs now.
    running: Mutex<HashSet<i64>>,
}

/// A stable pseudo-random percentile (0–99) of a value.
fn percentile(v: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h % 100
}

impl Machines {
    pub fn new(behaviour: Behaviour) -> Machines {
        Machines { nodes: Mutex::default(), behaviour, counters: Counters::default(), running: Mutex::default() }
    }

    /// A node that jobs name by `url` (set once it is open: it is opened with this
    /// simulation).
    pub fn node(&self, url: &str, engine: Engine) {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner()).insert(url.to_string(), engine);
    }

    /// Targets whose simulated deployer runs now.
    pub fn in_flight(&self) -> usize {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn is_running(&self, target: i64) -> bool {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).contains(&target)
    }

    /// What `start.sh` prints when it created the task (the facts, then the launch).
    fn start(&'static self, host: &str, stdin: &[u8]) -> ExecOutput {
        let job: Job = match serde_json::from_slice(stdin) {
            Ok(j) => j,
            Err(e) => return failed(format!("the simulated start script read no job: {e}")),
        };
        let id = job.target_id;
        self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
        self.counters.tasks.fetch_add(1, Ordering::Relaxed);
        let name = host.split(':').next().unwrap_or(host).to_string();
        let fails = percentile(&format!("target {id}")) < self.behaviour.fail_pct;
        // what the simulated deployer keeps of its job: its memory is not the server's
        let task = Task {
            target: id,
            token: job.report_token,
            server_url: job.server_url,
            steps: job.steps.into_iter().skip(job.start_at).map(|s| s.name).collect(),
            first: job.start_at,
        };
        tokio::spawn(self.deployer(task, name.clone(), fails));
        let out = format!(
            "uid=0\nuser=root\nhome=/root\nhostname={name}\narch=x86_64\nos=Simulated Linux\nsystemd=1\nclient=10.0.0.1\nboot=simulated\nstart=launched systemd-run {}/{}/{id}\npid=4242\n",
            workdir::ROOT_BASE,
            workdir::TARGETS
        );
        ExecOutput { exit_status: Some(0), stdout: out.into_bytes(), stderr: Vec::new() }
    }

    /// The simulated deployer: it starts (a round trip to the server), runs each step
    /// for `step`, and reports as the real one does: started, each step's start and end,
    /// the end.
    async fn deployer(&'static self, task: Task, hostname: String, fails: bool) {
        tokio::time::sleep(self.behaviour.latency).await;
        let node = self.nodes.lock().unwrap_or_else(|e| e.into_inner()).get(&task.server_url).cloned();
        let mut seq = 0;
        let mut report = |event: Event| {
            seq += 1;
            Report { target_id: task.target, seq, at_unix_ms: drover_engine::now_ms(), event }
        };
        let started = Event::Started { pid: 4242, deployer_version: "simulated".into(), hostname, user: "root".into() };
        let mut reports = vec![report(started)];
        let (mut last, mut failed_at) = (None, None);
        for (n, name) in task.steps.iter().enumerate() {
            let i = task.first + n;
            reports.push(report(Event::StepStarted { index: i, name: name.clone() }));
            self.send(&node, &task.token, &mut reports).await;
            tokio::time::sleep(self.behaviour.step).await;
            let ok = !(fails && i == 1);
            reports.push(report(Event::StepFinished(StepResult {
                index: i,
                name: name.clone(),
                exit_code: Some(if ok { 0 } else { 1 }),
                success: ok,
                duration_ms: self.behaviour.step.as_millis() as u64,
                output_tail: "ok\n".into(),
                message: String::new(),
            })));
            last = Some(i);
            if !ok {
                failed_at = Some(i);
                break;
            }
        }
        let (status, message) = match failed_at {
            None => (FinalStatus::Success, "every step succeeded".to_string()),
            Some(i) => (FinalStatus::Failed, format!("step {} failed with exit code 1", i + 1)),
        };
        let code = Some(i32::from(failed_at.is_some()));
        reports.push(report(Event::Finished { status, message, last_step: last, return_code: code }));
        self.send(&node, &task.token, &mut reports).await;
        self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&task.target);
    }

    /// Sends the reports in order, through the node's report call, and empties the list.
    async fn send(&self, node: &Option<Engine>, token: &str, reports: &mut Vec<Report>) {
        for r in reports.drain(..) {
            self.counters.reports.fetch_add(1, Ordering::Relaxed);
            let stored = match node {
                // boxed: a simulated deployer waits mostly, and its memory is not the server's
                Some(engine) => Box::pin(engine.report_from_deployer(token, r)).await.is_ok(),
                None => false,
            };
            if !stored {
                self.counters.report_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// What a simulated deployer keeps of its job.
struct Task {
    target: i64,
    token: String,
    server_url: String,
    /// The names of the steps it runs, from `first` on.
    steps: Vec<String>,
    first: usize,
}

fn failed(message: String) -> ExecOutput {
    ExecOutput { exit_status: Some(1), stdout: Vec::new(), stderr: message.into_bytes() }
}

/// The simulation is shared as `&'static` (it lives as long as the benchmark).
pub struct Simulated(pub &'static Machines);

impl Simulation for Simulated {
    fn probe<'a>(&'a self, host: &'a str, _port: u16) -> BoxFuture<'a, bool> {
        let m = self.0;
        Box::pin(async move {
            if percentile(host) < m.behaviour.offline_pct {
                // an off machine never answers: the probe's own timeout ends the wait
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(m.behaviour.latency).await;
            true
        })
    }

    fn handshake<'a>(&'a self, _opts: &'a ConnectOptions) -> BoxFuture<'a, Result<String, SshError>> {
        let m = self.0;
        Box::pin(async move {
            // TCP, the key exchange, the login: three round trips
            tokio::time::sleep(m.behaviour.latency * 3).await;
            m.counters.logins.fetch_add(1, Ordering::Relaxed);
            Ok(HOST_KEY.to_string())
        })
    }

    fn exec<'a>(
        &'a self,
        host: &'a str,
        command: String,
        stdin: Vec<u8>,
    ) -> BoxFuture<'a, Result<ExecOutput, SshError>> {
        let m = self.0;
        // what the machine needs of the command: which script (its name is its `$0`,
        // right after its quoted text) and, for a liveness check, the target; the rest
        // was on the wire
        let kind = if command.contains("' drover-start ") {
            Exec::Start
        } else if command.contains("' drover-task ") {
            let id = command.rsplit("/targets/").next().and_then(|r| r.split('\'').next());
            Exec::Task(id.and_then(|i| i.parse().ok()))
        } else {
            Exec::Other(command.chars().take(80).collect())
        };
        drop(command);
        Box::pin(async move {
            tokio::time::sleep(m.behaviour.latency).await;
            let out = match kind {
                Exec::Start => m.start(host, &stdin),
                Exec::Task(id) => {
                    // a liveness check: alive while its simulated deployer runs (its
                    // reports were all called back, so the record adds nothing)
                    let alive = id.is_some_and(|i| m.is_running(i));
                    let stdout = if alive { format!("{}\n", "__DROVER_TASK_ALIVE__") } else { String::new() };
                    ExecOutput { exit_status: Some(0), stdout: stdout.into_bytes(), stderr: Vec::new() }
                }
                Exec::Other(start) => failed(format!("the simulation does not run this command: {start}")),
            };
            Ok(out)
        })
    }
}

/// The commands a simulated machine runs.
enum Exec {
    Start,
    Task(Option<i64>),
    Other(String),
}
