//! Reports: appended to `record.jsonl` (synced) and then posted to the server. A failed
//! post never stops the job: the server collects the record over SSH.

use drover_proto::{Event, Report};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub struct Reporter {
    record: File,
    target_id: i64,
    seq: u64,
    url: String,
    token: String,
    agent: ureq::Agent,
    /// The server refused the token (the target ended there): stop posting.
    refused: bool,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Reporter {
    pub fn open(dir: &Path, target_id: i64, server_url: &str, token: &str) -> std::io::Result<Reporter> {
        let path = dir.join("record.jsonl");
        // continue the numbering after a restart (a reboot step)
        let seq = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Report>(l).ok())
            .map(|r| r.seq)
            .max()
            .unwrap_or(0);
        let record = File::options().create(true).append(true).open(&path)?;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Reporter {
            record,
            target_id,
            seq,
            url: format!("{}/agent/v1/report", server_url.trim_end_matches('/')),
            token: token.to_string(),
            agent,
            refused: false,
        })
    }

    pub fn send(&mut self, event: Event) {
        self.seq += 1;
        let report = Report { target_id: self.target_id, seq: self.seq, at_unix_ms: now_ms(), event };
        let Ok(line) = serde_json::to_string(&report) else {
            return;
        };
        if let Err(e) = writeln!(self.record, "{line}").and_then(|()| self.record.sync_data()) {
            eprintln!("drover-deployer: cannot write record.jsonl: {e}");
        }
        self.post(line.as_bytes());
    }

    fn post(&mut self, body: &[u8]) {
        if self.refused {
            return;
        }
        for wait_ms in [0u64, 300, 1500] {
            std::thread::sleep(Duration::from_millis(wait_ms));
            let sent = self
                .agent
                .post(&self.url)
                .header("Authorization", &format!("Bearer {}", self.token))
                .header("Content-Type", "application/json")
                .send(body);
            match sent {
                Ok(r) if r.status().is_success() => return,
                Ok(r) if r.status().as_u16() == 403 => {
                    eprintln!("drover-deployer: the server refused the report token; reports stay in record.jsonl");
                    self.refused = true;
                    return;
                }
                Ok(r) => eprintln!("drover-deployer: report refused with HTTP {}", r.status()),
                Err(e) => eprintln!("drover-deployer: cannot reach {}: {e}", self.url),
            }
        }
    }
}
