//! The process table from `/proc`, signals through the shell's `kill`, and killing a
//! step's whole process tree (no libc: everything goes through `/proc` and `kill`).

use std::process::{Command, Stdio};

/// One process, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    /// Start time in clock ticks since boot.
    pub start: u64,
    /// `comm`: the executable name, cut to 15 bytes by the kernel.
    pub name: String,
    pub zombie: bool,
}

/// Parses `/proc/<pid>/stat`: "pid (comm) state ppid pgrp ... starttime(22) ...", where
/// comm may hold spaces and parentheses (so the last `)` ends it).
pub fn parse_stat(stat: &str) -> Option<Proc> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat.get(..open)?.trim().parse().ok()?;
    let name = stat.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // fields[0] is field 3 of proc(5)
    Some(Proc {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
        name,
        zombie: *fields.first()? == "Z",
    })
}

/// Every process now running.
pub fn processes() -> Vec<Proc> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if entry.file_name().to_str().is_none_or(|s| !s.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        if let Some(p) = std::fs::read_to_string(entry.path().join("stat")).ok().as_deref().and_then(parse_stat) {
            out.push(p);
        }
    }
    out
}

/// `roots` and every process below them in `table`, each once.
pub fn descendants(table: &[Proc], roots: &[u32]) -> Vec<u32> {
    let mut found: Vec<u32> = roots.to_vec();
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for p in table.iter().filter(|p| p.ppid == parent) {
            if !found.contains(&p.pid) {
                found.push(p.pid);
            }
        }
        i += 1;
    }
    found
}

/// The deployer itself and the processes above it (never to be signalled by a step).
pub fn self_and_ancestors(table: &[Proc]) -> Vec<u32> {
    let mut chain = vec![std::process::id()];
    while let Some(parent) = chain.last().and_then(|pid| table.iter().find(|p| p.pid == *pid)).map(|p| p.ppid) {
        if parent == 0 || chain.contains(&parent) {
            break;
        }
        chain.push(parent);
    }
    chain
}

/// Sends `sig` (a name such as `TERM`) to `pids` with the shell's built-in `kill`, which
/// every system has. Ok when every process got it.
pub fn signal(pids: &[u32], sig: &str) -> Result<(), String> {
    if pids.is_empty() {
        return Ok(());
    }
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s {sig} \"$@\""))
        .arg("kill")
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_string()) }
}

/// The processes a step left behind: `root` and its descendants and, when the deployer
/// leads its own process group (as the server starts it), every process of that group
/// started since `root` — which catches children that double-forked away from the tree
/// (steps run one at a time, so those belong to this step).
fn step_processes(root: u32) -> Vec<u32> {
    let table = processes();
    let me = std::process::id();
    let mut pids = descendants(&table, &[root]);
    let mine = table.iter().find(|p| p.pid == me);
    let root_start = table.iter().find(|p| p.pid == root).map(|p| p.start);
    if let (Some(mine), Some(root_start)) = (mine, root_start)
        && mine.pgid == me
    {
        let strays = table.iter().filter(|p| p.pgid == me && p.pid != me && p.start >= root_start);
        let strays: Vec<u32> = strays.map(|p| p.pid).filter(|pid| !pids.contains(pid)).collect();
        let below = descendants(&table, &strays);
        pids.extend(below.into_iter().filter(|pid| !pids.contains(pid)).collect::<Vec<_>>());
    }
    pids.retain(|p| *p != me);
    pids
}

/// Ends a step's process and everything it started: stops the whole tree first (so
/// nothing forks meanwhile; repeated while new processes show up), then kills it.
pub fn kill_tree(root: u32) {
    let mut stopped: Vec<u32> = Vec::new();
    for _ in 0..8 {
        let fresh: Vec<u32> = step_processes(root).into_iter().filter(|p| !stopped.contains(p)).collect();
        if fresh.is_empty() {
            break;
        }
        let _ = signal(&fresh, "STOP");
        stopped.extend(fresh);
    }
    let _ = signal(&stopped, "KILL");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_with_odd_names() {
        let line = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        let p = parse_stat(line).unwrap();
        assert_eq!((p.pid, p.ppid, p.pgid, p.start), (4242, 17, 4242, 987654));
        assert_eq!(p.name, "a (b) c");
        assert!(!p.zombie);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn descendants_follow_parents() {
        let p = |pid, ppid| Proc { pid, ppid, pgid: 1, start: 0, name: String::new(), zombie: false };
        let table = [p(10, 1), p(11, 10), p(12, 11), p(13, 1), p(14, 12)];
        assert_eq!(descendants(&table, &[10]), vec![10, 11, 12, 14]);
    }

    #[test]
    fn finds_itself_and_its_parent() {
        let table = processes();
        let me = std::process::id();
        assert!(table.iter().any(|p| p.pid == me));
        let chain = self_and_ancestors(&table);
        assert_eq!(chain[0], me);
        assert!(chain.len() >= 2, "{chain:?}");
    }
}
