//! The HTTP client of the API: where the server is, the saved login, and errors that
//! carry the server's message.

use super::tls::{self, Trust};
use anyhow::{Context, anyhow, bail};
use drover_api::ErrorBody;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What `drover login` saves (mode 0600).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Saved {
    pub server: Option<String>,
    pub token: Option<String>,
    /// SHA-256 (hex) of the saved server's TLS certificate, pinned at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_fingerprint: Option<String>,
    /// The certificate authority the saved server's certificate is checked with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ca: Option<PathBuf>,
}

pub fn saved_path() -> PathBuf {
    if let Ok(p) = std::env::var("DROVER_CLI_CONFIG") {
        return PathBuf::from(p);
    }
    let base = std::env::var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into())).join(".config"));
    base.join("drover").join("cli.json")
}

pub fn load_saved() -> Saved {
    std::fs::read(saved_path()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

pub fn save(saved: &Saved) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = saved_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
    f.write_all(&serde_json::to_vec_pretty(saved)?)?;
    Ok(path)
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub server: String,
    token: Option<String>,
    /// How the server's certificate is trusted.
    pub trust: Trust,
}

impl Client {
    /// A client of `server` (default: the saved one) trusting its certificate by
    /// `fingerprint`, else by `ca`, else as saved at login for that server, else through
    /// the public authorities.
    pub fn new(
        server: Option<String>,
        token: Option<String>,
        fingerprint: Option<String>,
        ca: Option<PathBuf>,
    ) -> anyhow::Result<Client> {
        let saved = load_saved();
        let server = server
            .or(saved.server.clone())
            .unwrap_or_else(|| "https://127.0.0.1:8080".into())
            .trim_end_matches('/')
            .to_string();
        let same = saved.server.as_deref().map(|s| s.trim_end_matches('/')) == Some(server.as_str());
        let trust = match (fingerprint, ca) {
            (Some(f), _) => Trust::Pin(tls::parse_fingerprint(&f)?),
            (None, Some(ca)) => Trust::Ca(ca),
            (None, None) if same => match (saved.server_fingerprint, saved.server_ca) {
                (Some(f), _) => Trust::Pin(tls::parse_fingerprint(&f)?),
                (None, Some(ca)) => Trust::Ca(ca),
                (None, None) => Trust::Public,
            },
            (None, None) => Trust::Public,
        };
        let http = tls::http_client(&trust)?;
        Ok(Client { http, server, token: token.or(saved.token), trust })
    }

    /// The same server without the token (to log in).
    pub fn anonymous(&self) -> Client {
        Client { http: self.http.clone(), server: self.server.clone(), token: None, trust: self.trust.clone() }
    }

    /// The same server, trusted by `trust`.
    pub fn trusting(&self, trust: Trust) -> anyhow::Result<Client> {
        Ok(Client { http: tls::http_client(&trust)?, server: self.server.clone(), token: self.token.clone(), trust })
    }

    /// Whether the server can be reached with the trust this client has (a TLS
    /// handshake and `GET /healthz`); Err: why not.
    pub async fn reachable(&self) -> Result<(), reqwest::Error> {
        self.http.get(format!("{}/healthz", self.server)).send().await.map(drop)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self.http.request(method, format!("{}/api/v1{path}", self.server));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn send(&self, rb: RequestBuilder) -> anyhow::Result<Response> {
        let resp = rb.send().await.map_err(|e| {
            let chain = format!("{e:?}");
            if chain.contains("Certificate") || chain.contains("certificate") {
                return anyhow!(
                    "the drover server at {} did not present a TLS certificate this client trusts ({e}): \
                     run `drover login`, which shows the server's fingerprint to check and pins it \
                     (again after the server's certificate was replaced), or pass --server-fingerprint SHA256 / --server-ca FILE",
                    self.server
                );
            }
            anyhow!(
                "cannot reach the drover server at {} ({e}); is `drover serve` running? (--server / DROVER_SERVER)",
                self.server
            )
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let msg = match resp.json::<ErrorBody>().await {
            Ok(body) => body.error,
            Err(_) => "no details".to_string(),
        };
        if status == reqwest::StatusCode::UNAUTHORIZED {
            bail!("{msg} (server {})", self.server);
        }
        bail!("{msg} (HTTP {status})")
    }

    pub async fn json<T: DeserializeOwned>(&self, rb: RequestBuilder) -> anyhow::Result<T> {
        let resp = self.send(rb).await?;
        resp.json().await.context("the server's answer is not the JSON expected")
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.json(self.request(Method::GET, path)).await
    }

    /// A GET with the query string from `query`'s fields.
    pub async fn get_with<T: DeserializeOwned>(&self, path: &str, query: &impl Serialize) -> anyhow::Result<T> {
        self.json(self.request(Method::GET, path).query(query)).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> anyhow::Result<T> {
        self.json(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> anyhow::Result<T> {
        self.json(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn patch<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> anyhow::Result<T> {
        self.json(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.json(self.request(Method::DELETE, path)).await
    }
}
