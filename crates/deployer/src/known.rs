//! Files this task wrote whose SHA-256 it knows: a package file downloaded straight into
//! a copy was hashed as it was written, so a later file-hash criterion on that file need
//! not read it again. A file counts as unchanged while its device, inode, size,
//! modification and change times are the ones seen after the copy. The kernel stamps a
//! change with its coarse clock, so a change in the same clock tick as the copy would
//! carry the same times: a file is recorded only once that clock has moved past its
//! change time (at most a tick, a few milliseconds), and only in a job that has a
//! file-hash criterion.

use rustix::time::{ClockId, clock_gettime};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

#[derive(PartialEq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

static KNOWN: Mutex<Vec<(Stamp, String)>> = Mutex::new(Vec::new());

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

/// Records that the file at `path`, as it is now, has SHA-256 `sha256` (hex).
pub fn record(path: &Path, sha256: &str) {
    let Some(s) = stamp(path) else { return };
    // wait for the coarse clock to pass the change time; a clock far behind it (set
    // back) records nothing
    for _ in 0..100 {
        let now = clock_gettime(ClockId::RealtimeCoarse);
        if (now.tv_sec, now.tv_nsec) > s.ctime {
            let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
            known.retain(|(k, _)| (k.dev, k.ino) != (s.dev, s.ino));
            known.push((s, sha256.to_ascii_lowercase()));
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The SHA-256 of the file at `path` if this task recorded it and it is unchanged since.
pub fn sha256(path: &Path) -> Option<String> {
    let s = stamp(path)?;
    let known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    known.iter().find(|(k, _)| *k == s).map(|(_, h)| h.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_recorded_file_is_known_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256(&p), None);
        record(&p, "ABCD");
        assert_eq!(sha256(&p).as_deref(), Some("abcd"));
        // the same bytes written again, right away: the times move on, the hash is not known
        std::fs::OpenOptions::new().write(true).open(&p).unwrap().write_all(b"abc").unwrap();
        assert_eq!(sha256(&p), None);
        // a mode change alone moves the change time
        record(&p, "abcd");
        assert!(sha256(&p).is_some());
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        assert_eq!(sha256(&p), None);
        // another file put in its place
        record(&p, "abcd");
        let q = dir.path().join("g");
        std::fs::write(&q, b"abc").unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert_eq!(sha256(&p), None);
    }
}
