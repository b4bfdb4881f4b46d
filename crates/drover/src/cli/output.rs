//! Printing for people: the one place the CLI writes to standard output (every line
//! with its control characters escaped, a closed pipe ending the program quietly), JSON,
//! tables, times and missing values; reading a secret from standard input.

use anyhow::{Context, bail};
use serde::Serialize;
use std::fmt::{Display, Write as _};
use std::io::{Read, Write};

/// Prints one line (`format!` arguments) through [`line`]: the CLI's `println!`.
macro_rules! out {
    () => {
        $crate::cli::output::line("")
    };
    ($($arg:tt)*) => {
        $crate::cli::output::line(&format!($($arg)*))
    };
}
pub(crate) use out;

/// `s` with every control character (C0 and C1, DEL, and the bidirectional overrides that
/// reorder what a terminal shows) written as an escape: `\x1b`, `\n`, `\u{202e}`. Host
/// names, user names, messages and step output come from machines and people drover
/// does not trust; escaped, they cannot move the cursor, clear the screen or retitle the
/// terminal. Tabs stay.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Writes one line to standard output, escaped. When standard output is a closed pipe
/// (`drover log | head -1`), the program ends at once with status 0 and no message:
/// the reader has what it wanted.
pub fn line(s: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{}", escape(s)).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(std::io::stderr(), "error: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

/// The one place the CLI prints JSON (`--json`, `show`); serde escapes control characters.
pub fn print_json(v: &impl Serialize) -> anyhow::Result<()> {
    for l in serde_json::to_string_pretty(v)?.lines() {
        line(l);
    }
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
    let rows: Vec<Vec<String>> = rows.map(|r| r.iter().map(|c| escape(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        line(parts.join("  ").trim_end());
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
