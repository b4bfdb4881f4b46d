//! Reading `<work_dir>/job.json`, and what is left to do when it cannot be used.

use drover_proto::{Job, PROTOCOL_VERSION};
use std::path::Path;

pub use drover_proto::workdir::JOB;

/// Enough of a job to report that it cannot be run.
#[derive(Debug, PartialEq, Eq)]
pub struct ReportTo {
    pub target_id: i64,
    pub server_url: String,
    pub report_token: String,
    pub server_cert_sha256: Option<String>,
}

/// Why the job cannot run.
#[derive(Debug)]
pub struct BadJob {
    pub message: String,
    /// Where to report it, when the file says.
    pub report_to: Option<ReportTo>,
}

/// Reads and checks the job.
pub fn load(dir: &Path) -> Result<Job, BadJob> {
    let path = dir.join(JOB);
    let bytes = std::fs::read(&path)
        .map_err(|e| BadJob { message: format!("cannot read the job {}: {e}", path.display()), report_to: None })?;
    parse(&bytes).map_err(|message| BadJob {
        message: format!("the job {} cannot be run: {message}", path.display()),
        report_to: report_to(&bytes),
    })
}

/// The job from its JSON, checked: our protocol and a start step that exists.
pub fn parse(bytes: &[u8]) -> Result<Job, String> {
    let job: Job = serde_json::from_slice(bytes).map_err(|e| format!("not a valid job: {e}"))?;
    if job.protocol != PROTOCOL_VERSION {
        return Err(format!(
            "it is written for protocol {}, this deployer ({}) speaks protocol {PROTOCOL_VERSION}",
            job.protocol,
            env!("CARGO_PKG_VERSION")
        ));
    }
    if job.start_at > job.steps.len() {
        return Err(format!("it starts at step {} of a package with {} steps", job.start_at + 1, job.steps.len()));
    }
    Ok(job)
}

/// The report address of a job that does not parse as a whole.
pub fn report_to(bytes: &[u8]) -> Option<ReportTo> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|s| !s.is_empty()).map(str::to_string);
    Some(ReportTo {
        target_id: v.get("target_id")?.as_i64()?,
        server_url: text("server_url")?,
        report_token: text("report_token")?,
        server_cert_sha256: text("server_cert_sha256"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_jobs_say_why_and_where_to_report() {
        assert!(parse(b"{").unwrap_err().contains("not a valid job"));
        let partial = br#"{"target_id": 4, "server_url": "http://s", "report_token": "r", "steps": 7}"#;
        assert!(parse(partial).is_err());
        let to = report_to(partial).unwrap();
        assert_eq!(
            to,
            ReportTo {
                target_id: 4,
                server_url: "http://s".into(),
                report_token: "r".into(),
                server_cert_sha256: None
            }
        );
        assert_eq!(report_to(b"{\"target_id\": 4}"), None);
        assert_eq!(report_to(b"nonsense"), None);
        let job = r#"{"protocol": 99, "target_id": 1, "deployment_id": 1, "package_name": "p",
            "package_version": "1", "steps": [], "files": [], "server_url": "", "report_token": "",
            "share_url": "", "share_token": "", "deadline_unix_ms": 0}"#;
        assert!(parse(job.as_bytes()).unwrap_err().contains("protocol 99"));
        let ok = job.replace("99", &PROTOCOL_VERSION.to_string());
        assert_eq!(parse(ok.as_bytes()).unwrap().start_at, 0);
        let late = ok.replace("\"deadline_unix_ms\": 0", "\"deadline_unix_ms\": 0, \"start_at\": 2");
        assert!(parse(late.as_bytes()).unwrap_err().contains("starts at step 3"));
    }
}
