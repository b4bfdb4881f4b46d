//! Files the deployer creates, made without following symlinks: every file is created
//! relative to a directory handle (`O_DIRECTORY|O_NOFOLLOW`), temporaries get a random
//! name and `O_EXCL|O_NOFOLLOW`, owner and mode are set on the open file, and a
//! temporary replaces its destination with `renameat` in the same directory — so a user
//! who can write in a directory cannot make the deployer (root) write, chown or chmod a
//! file somewhere else through a link.

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// A directory opened without following a symlink at its last component.
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// What an entry of a directory is, as `lstat` sees it (a symlink is not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub kind: FileType,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

fn err(e: Errno) -> io::Error {
    io::Error::from(e)
}

const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

impl Dir {
    /// Opens `path` as a directory; one that is a symlink is refused (`ELOOP`/`ENOTDIR`).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(path, DIR_FLAGS, Mode::empty()).map_err(err)?;
        Ok(Dir { fd, path: path.to_path_buf() })
    }

    /// The path it was opened at (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory itself, by its handle.
    pub fn meta(&self) -> io::Result<Entry> {
        Ok(entry(&rustix::fs::fstat(&self.fd).map_err(err)?))
    }

    /// The entry `name` (not followed when a symlink); None when there is none.
    pub fn entry(&self, name: &OsStr) -> io::Result<Option<Entry>> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(entry(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// The directory `name` in this one, never through a symlink.
    pub fn child(&self, name: &OsStr) -> io::Result<Dir> {
        let fd = rustix::fs::openat(&self.fd, name, DIR_FLAGS, Mode::empty()).map_err(err)?;
        Ok(Dir { fd, path: self.path.join(name) })
    }

    /// The directory `name`, following it when it is a symlink (for trusted links only).
    fn child_following(&self, name: &OsStr) -> io::Result<Dir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(err)?;
        Ok(Dir { fd, path: self.path.join(name) })
    }

    /// The directory `name` in this one, made (mode 0755, less the umask) when missing.
    pub fn child_or_create(&self, name: &OsStr) -> io::Result<Dir> {
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => self.child(name),
            Err(e) => Err(err(e)),
        }
    }

    /// The directories of `rel` (plain components only) below this one, each made when
    /// missing and none through a symlink.
    pub fn descend(&self, rel: &Path) -> io::Result<Dir> {
        let mut dir = Dir { fd: self.fd.try_clone()?, path: self.path.clone() };
        for c in rel.components() {
            match c {
                Component::Normal(name) => dir = dir.child_or_create(name)?,
                Component::CurDir => {}
                _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a plain relative path")),
            }
        }
        Ok(dir)
    }

    /// A new, empty file with a random name starting with `.{stem}.drover-`, mode 0600,
    /// created with `O_EXCL|O_NOFOLLOW`: nothing that was there is ever opened.
    pub fn temp(&self, stem: &str) -> io::Result<(File, String)> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut last = io::Error::other("no temporary name was free");
        for _ in 0..16 {
            let name = format!(".{stem}.drover-{}", random_hex()?);
            match rustix::fs::openat(&self.fd, name.as_str(), flags, Mode::from_raw_mode(0o600)) {
                Ok(fd) => return Ok((File::from(fd), name)),
                Err(Errno::EXIST) => last = err(Errno::EXIST),
                Err(e) => return Err(err(e)),
            }
        }
        Err(last)
    }

    /// Moves `from` over `to`, both in this directory (a symlink at `to` is replaced).
    pub fn rename(&self, from: &str, to: &OsStr) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(err)
    }

    /// Removes the file `name` (a symlink itself, never what it points to).
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    /// A new file `name` for writing: whatever was there (a link, a hard link to another
    /// file) is removed first, then the file is created with `O_EXCL|O_NOFOLLOW`.
    pub fn create_fresh(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        self.remove(name)?;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode)).map_err(err)?;
        Ok(File::from(fd))
    }

    /// `name` opened to append to (created with `mode` when missing), not through a link.
    pub fn append(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode)).map_err(err)?;
        Ok(File::from(fd))
    }

    /// Writes `bytes` to `name` atomically: a temporary, synced, renamed over it.
    pub fn write_atomic(&self, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        self.replace(name, |f| {
            f.write_all(bytes)?;
            rustix::fs::fchmod(&*f, Mode::from_raw_mode(mode)).map_err(err)?;
            f.sync_all()
        })
    }

    /// Replaces `name` with a temporary (mode 0600) that `fill` writes, renamed over it;
    /// a temporary `fill` or the rename failed on is removed.
    pub fn replace(&self, name: &str, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
        let (mut f, tmp) = self.temp(name)?;
        let written = fill(&mut f).and_then(|()| self.rename(&tmp, OsStr::new(name)));
        if written.is_err() {
            let _ = self.remove(OsStr::new(&tmp));
        }
        written
    }

    /// Writes `bytes` to the FIFO `name` when one is there and a reader has it open
    /// (the launch script waiting for the pid); false otherwise. Never blocks and never
    /// writes to anything but a FIFO, not through a symlink.
    pub fn tell_fifo(&self, name: &str, bytes: &[u8]) -> bool {
        if !matches!(self.entry(OsStr::new(name)), Ok(Some(e)) if e.kind == FileType::Fifo) {
            return false;
        }
        let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => File::from(fd).write_all(bytes).is_ok(),
            Err(_) => false,
        }
    }

    /// The contents of the regular file `name`, not through a symlink.
    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(err)?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut File::from(fd), &mut out)?;
        Ok(out)
    }
}

fn entry(st: &rustix::fs::Stat) -> Entry {
    Entry { kind: FileType::from_raw_mode(st.st_mode), mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid }
}

/// 16 random hex digits (from the kernel's `getrandom`).
fn random_hex() -> io::Result<String> {
    let mut buf = [0u8; 8];
    let mut filled = 0;
    while filled < buf.len() {
        filled += rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()).map_err(err)?;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Sets owner (when given) and then mode on an open file: never by path. The mode comes
/// last, since a change of owner clears the setuid and setgid bits.
pub fn set_owner_mode(f: &File, owner: Option<(Option<u32>, Option<u32>)>, mode: u32) -> io::Result<()> {
    if let Some((uid, gid)) = owner {
        rustix::fs::fchown(f, uid.map(Uid::from_raw), gid.map(Gid::from_raw)).map_err(err)?;
    }
    rustix::fs::fchmod(f, Mode::from_raw_mode(mode)).map_err(err)
}

/// Whether a symlink named in `parent` may be followed: it and its directory belong to
/// root or to the deployer's own user, and nobody else can replace it (the directory is
/// not writable by group or others, or is sticky). `/var/run → /run` is; a link a local
/// user planted is not.
fn trusted_link(parent: &Entry, link: &Entry) -> bool {
    let me = rustix::process::geteuid().as_raw();
    let ours = |uid: u32| uid == 0 || uid == me;
    ours(link.uid) && ours(parent.uid) && (parent.mode & 0o022 == 0 || parent.mode & 0o1000 != 0)
}

/// Opens the directory `path` (absolute, or relative to the working directory), made when
/// missing and `create`. Its own last component must not be a symlink; a symlink on the
/// way is followed only when [`trusted_link`] says so. Errors say which part is refused.
pub fn open_dir_path(path: &Path, create: bool) -> Result<Dir, String> {
    let start = if path.is_absolute() { Path::new("/") } else { Path::new(".") };
    let mut dir = Dir::open(start).map_err(|e| format!("cannot open {}: {e}", start.display()))?;
    let parts: Vec<Component<'_>> = path.components().collect();
    for (i, c) in parts.iter().enumerate() {
        let name = match c {
            Component::Normal(n) => *n,
            Component::ParentDir => OsStr::new(".."),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
        };
        let last = i + 1 == parts.len();
        let here = dir.path().join(name);
        let found = dir.entry(name).map_err(|e| format!("cannot look at {}: {e}", here.display()))?;
        dir = match found {
            None if create => {
                dir.child_or_create(name).map_err(|e| format!("cannot create {}: {e}", here.display()))?
            }
            None => return Err(format!("{} does not exist", here.display())),
            Some(e) if e.kind == FileType::Symlink && last => {
                return Err(format!(
                    "the destination directory {} is a symbolic link, which drover does not follow: give the real directory",
                    here.display()
                ));
            }
            Some(e) if e.kind == FileType::Symlink => {
                let parent = dir.meta().map_err(|e| format!("cannot look at {}: {e}", dir.path().display()))?;
                if !trusted_link(&parent, &e) {
                    return Err(format!(
                        "{} is a symbolic link that a user other than root can change, which drover does not follow: give the real path",
                        here.display()
                    ));
                }
                dir.child_following(name).map_err(|e| format!("cannot open {}: {e}", here.display()))?
            }
            Some(_) => dir.child(name).map_err(|e| format!("cannot open {}: {e}", here.display()))?,
        };
    }
    Ok(dir)
}

/// The bytes of an OS string (for names in messages and file names).
pub fn name_str(name: &OsStr) -> String {
    String::from_utf8_lossy(name.as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, symlink};

    #[test]
    fn the_pid_goes_only_to_a_fifo_with_a_reader() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        assert!(!dir.tell_fifo("started", b"1\n"), "no FIFO there");
        std::fs::write(tmp.path().join("started"), b"x").unwrap();
        assert!(!dir.tell_fifo("started", b"1\n"), "a regular file is not written");
        assert_eq!(std::fs::read(tmp.path().join("started")).unwrap(), b"x");
        std::fs::remove_file(tmp.path().join("started")).unwrap();
        rustix::fs::mknodat(&dir.fd, "started", FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        assert!(!dir.tell_fifo("started", b"1\n"), "nobody reads: it does not block");
        let reader =
            rustix::fs::open(tmp.path().join("started"), OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty()).unwrap();
        assert!(dir.tell_fifo("started", b"42\n"));
        let mut got = String::new();
        std::io::Read::read_to_string(&mut File::from(reader), &mut got).unwrap();
        assert_eq!(got, "42\n");
    }

    #[test]
    fn temporaries_are_new_and_random() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let (_, a) = dir.temp("x").unwrap();
        let (_, b) = dir.temp("x").unwrap();
        assert!(a.starts_with(".x.drover-") && a.len() == ".x.drover-".len() + 16, "{a}");
        assert_ne!(a, b);
        assert_eq!(std::fs::metadata(tmp.path().join(&a)).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn writes_replace_links_instead_of_following_them() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "secret").unwrap();
        let work = tmp.path().join("work");
        std::fs::create_dir(&work).unwrap();
        symlink(&victim, work.join("pid")).unwrap();
        symlink(&victim, work.join("1.log")).unwrap();
        let dir = Dir::open(&work).unwrap();
        dir.write_atomic("pid", b"123", 0o644).unwrap();
        let mut log = dir.create_fresh(OsStr::new("1.log"), 0o644).unwrap();
        log.write_all(b"out").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
        assert_eq!(std::fs::read_to_string(work.join("pid")).unwrap(), "123");
        assert_eq!(std::fs::read_to_string(work.join("1.log")).unwrap(), "out");
        symlink(&victim, work.join("resume")).unwrap();
        assert!(dir.read("resume").is_err(), "a link is not read through");
        // a directory handle is not opened through a link, nor made through one
        symlink(tmp.path(), work.join("steps")).unwrap();
        assert!(dir.child(OsStr::new("steps")).is_err());
        assert!(dir.descend(Path::new("steps/x")).is_err());
        assert!(Dir::open(&work.join("steps")).is_err());
        assert!(!tmp.path().join("x").exists());
    }

    #[test]
    fn paths_follow_only_trusted_links() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        symlink(&real, tmp.path().join("link")).unwrap();
        let err = open_dir_path(&tmp.path().join("link"), true).err().unwrap();
        assert!(err.contains("is a symbolic link") && err.contains("give the real directory"), "{err}");
        // a link on the way, ours in a directory only we can write: followed
        let d = open_dir_path(&tmp.path().join("link/sub"), true).unwrap();
        assert!(d.path().ends_with("link/sub"));
        assert!(real.join("sub").is_dir());
        // in a directory others can write, it is not
        std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let err = open_dir_path(&tmp.path().join("link/sub"), true).err().unwrap();
        assert!(err.contains("a user other than root can change"), "{err}");
    }
}
