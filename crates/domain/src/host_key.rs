//! Host keys as admins give them: OpenSSH `known_hosts` lines, `@cert-authority` lines
//! and the host patterns a certificate authority is trusted for.

use crate::scope::IpRange;
use serde::{Deserialize, Serialize};

/// How a pinned host key came to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSource {
    /// An admin pinned it (`asset trust-key`, `asset accept-key`).
    Admin,
    /// An admin imported it from a `known_hosts` file.
    KnownHosts,
    /// A key credential's first login pinned it (`tofu_for_keys`): enough for key
    /// logins, never for passwords.
    FirstUse,
}

impl PinSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PinSource::Admin => "admin",
            PinSource::KnownHosts => "known_hosts",
            PinSource::FirstUse => "first_use",
        }
    }
    pub fn parse(s: &str) -> Option<PinSource> {
        [PinSource::Admin, PinSource::KnownHosts, PinSource::FirstUse].into_iter().find(|p| p.as_str() == s)
    }
    /// Whether an admin vouched for the key, so passwords may go to the host.
    pub fn by_admin(self) -> bool {
        self != PinSource::FirstUse
    }
}

/// A pinned key of one address and port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKey {
    pub address: String,
    pub port: u16,
    /// The OpenSSH public key line (`ssh-ed25519 AAAA…`), without comment.
    pub key: String,
    pub fingerprint: String,
    pub source: PinSource,
    /// Who pinned it (a user name; None for a first-use pin).
    pub pinned_by: Option<String>,
    pub pinned_ms: i64,
}

/// A certificate authority an admin trusts to vouch for host keys of some hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostAuthority {
    pub id: crate::ids::AuthorityId,
    /// The CA's OpenSSH public key line.
    pub key: String,
    pub fingerprint: String,
    /// The hosts it may vouch for, comma-separated: `*.corp.example,10.0.0.0/8`.
    pub hosts: String,
    pub created_ms: i64,
}

impl HostAuthority {
    /// Whether the authority may vouch for a host reached at `address`.
    pub fn covers(&self, address: &str) -> bool {
        host_patterns_match(&self.hosts, address)
    }
}

/// Whether `address` matches the comma-separated patterns: `*`/`?` wildcards on names
/// (`*.corp.example`), exact names or addresses, CIDR or first–last IP ranges; a pattern
/// starting with `!` excludes (and wins).
pub fn host_patterns_match(patterns: &str, address: &str) -> bool {
    let address = address.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let mut yes = false;
    for p in patterns.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (negated, p) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p),
        };
        let hit = if p.contains('/')
            || (p.contains('-') && p.split('-').all(|e| e.trim().parse::<std::net::IpAddr>().is_ok()))
        {
            IpRange::parse(p).is_ok_and(|r| r.contains_address(&address))
        } else {
            glob(&p.to_ascii_lowercase(), &address)
        };
        if hit && negated {
            return false;
        }
        yes |= hit;
    }
    yes
}

/// Checks a host pattern list as `host_patterns_match` reads it.
pub fn validate_host_patterns(patterns: &str) -> Result<(), String> {
    let list: Vec<&str> = patterns.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if list.is_empty() {
        return Err("give the hosts the authority may vouch for, e.g. --hosts '*.corp.example,10.0.0.0/8'".into());
    }
    for p in list {
        let p = p.trim_start_matches('!');
        if p.contains('/') {
            IpRange::parse(p)?;
        } else if p == "*" {
            continue;
        } else if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || "*?.-_:".contains(c)) {
            return Err(format!(
                "'{p}' is not a host pattern: use names with * and ? (*.corp.example), addresses or CIDR ranges"
            ));
        }
    }
    Ok(())
}

/// `*` any run of characters, `?` one character.
fn glob(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What a `known_hosts` file gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownHosts {
    /// (address, port, key line `type base64`).
    pub keys: Vec<(String, u16, String)>,
    /// `@cert-authority` lines: (host patterns, CA key line).
    pub authorities: Vec<(String, String)>,
    /// Lines not taken, each with its line number and why.
    pub skipped: Vec<String>,
}

/// Reads OpenSSH `known_hosts` text. Hashed names (`|1|…`), wildcard patterns on plain
/// keys, `@revoked` lines and malformed lines are skipped with a note; the key's
/// encoding itself is checked by the caller (the SSH layer).
pub fn parse_known_hosts(text: &str) -> KnownHosts {
    let mut out = KnownHosts::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or_default();
        let marker = if first.starts_with('@') {
            let m = first;
            first = fields.next().unwrap_or_default();
            Some(m)
        } else {
            None
        };
        let (Some(kind), Some(blob)) = (fields.next(), fields.next()) else {
            out.skipped.push(format!("line {n}: not `hosts key-type base64-key`"));
            continue;
        };
        if !looks_like_key(kind, blob) {
            out.skipped.push(format!("line {n}: '{kind}' is not an SSH public key"));
            continue;
        }
        let key = format!("{kind} {blob}");
        match marker {
            Some("@cert-authority") => {
                if let Err(e) = validate_host_patterns(first) {
                    out.skipped.push(format!("line {n}: {e}"));
                } else {
                    out.authorities.push((first.to_string(), key));
                }
                continue;
            }
            Some("@revoked") => {
                out.skipped.push(format!("line {n}: @revoked lines are not supported; remove the key's pin instead"));
                continue;
            }
            Some(other) => {
                out.skipped.push(format!("line {n}: unknown marker {other}"));
                continue;
            }
            None => {}
        }
        if first.starts_with("|1|") {
            out.skipped.push(format!(
                "line {n}: hashed host name (HashKnownHosts): its host cannot be read; export it unhashed (ssh-keyscan without -H)"
            ));
            continue;
        }
        for host in first.split(',') {
            match host_and_port(host) {
                Some((h, p)) => out.keys.push((h, p, key.clone())),
                None => out
                    .skipped
                    .push(format!("line {n}: '{host}' is a pattern, not one host; pin each host by its address")),
            }
        }
    }
    out
}

fn looks_like_key(kind: &str, blob: &str) -> bool {
    (kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-"))
        && !kind.contains("-cert-")
        && blob.len() >= 16
        && blob.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
}

/// `host` or `[host]:port`, lower case; None for a pattern (`*`, `?`, `!`).
fn host_and_port(s: &str) -> Option<(String, u16)> {
    if s.is_empty() || s.contains(['*', '?', '!']) {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, port) = rest.split_once("]:")?;
        return Some((h.to_ascii_lowercase(), port.parse().ok()?));
    }
    Some((s.to_ascii_lowercase(), 22))
}

#[cfg(test)]
#[path = "host_key_tests.rs"]
mod tests;
