//! A tiny HTTP/1.1 server for the tests: the share (files by SHA-256, bearer token,
//! 403 on a wrong one) and the report callback (records every report it accepts).

use drover_proto::Report;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    reports: Vec<Report>,
    /// (path, status) of every share request.
    share_requests: Vec<(String, u16)>,
}

pub struct TestServer {
    pub url: String,
    pub share_token: String,
    pub report_token: String,
    state: Arc<Mutex<State>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = TestServer {
            url,
            share_token: "share-secret".into(),
            report_token: "report-secret".into(),
            state: Arc::default(),
        };
        let (state, share, report) =
            (Arc::clone(&server.state), server.share_token.clone(), server.report_token.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (state, share, report) = (Arc::clone(&state), share.clone(), report.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &state, &share, &report);
                });
            }
        });
        server
    }

    /// The share's base URL, as jobs carry it.
    pub fn share_url(&self) -> String {
        format!("{}/share/v1", self.url)
    }

    /// Serves `content` under `sha256` (which need not be its hash).
    pub fn add_file(&self, sha256: &str, content: &[u8]) {
        self.state.lock().unwrap().files.insert(sha256.to_string(), content.to_vec());
    }

    pub fn reports(&self) -> Vec<Report> {
        self.state.lock().unwrap().reports.clone()
    }

    pub fn share_requests(&self) -> Vec<(String, u16)> {
        self.state.lock().unwrap().share_requests.clone()
    }

    /// Waits until `n` reports arrived (the deployer posts them from a thread).
    pub fn wait_reports(&self, n: usize) -> Vec<Report> {
        let until = Instant::now() + Duration::from_secs(10);
        while self.reports().len() < n && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.reports()
    }
}

fn handle(conn: TcpStream, state: &Mutex<State>, share_token: &str, report_token: &str) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let (mut length, mut auth) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => auth = value.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let (status, content): (u16, Vec<u8>) = if let Some(sha) = path.strip_prefix("/share/v1/files/") {
        let mut s = state.lock().unwrap();
        let answer = if auth != format!("Bearer {share_token}") {
            (403, b"{\"error\":\"this share token is not valid\"}".to_vec())
        } else {
            match s.files.get(sha) {
                Some(c) => (200, c.clone()),
                None => (404, b"{\"error\":\"no such file\"}".to_vec()),
            }
        };
        s.share_requests.push((path.clone(), answer.0));
        answer
    } else if method == "POST" && path == "/agent/v1/report" {
        if auth != format!("Bearer {report_token}") {
            (403, b"{\"error\":\"bad token\"}".to_vec())
        } else {
            match serde_json::from_slice::<Report>(&body) {
                Ok(r) => {
                    state.lock().unwrap().reports.push(r);
                    (200, b"{\"ok\":true}".to_vec())
                }
                Err(_) => (400, b"{\"error\":\"not a report\"}".to_vec()),
            }
        }
    } else {
        (404, Vec::new())
    };
    let mut conn = conn;
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        content.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(&content)?;
    conn.flush()
}
