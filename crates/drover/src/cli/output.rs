//! Printing for people: tables and logs; and the bundle of a package folder.

use anyhow::Context;
use drover_domain::asset::Asset;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

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

pub fn asset_row(a: &Asset) -> Vec<String> {
    vec![
        a.id.to_string(),
        a.name.clone(),
        format!("{}:{}", a.address, a.ssh_port),
        a.os.clone().unwrap_or_default(),
        a.arch.clone().unwrap_or_default(),
        a.host_key_fingerprint.clone().unwrap_or_else(|| "(not pinned yet)".into()),
    ]
}

fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn time(v: &Value, k: &str) -> String {
    v[k].as_i64().map_or_else(|| "-".into(), drover_domain::time::utc)
}

/// The log in text: the Lansweeper fields, then each step and each state change.
pub fn print_log(entries: &[Value]) {
    for e in entries {
        println!(
            "{} deployment {} target {}  asset {}  package {} {}  executor {}",
            time(e, "updated_ms"),
            s(e, "deployment_id"),
            s(e, "id"),
            s(e, "asset_name"),
            s(e, "package_name"),
            s(e, "package_version"),
            s(e, "executor")
        );
        println!(
            "  state {}  last step {}  return code {}  run mode {}  deployer {}  server {}  credential {}",
            s(e, "state"),
            s(e, "last_step"),
            s(e, "return_code"),
            s(e, "run_mode"),
            s(e, "deployer_version"),
            s(e, "server"),
            s(e, "credential")
        );
        println!(
            "  message: {}{}",
            s(e, "message"),
            e["error_code"].as_str().map(|c| format!(" [{c}]")).unwrap_or_default()
        );
        for st in e["steps"].as_array().into_iter().flatten() {
            println!(
                "  step {} '{}': exit {} {} in {} ms{}",
                st["index"].as_i64().map_or(0, |i| i + 1),
                s(st, "name"),
                s(st, "exit_code"),
                if st["success"].as_bool() == Some(true) { "ok" } else { "FAILED" },
                s(st, "duration_ms"),
                st["message"].as_str().filter(|m| !m.is_empty()).map(|m| format!(" — {m}")).unwrap_or_default()
            );
            for line in
                st["output_tail"].as_str().unwrap_or("").lines().rev().take(5).collect::<Vec<_>>().into_iter().rev()
            {
                println!("      | {line}");
            }
        }
        for ev in e["events"].as_array().into_iter().flatten() {
            println!("  {} {:<12} {}", time(ev, "at_ms"), s(ev, "state"), s(ev, "message"));
        }
        println!();
    }
}

/// A package folder (package.toml + files/) as a .tar.gz bundle.
pub fn tar_folder(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let toml = dir.join("package.toml");
    anyhow::ensure!(toml.is_file(), "{} has no package.toml", dir.display());
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(true);
    tar.append_path_with_name(&toml, "package.toml").context("adding package.toml")?;
    let files = dir.join("files");
    if files.is_dir() {
        tar.append_dir_all("files", &files).context("adding files/")?;
    }
    Ok(tar.into_inner()?.finish()?)
}

/// The retry queue: one line a target, next attempt first.
pub fn print_retry_queue(entries: &[Value]) {
    if entries.is_empty() {
        println!("the retry queue is empty");
        return;
    }
    table(
        &["deployment", "target", "asset", "package", "attempts", "next attempt", "retries until"],
        entries.iter().map(|e| {
            let t = &e["target"];
            vec![
                s(t, "deployment_id"),
                s(t, "id"),
                s(t, "asset_name"),
                format!("{} {}", s(e, "package_name"), s(e, "package_version")),
                s(t, "attempts"),
                time(t, "next_attempt_ms"),
                time(e, "retry_until_ms"),
            ]
        }),
    );
}
