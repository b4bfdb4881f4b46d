//! Reports: each is appended to `record.jsonl` and then posted to the server by a
//! background thread, in order, so a slow or unreachable server never holds up the
//! steps. The record is synced to disk when a report is not delivered at the first try
//! (then it is the only copy), before a reboot, and after each report when nothing is
//! posted; a delivered report is the server's to keep, and a machine that crashes
//! mid-task loses its task anyway. A report that cannot be delivered (no network, the
//! server down or answering 503 because its database is) is tried again with backoff until the
//! job's deadline plus [`REPORT_GRACE`], the next ones waiting behind it; the server
//! takes each once by its sequence number. Past that, the record stays: the server
//! collects it over SSH when it reaches the machine.

use crate::tls::ServerAgent;
use drover_proto::{Event, Report};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use drover_proto::workdir::RECORD;

/// How long after the job's deadline undelivered reports are still tried: the server
/// gives a task 10 s past its max duration, then keeps a machine it could not reach as
/// "outcome unknown" and takes its late reports.
pub const REPORT_GRACE: Duration = Duration::from_secs(10 * 60);

/// The wait before try `attempt` (0-based) of one report: at once, then 250 ms doubling
/// up to 5 s.
pub fn backoff(attempt: u32) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let ms = 250u64.saturating_mul(1u64 << (attempt - 1).min(16));
    Duration::from_millis(ms.min(5_000))
}

/// When (epoch ms) try `attempt` of a report whose previous try was at `now_ms` comes,
/// or None when that is past `give_up_ms` (the deadline plus the grace).
pub fn next_try_ms(now_ms: i64, attempt: u32, give_up_ms: i64) -> Option<i64> {
    let at = now_ms.saturating_add(i64::try_from(backoff(attempt).as_millis()).unwrap_or(i64::MAX));
    (at <= give_up_ms).then_some(at)
}

pub struct Reporter {
    record: File,
    target_id: i64,
    seq: u64,
    queue: Option<Sender<String>>,
    poster: Option<JoinHandle<()>>,
    /// Reports queued, and reports the poster is done with (sent or given up).
    queued: u64,
    handled: Arc<AtomicU64>,
    /// When undelivered reports are given up (epoch ms).
    give_up_ms: i64,
}

pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// The highest `seq` in a record (0 when empty); unreadable lines are skipped.
pub fn last_seq(record: &str) -> u64 {
    record.lines().filter_map(|l| serde_json::from_str::<Report>(l).ok()).map(|r| r.seq).max().unwrap_or(0)
}

impl Reporter {
    /// Opens (or continues, after a restart) the record in `dir`; reports are posted to
    /// `{server_url}/agent/v1/report` with `token` through `server` (see
    /// [`ServerAgent::for_reports`]), and tried until `give_up_ms` (epoch). When the
    /// server cannot be reached, the next try goes to the next of `others` (the other
    /// nodes of its database: base URL and agent), and so on round.
    pub fn open(
        dir: &Path,
        target_id: i64,
        server_url: &str,
        token: &str,
        server: ServerAgent,
        others: Vec<(String, ServerAgent)>,
        give_up_ms: i64,
    ) -> std::io::Result<Reporter> {
        let (record, seq) = open_record(dir)?;
        let servers: Vec<(String, ServerAgent)> = std::iter::once((server_url.to_string(), server))
            .chain(others)
            .map(|(url, agent)| (format!("{}/agent/v1/report", url.trim_end_matches('/')), agent))
            .collect();
        let (queue, rx) = channel();
        let token = token.to_string();
        let on_disk = record.try_clone()?;
        let handled = Arc::new(AtomicU64::new(0));
        let done = Arc::clone(&handled);
        let poster = std::thread::Builder::new()
            .name("reports".into())
            .spawn(move || post_all(&rx, &servers, &token, &on_disk, &done, give_up_ms))?;
        Ok(Reporter {
            record,
            target_id,
            seq,
            queue: Some(queue),
            poster: Some(poster),
            queued: 0,
            handled,
            give_up_ms,
        })
    }

    /// The record in `dir` with nothing posted: for a server that must not be sent
    /// anything; drover reads the record over SSH.
    pub fn record_only(dir: &Path, target_id: i64) -> std::io::Result<Reporter> {
        let (record, seq) = open_record(dir)?;
        let handled = Arc::new(AtomicU64::new(0));
        Ok(Reporter { record, target_id, seq, queue: None, poster: None, queued: 0, handled, give_up_ms: 0 })
    }

    /// Records and queues one report; returns its `seq`.
    pub fn send(&mut self, event: Event) -> u64 {
        self.seq += 1;
        let report = Report { target_id: self.target_id, seq: self.seq, at_unix_ms: now_ms(), event };
        let line = match serde_json::to_string(&report) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("drover-deployer: cannot encode report {}: {e}", self.seq);
                return self.seq;
            }
        };
        let mut written = self.record.write_all(format!("{line}\n").as_bytes()).and_then(|()| self.record.flush());
        if self.queue.is_none() {
            written = written.and_then(|()| self.record.sync_data());
        }
        if let Err(e) = written {
            eprintln!("drover-deployer: cannot write {RECORD}: {e}");
        }
        if let Some(q) = &self.queue
            && q.send(line).is_ok()
        {
            self.queued += 1;
        }
        self.seq
    }

    /// Puts the record, and what else this machine has written, on disk (before a reboot).
    pub fn sync(&self) {
        let _ = self.record.sync_data();
        rustix::fs::sync();
    }

    /// Waits (at most `wait`) until the poster is done with every queued report.
    pub fn flush(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let busy = || {
            self.handled.load(Ordering::SeqCst) < self.queued && self.poster.as_ref().is_some_and(|p| !p.is_finished())
        };
        while busy() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lets the queued reports go out: waits until they are delivered (or given up), at
    /// most until the give-up time, and at least 10 s for reports still in flight.
    pub fn finish(&mut self) {
        let left = u64::try_from(self.give_up_ms.saturating_sub(now_ms())).unwrap_or(0);
        self.finish_within(Duration::from_millis(left).max(Duration::from_secs(10)));
    }

    /// Lets the queued reports go out, waiting at most `wait`.
    pub fn finish_within(&mut self, wait: Duration) {
        self.queue = None;
        let Some(poster) = self.poster.take() else {
            return;
        };
        let until = Instant::now() + wait;
        while !poster.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        if poster.is_finished() {
            let _ = poster.join();
        } else {
            eprintln!("drover-deployer: gave up posting reports; they are in {RECORD}");
        }
    }
}

/// The record in `dir`, opened to append, and the last `seq` in it.
fn open_record(dir: &Path) -> std::io::Result<(File, u64)> {
    let path = dir.join(RECORD);
    let seq = last_seq(&std::fs::read_to_string(&path).unwrap_or_default());
    let mut record = File::options().create(true).read(true).append(true).open(&path)?;
    // a torn last line (the deployer died while writing it) must not swallow the next
    let len = record.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        record.seek(SeekFrom::Start(len - 1))?;
        record.read_exact(&mut last)?;
        if last[0] != b'\n' {
            record.write_all(b"\n")?;
        }
    }
    Ok((record, seq))
}

/// What one post attempt came to.
enum Sent {
    Done,
    /// Do not send this report again (the server rejected it).
    Rejected,
    /// The token is refused (the server has ended the target), or the server is not the
    /// pinned one: post nothing more.
    Refused,
    /// The server answered, but did not take it (503: its database is away).
    Retry,
    /// No answer (or, from another node, not the pinned certificate): try the next node.
    Unreachable,
}

/// The poster thread: every report in order, each tried with [`backoff`] until it is
/// delivered or rejected, or until `give_up_ms`; after that, one try each. A report not
/// delivered at once is synced to disk in `record` first. `servers`: the report URL and
/// agent of the job's server first, then of the other nodes, tried in turn while the
/// current one cannot be reached.
fn post_all(
    rx: &Receiver<String>,
    servers: &[(String, ServerAgent)],
    token: &str,
    record: &File,
    handled: &AtomicU64,
    give_up_ms: i64,
) {
    let auth = format!("Bearer {token}");
    let mut at = 0;
    let mut refused = false;
    // past the give-up time (or once a report was given up), one try each until one is
    // delivered; before it, a report is tried until it is taken
    let mut gave_up = false;
    while let Ok(line) = rx.recv() {
        // (`unanswered`: servers in a row that did not answer this report since the last
        // wait; the next one is tried at once, each once a round)
        let (mut attempt, mut unanswered) = (0, 0);
        if refused {
            let _ = record.sync_data();
        }
        while !refused {
            let (url, agent) = &servers[at];
            let sent = post(agent, url, &auth, &line, at > 0);
            if !matches!(sent, Sent::Done) {
                let _ = record.sync_data();
            }
            match sent {
                Sent::Done | Sent::Rejected => {
                    gave_up = false;
                    break;
                }
                Sent::Refused => refused = true,
                Sent::Retry | Sent::Unreachable => {
                    if matches!(sent, Sent::Unreachable) {
                        at = (at + 1) % servers.len();
                        unanswered += 1;
                        if unanswered < servers.len() {
                            continue;
                        }
                    }
                    unanswered = 0;
                    attempt += 1;
                    let now = now_ms();
                    let next = if gave_up { None } else { next_try_ms(now, attempt, give_up_ms) };
                    let Some(next_at) = next else {
                        if !gave_up {
                            eprintln!("drover-deployer: gave up posting reports; they stay in {RECORD}");
                        }
                        gave_up = true;
                        break;
                    };
                    std::thread::sleep(Duration::from_millis(u64::try_from(next_at - now).unwrap_or(0)));
                }
            }
        }
        handled.fetch_add(1, Ordering::SeqCst);
    }
}

/// One try; `other`: the server is another node than the job's.
fn post(server: &ServerAgent, url: &str, auth: &str, line: &str, other: bool) -> Sent {
    let sent = server
        .agent
        .post(url)
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .send(line.as_bytes());
    // (its connection carries the next report)
    let status = sent.map(|mut r| {
        crate::tls::finish_answer(&mut r);
        r.status()
    });
    match status {
        Ok(s) if s.is_success() => Sent::Done,
        Ok(s) if matches!(s.as_u16(), 401 | 403) => {
            eprintln!("drover-deployer: the server refused the report token; reports stay in {RECORD}");
            Sent::Refused
        }
        Ok(s) if s.is_client_error() => {
            eprintln!("drover-deployer: the server rejected a report with HTTP {s}");
            Sent::Rejected
        }
        Ok(s) => {
            eprintln!("drover-deployer: report not taken: HTTP {s} from {url}");
            Sent::Retry
        }
        Err(e) => match server.mismatch(url) {
            Some(why) if !other => {
                eprintln!("drover-deployer: {why}; reports stay in {RECORD}");
                Sent::Refused
            }
            Some(why) => {
                eprintln!("drover-deployer: {why}");
                Sent::Unreachable
            }
            None => {
                eprintln!("drover-deployer: cannot post a report to {url}: {e}");
                Sent::Unreachable
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_proto::FinalStatus;

    #[test]
    fn numbering_continues_after_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut r =
            Reporter::open(dir.path(), 9, "http://127.0.0.1:9", "t", ServerAgent::for_reports(None), Vec::new(), 0)
                .unwrap();
        assert_eq!(r.send(Event::StepStarted { index: 0, name: "a".into() }), 1);
        assert_eq!(r.send(Event::StepStarted { index: 1, name: "b".into() }), 2);
        r.finish();
        let path = dir.path().join(RECORD);
        let mut f = File::options().append(true).open(&path).unwrap();
        f.write_all(br#"{"target_id":9,"seq":3,"at_un"#).unwrap();
        let mut r =
            Reporter::open(dir.path(), 9, "http://127.0.0.1:9", "t", ServerAgent::for_reports(None), Vec::new(), 0)
                .unwrap();
        let done = Event::Finished {
            status: FinalStatus::Success,
            message: String::new(),
            last_step: None,
            return_code: None,
        };
        assert_eq!(r.send(done), 3);
        r.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        let seqs: Vec<u64> =
            text.lines().filter_map(|l| serde_json::from_str::<Report>(l).ok()).map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(last_seq(&text), 3);
    }

    #[test]
    fn undelivered_reports_back_off_until_the_deadline_and_grace() {
        let waits: Vec<u64> = (0..9).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [0, 250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(5), "no overflow");
        let deadline = 1_000_000;
        let give_up = deadline + REPORT_GRACE.as_millis() as i64;
        // long after the deadline, still within the grace: tried every 5 s
        assert_eq!(next_try_ms(deadline + 60_000, 12, give_up), Some(deadline + 65_000));
        assert_eq!(next_try_ms(100, 1, give_up), Some(350));
        // a try that would come after the grace is not made
        assert_eq!(next_try_ms(give_up - 1_000, 7, give_up), None);
        assert_eq!(next_try_ms(give_up, 0, give_up), Some(give_up));
    }

    /// Reads one HTTP request from `reader`: the `seq` of the report in its body (None:
    /// the connection ended).
    fn read_report(reader: &mut impl std::io::BufRead) -> Option<u64> {
        let mut len = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        Some(serde_json::from_slice::<Report>(&body).unwrap().seq)
    }

    /// A server on loopback that takes one connection only and up to `n` reports over it:
    /// its URL, and the `seq` of each report it took.
    fn one_connection_server(n: usize) -> (String, std::thread::JoinHandle<Vec<u64>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut seen = Vec::new();
            while seen.len() < n
                && let Some(seq) = read_report(&mut reader)
            {
                seen.push(seq);
                conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}").unwrap();
            }
            seen
        });
        (url, server)
    }

    /// A server that takes one connection only: every report comes over it.
    #[test]
    fn reports_go_over_one_connection() {
        let (url, server) = one_connection_server(3);
        let dir = tempfile::tempdir().unwrap();
        // (a report on a second connection would wait for an answer, time out, and be given up)
        let mut r =
            Reporter::open(dir.path(), 9, &url, "t", ServerAgent::for_reports(None), Vec::new(), now_ms() + 1_000)
                .unwrap();
        for i in 0..3 {
            r.send(Event::StepStarted { index: i, name: "a".into() });
        }
        r.finish();
        assert_eq!(server.join().unwrap(), [1, 2, 3]);
    }

    /// A server that answers 503 twice (its database away), then takes the report: the
    /// report is posted again until it is taken, and the next one waits behind it.
    #[test]
    fn a_report_is_resent_until_taken_in_order() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (i, conn) in listener.incoming().take(4).enumerate() {
                let mut conn = conn.unwrap();
                let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                seen.push(read_report(&mut reader).unwrap());
                let status = if i < 2 { "503 Service Unavailable" } else { "200 OK" };
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}");
                conn.write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        let dir = tempfile::tempdir().unwrap();
        let mut r =
            Reporter::open(dir.path(), 9, &url, "t", ServerAgent::for_reports(None), Vec::new(), now_ms() + 30_000)
                .unwrap();
        r.send(Event::StepStarted { index: 0, name: "a".into() });
        r.send(Event::StepStarted { index: 1, name: "b".into() });
        r.finish();
        assert_eq!(server.join().unwrap(), [1, 1, 1, 2]);
    }

    /// The job's server is gone (nothing listens): the reports go to the other node, in
    /// order, each once.
    #[test]
    fn reports_go_to_another_node_when_the_server_is_gone() {
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone_url = format!("http://{}", gone.local_addr().unwrap());
        drop(gone);
        let (other, server) = one_connection_server(2);
        let dir = tempfile::tempdir().unwrap();
        let others = vec![(other, ServerAgent::for_reports(None))];
        let agent = ServerAgent::for_reports(None);
        let mut r = Reporter::open(dir.path(), 9, &gone_url, "t", agent, others, now_ms() + 30_000).unwrap();
        r.send(Event::StepStarted { index: 0, name: "a".into() });
        r.send(Event::StepStarted { index: 1, name: "b".into() });
        r.finish();
        assert_eq!(server.join().unwrap(), [1, 2]);
    }
}
