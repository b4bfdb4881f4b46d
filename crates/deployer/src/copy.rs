//! The file-copy step: a temporary with a random name beside the destination, created
//! `O_EXCL|O_NOFOLLOW` in a directory handle, owner and mode set on the open file, then
//! renamed over the destination in that directory. A destination that is a symlink is
//! replaced (never followed); a destination directory that is a symlink is refused.

use crate::inproc::say;
use crate::known;
use crate::safefs::{self, Dir, Entry};
use crate::share::CopySource;
use crate::steps::StepRun;
use rustix::fs::FileType;
use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Copies `source` (a local file, or a package file straight from the share) to `dest`
/// atomically. Without `mode` a replaced file keeps its mode (and owner), a new one gets
/// 0644.
pub fn file_copy(source: &CopySource<'_>, dest: &str, mode: Option<&str>, owner: Option<&str>, log: &File) -> StepRun {
    match copy(source, dest, mode, owner) {
        Ok(to) => {
            say(log, &format!("copied to {}", to.display()));
            StepRun::code(0)
        }
        Err(m) => {
            say(log, &m);
            StepRun { message: m, ..StepRun::code(1) }
        }
    }
}

fn parse_mode(mode: Option<&str>) -> Result<Option<u32>, String> {
    match mode.map(str::trim) {
        Some(m) => u32::from_str_radix(m, 8)
            .ok()
            .filter(|b| *b <= 0o7777)
            .map(Some)
            .ok_or_else(|| format!("mode '{m}' is not an octal file mode such as 0644")),
        None => Ok(None),
    }
}

/// The directory a copy lands in and its name there: into a directory (a path ending in
/// `/`, or an existing directory — not a link to one) under the source's file name, else
/// at `dest` itself.
fn destination(source: &str, dest: &str) -> Result<(Dir, PathBuf), String> {
    let source_name = Path::new(source).file_name().ok_or_else(|| format!("the source {source} has no file name"))?;
    if dest.ends_with('/') {
        return Ok((safefs::open_dir_path(Path::new(dest), true)?, PathBuf::from(source_name)));
    }
    let d = Path::new(dest);
    let name = d.file_name().ok_or_else(|| format!("the destination {dest} names no file"))?;
    let parent = d.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = safefs::open_dir_path(parent, true)?;
    match dir.entry(name).map_err(|e| format!("cannot look at {dest}: {e}"))? {
        Some(e) if e.kind == FileType::Directory => {
            let into = dir.child(name).map_err(|e| format!("cannot open {dest}: {e}"))?;
            Ok((into, PathBuf::from(source_name)))
        }
        _ => Ok((dir, PathBuf::from(name))),
    }
}

fn copy(source: &CopySource<'_>, dest: &str, mode: Option<&str>, owner: Option<&str>) -> Result<PathBuf, String> {
    let bits = parse_mode(mode)?;
    let owner = match owner.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) => Some(resolve_owner(o)?),
        None => None,
    };
    let (dir, name) = destination(source.name(), dest)?;
    let to = dir.path().join(&name);
    let name = name.as_os_str();
    // a replaced regular file keeps its mode and owner; a link or anything else does not
    let old = dir.entry(name).map_err(|e| format!("cannot look at {}: {e}", to.display()))?;
    let old = old.filter(|e| e.kind == FileType::RegularFile);
    let stem = safefs::name_str(name);
    let (mut out, tmp) =
        dir.temp(&stem).map_err(|e| format!("cannot create a file in {}: {e}", dir.path().display()))?;
    let result = write_temp(source, &mut out, &to, bits, owner, old.as_ref())
        .and_then(|()| dir.rename(&tmp, name).map_err(|e| format!("cannot move the copy into {}: {e}", to.display())));
    if result.is_err() {
        let _ = dir.remove(OsStr::new(&tmp));
    } else if let Some(sha256) = source.known_sha256() {
        known::record(&to, sha256);
    }
    result.map(|()| to)
}

fn write_temp(
    from: &CopySource<'_>,
    out: &mut File,
    to: &Path,
    bits: Option<u32>,
    owner: Option<(Option<u32>, Option<u32>)>,
    old: Option<&Entry>,
) -> Result<(), String> {
    from.write_into(out)?;
    let bits = bits.unwrap_or_else(|| old.map_or(0o644, |m| m.mode));
    // keep a replaced file's owner (only root may, and only root needs to)
    let am_root = rustix::process::geteuid().is_root();
    let owner = owner.or_else(|| old.filter(|_| am_root).map(|m| (Some(m.uid), Some(m.gid))));
    safefs::set_owner_mode(out, owner, bits).map_err(|e| match owner {
        Some((u, g)) => {
            let id = |x: Option<u32>| x.map_or_else(|| "-".to_string(), |x| x.to_string());
            format!("cannot set owner {}:{} and mode {bits:o} on {}: {e}", id(u), id(g), to.display())
        }
        None => format!("cannot set mode {bits:o} on {}: {e}", to.display()),
    })?;
    // one sync for the bytes, the owner and the mode, before the rename makes them the file
    out.sync_all().map_err(|e| format!("cannot write the copy of {}: {e}", to.display()))
}

/// `user`, `user:group`, `user:` (the user's login group), `:group` or numeric ids, as
/// `chown` takes them, to numeric ids (names looked up with `getent`, which asks NSS);
/// the group is None when it stays as it is (`chown user`).
fn resolve_owner(spec: &str) -> Result<(Option<u32>, Option<u32>), String> {
    let (user, group) = match spec.split_once([':', '.']) {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, login_gid) = if user.is_empty() {
        (None, None)
    } else {
        let fields = lookup("passwd", user).ok_or_else(|| {
            format!("owner '{spec}': there is no user '{user}' on this machine (chown would fail the same)")
        })?;
        let id = |i: usize| fields.get(i).and_then(|v| v.parse::<u32>().ok());
        match id(2) {
            Some(u) => (Some(u), id(3)),
            None => return Err(format!("owner '{spec}': the account entry of '{user}' is not readable")),
        }
    };
    let gid = match group {
        None => None,
        Some("") if user.is_empty() => None,
        Some("") => Some(login_gid.ok_or_else(|| format!("owner '{spec}': user '{user}' has no login group"))?),
        Some(g) => Some(
            lookup("group", g)
                .and_then(|f| f.get(2).and_then(|v| v.parse().ok()))
                .ok_or_else(|| format!("owner '{spec}': there is no group '{g}' on this machine"))?,
        ),
    };
    Ok((uid, gid))
}

/// The fields of a `passwd` or `group` entry, by name or number: `getent`, else the file
/// in /etc.
fn lookup(db: &str, key: &str) -> Option<Vec<String>> {
    if key.chars().all(|c| c.is_ascii_digit()) && !key.is_empty() {
        // a number is an id even when no entry has it (chown takes it so too)
        let found = getent(db, key).or_else(|| from_file(db, key, 2));
        return Some(found.unwrap_or_else(|| vec![String::new(), String::new(), key.into()]));
    }
    getent(db, key).or_else(|| from_file(db, key, 0))
}

fn getent(db: &str, key: &str) -> Option<Vec<String>> {
    let out = Command::new("getent").arg(db).arg("--").arg(key).stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().filter(|_| out.status.success())?;
    Some(line.split(':').map(str::to_string).collect())
}

fn from_file(db: &str, key: &str, field: usize) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/etc/{db}")).ok()?;
    text.lines()
        .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.get(field).is_some_and(|v| v == key))
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
