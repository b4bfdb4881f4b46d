//! Reports: each is appended to `record.jsonl` (flushed and synced) and then posted to
//! the server by a background thread, in order, so a slow or unreachable server never
//! holds up the steps. A failed post never stops the job: the server collects the
//! record over SSH.

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

pub struct Reporter {
    record: File,
    target_id: i64,
    seq: u64,
    queue: Option<Sender<String>>,
    poster: Option<JoinHandle<()>>,
    /// Reports queued, and reports the poster is done with (sent or given up).
    queued: u64,
    handled: Arc<AtomicU64>,
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
    /// `{server_url}/agent/v1/report` with `token`.
    pub fn open(dir: &Path, target_id: i64, server_url: &str, token: &str) -> std::io::Result<Reporter> {
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
        let url = format!("{}/agent/v1/report", server_url.trim_end_matches('/'));
        let (queue, rx) = channel();
        let token = token.to_string();
        let handled = Arc::new(AtomicU64::new(0));
        let done = Arc::clone(&handled);
        let poster =
            std::thread::Builder::new().name("reports".into()).spawn(move || post_all(&rx, &url, &token, &done))?;
        Ok(Reporter { record, target_id, seq, queue: Some(queue), poster: Some(poster), queued: 0, handled })
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
        let written = self.record.write_all(format!("{line}\n").as_bytes());
        if let Err(e) = written.and_then(|()| self.record.flush()).and_then(|()| self.record.sync_data()) {
            eprintln!("drover-deployer: cannot write {RECORD}: {e}");
        }
        if let Some(q) = &self.queue
            && q.send(line).is_ok()
        {
            self.queued += 1;
        }
        self.seq
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

    /// Lets the queued reports go out, waiting at most `wait`.
    pub fn finish(&mut self, wait: Duration) {
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

/// What one post attempt came to.
enum Sent {
    Done,
    /// Do not send this report again (the server rejected it).
    Rejected,
    /// The token is refused: the server has ended the target, post nothing more.
    Refused,
    Retry,
}

/// The poster thread: every report in order, a few quick retries each; once the server
/// could not be reached, one attempt per report until it answers again.
fn post_all(rx: &Receiver<String>, url: &str, token: &str, handled: &AtomicU64) {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let auth = format!("Bearer {token}");
    let mut reachable = true;
    let mut refused = false;
    while let Ok(line) = rx.recv() {
        let waits: &[u64] = if refused {
            &[]
        } else if reachable {
            &[0, 250, 1000]
        } else {
            &[0]
        };
        reachable = false;
        for wait in waits {
            std::thread::sleep(Duration::from_millis(*wait));
            match post(&agent, url, &auth, &line) {
                Sent::Done | Sent::Rejected => {
                    reachable = true;
                    break;
                }
                Sent::Refused => {
                    refused = true;
                    break;
                }
                Sent::Retry => {}
            }
        }
        handled.fetch_add(1, Ordering::SeqCst);
    }
}

fn post(agent: &ureq::Agent, url: &str, auth: &str, line: &str) -> Sent {
    let sent =
        agent.post(url).header("Authorization", auth).header("Content-Type", "application/json").send(line.as_bytes());
    match sent {
        Ok(r) if r.status().is_success() => Sent::Done,
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
            eprintln!("drover-deployer: the server refused the report token; reports stay in {RECORD}");
            Sent::Refused
        }
        Ok(r) if r.status().is_client_error() => {
            eprintln!("drover-deployer: the server rejected a report with HTTP {}", r.status());
            Sent::Rejected
        }
        Ok(r) => {
            eprintln!("drover-deployer: report not taken: HTTP {} from {url}", r.status());
            Sent::Retry
        }
        Err(e) => {
            eprintln!("drover-deployer: cannot post a report to {url}: {e}");
            Sent::Retry
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_proto::FinalStatus;

    #[test]
    fn numbering_continues_after_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Reporter::open(dir.path(), 9, "http://127.0.0.1:9", "t").unwrap();
        assert_eq!(r.send(Event::StepStarted { index: 0, name: "a".into() }), 1);
        assert_eq!(r.send(Event::StepStarted { index: 1, name: "b".into() }), 2);
        r.finish(Duration::ZERO);
        let path = dir.path().join(RECORD);
        let mut f = File::options().append(true).open(&path).unwrap();
        f.write_all(br#"{"target_id":9,"seq":3,"at_un"#).unwrap();
        let mut r = Reporter::open(dir.path(), 9, "http://127.0.0.1:9", "t").unwrap();
        let done = Event::Finished {
            status: FinalStatus::Success,
            message: String::new(),
            last_step: None,
            return_code: None,
        };
        assert_eq!(r.send(done), 3);
        r.finish(Duration::ZERO);
        let text = std::fs::read_to_string(&path).unwrap();
        let seqs: Vec<u64> =
            text.lines().filter_map(|l| serde_json::from_str::<Report>(l).ok()).map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(last_seq(&text), 3);
    }
}
