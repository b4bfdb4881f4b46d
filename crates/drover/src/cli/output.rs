//! Printing for people: JSON, tables, times and missing values; reading a secret from
//! standard input.

use anyhow::{Context, bail};
use serde::Serialize;
use std::fmt::Display;
use std::io::Read;

/// The one place the CLI prints JSON (`--json`, `show`).
pub fn print_json(v: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A name or id as one URL path segment.
pub fn path_part(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

/// A value, or `-` when there is none.
pub fn opt(v: &Option<impl Display>) -> String {
    v.as_ref().map_or_else(|| "-".into(), |v| v.to_string())
}

/// An instant (epoch ms) in UTC, or `-`.
pub fn time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".into(), drover_domain::time::utc)
}

/// Standard input up to its end, without the final line break; refuses an empty one.
pub fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).with_context(|| format!("cannot read the {what} from standard input"))?;
    let s = s.trim_end_matches(['\n', '\r']).to_string();
    if s.is_empty() {
        bail!("the {what} on standard input is empty");
    }
    Ok(s)
}
