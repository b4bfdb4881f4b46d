//! File copy: atomic replacement, modes and owners, and links a local user planted.

use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};

const NOBODY: u32 = 65534;

fn local(path: &Path) -> CopySource<'static> {
    CopySource::Local(path.to_str().unwrap().to_string())
}

fn as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A directory owned by an unprivileged user (nobody), as a local user's would be, with
/// a root-only file beside it that they would like to overwrite.
struct Attack {
    _tmp: tempfile::TempDir,
    user_dir: PathBuf,
    victim: PathBuf,
    src: PathBuf,
    log: File,
}

impl Attack {
    fn new() -> Attack {
        let tmp = tempfile::tempdir().unwrap();
        let user_dir = tmp.path().join("home/nobody/app");
        std::fs::create_dir_all(&user_dir).unwrap();
        std::os::unix::fs::chown(tmp.path().join("home/nobody"), Some(NOBODY), Some(NOBODY)).unwrap();
        std::os::unix::fs::chown(&user_dir, Some(NOBODY), Some(NOBODY)).unwrap();
        let victim = tmp.path().join("shadow");
        std::fs::write(&victim, "root-only secret").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let src = tmp.path().join("package.conf");
        std::fs::write(&src, "package content").unwrap();
        let log = File::create(tmp.path().join("log")).unwrap();
        Attack { _tmp: tmp, user_dir, victim, src, log }
    }

    /// A symlink made by the user (owned by them) at `at`.
    fn plant(&self, at: &Path, to: &Path) {
        symlink(to, at).unwrap();
        lchown(at, Some(NOBODY), Some(NOBODY)).unwrap();
    }

    fn copy(&self, dest: &Path, mode: Option<&str>, owner: Option<&str>) -> StepRun {
        file_copy(&local(&self.src), dest.to_str().unwrap(), mode, owner, &self.log)
    }

    fn victim_untouched(&self) {
        let meta = std::fs::metadata(&self.victim).unwrap();
        assert_eq!(std::fs::read_to_string(&self.victim).unwrap(), "root-only secret");
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600), "the link's target keeps owner and mode");
    }
}

#[test]
fn copies_atomically_with_mode() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.conf");
    std::fs::write(&src, "hello").unwrap();
    let log = File::create(dir.path().join("log")).unwrap();
    let dest = dir.path().join("etc/app/app.conf");
    let run = file_copy(&local(&src), dest.to_str().unwrap(), Some("0640"), None, &log);
    assert_eq!(run.exit_code, Some(0), "{}", run.message);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello");
    assert_eq!(std::fs::metadata(&dest).unwrap().mode() & 0o7777, 0o640);
    // replacing keeps the mode; a directory destination takes the source's name
    std::fs::write(&src, "again").unwrap();
    let run = file_copy(&local(&src), dest.to_str().unwrap(), None, None, &log);
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(std::fs::metadata(&dest).unwrap().mode() & 0o7777, 0o640);
    let into = format!("{}/", dir.path().join("etc/app").display());
    assert_eq!(file_copy(&local(&src), &into, None, None, &log).exit_code, Some(0));
    assert_eq!(std::fs::read_to_string(dir.path().join("etc/app/src.conf")).unwrap(), "again");
    let existing_dir = dir.path().join("etc/app");
    assert_eq!(file_copy(&local(&src), existing_dir.to_str().unwrap(), None, None, &log).exit_code, Some(0));
    let entries = std::fs::read_dir(dir.path().join("etc/app")).unwrap().count();
    assert_eq!(entries, 2, "no temporary file is left");
    let bad = file_copy(&local(&src), dest.to_str().unwrap(), Some("rw-r"), None, &log);
    assert!(bad.exit_code == Some(1) && bad.message.contains("octal"), "{}", bad.message);
    let nobody = file_copy(&local(&src), dest.to_str().unwrap(), None, Some("no-such-user-x"), &log);
    assert!(nobody.exit_code == Some(1) && nobody.message.contains("no user 'no-such-user-x'"), "{}", nobody.message);
    let group = file_copy(&local(&src), dest.to_str().unwrap(), None, Some("root:no-such-group-x"), &log);
    assert!(group.exit_code == Some(1) && group.message.contains("no group"), "{}", group.message);
    assert_eq!(std::fs::read_dir(dir.path().join("etc/app")).unwrap().count(), 2);
}

#[test]
fn copies_with_an_owner_when_root() {
    if !as_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::write(&src, "x").unwrap();
    let log = File::create(dir.path().join("log")).unwrap();
    let dest = dir.path().join("owned");
    let run = file_copy(&local(&src), dest.to_str().unwrap(), Some("4750"), Some("nobody:nogroup"), &log);
    assert_eq!(run.exit_code, Some(0), "{}", run.message);
    let meta = std::fs::metadata(&dest).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (NOBODY, NOBODY, 0o4750), "setuid survives the chown");
    // a user alone leaves the new file's group (root's), as chown does; numbers are ids;
    // a replaced file keeps its owner
    let run = file_copy(&local(&src), dest.to_str().unwrap(), None, Some("1234"), &log);
    assert_eq!(run.exit_code, Some(0), "{}", run.message);
    let meta = std::fs::metadata(&dest).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1234, 0));
    let run = file_copy(&local(&src), dest.to_str().unwrap(), Some("0644"), None, &log);
    assert_eq!(run.exit_code, Some(0), "{}", run.message);
    let meta = std::fs::metadata(&dest).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (1234, 0, 0o644));
}

#[test]
fn a_link_at_the_temporary_name_or_the_destination_is_never_followed() {
    if !as_root() {
        return;
    }
    let a = Attack::new();
    let dest = a.user_dir.join("app.conf");
    // the name the old deployer used for its temporary, and the destination itself
    a.plant(&a.user_dir.join(format!(".app.conf.drover-{}", std::process::id())), &a.victim);
    a.plant(&dest, &a.victim);
    let run = a.copy(&dest, Some("0644"), Some("nobody"));
    assert_eq!(run.exit_code, Some(0), "{}", run.message);
    a.victim_untouched();
    // the link itself was replaced by the copy, owned as asked
    let meta = std::fs::symlink_metadata(&dest).unwrap();
    assert!(meta.file_type().is_file(), "the destination link is replaced by a file");
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (NOBODY, 0o644));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "package content");
    // without a mode, a replaced link does not lend the copy its target's mode or owner
    a.plant(&a.user_dir.join("second.conf"), &a.victim);
    let run = a.copy(&a.user_dir.join("second.conf"), None, None);
    assert_eq!(run.exit_code, Some(0), "{}", run.message);
    let meta = std::fs::symlink_metadata(a.user_dir.join("second.conf")).unwrap();
    assert_eq!((meta.file_type().is_file(), meta.uid(), meta.mode() & 0o7777), (true, 0, 0o644));
    a.victim_untouched();
}

#[test]
fn a_destination_directory_that_is_a_link_is_refused() {
    if !as_root() {
        return;
    }
    let a = Attack::new();
    let root_dir = a.victim.parent().unwrap().join("root-only");
    std::fs::create_dir(&root_dir).unwrap();
    // the destination's directory is a link a user planted
    a.plant(&a.user_dir.join("conf.d"), &root_dir);
    let run = a.copy(&a.user_dir.join("conf.d/app.conf"), Some("0644"), None);
    assert_eq!(run.exit_code, Some(1));
    assert!(
        run.message.contains("conf.d is a symbolic link") && run.message.contains("real directory"),
        "{}",
        run.message
    );
    let run = a.copy(Path::new(&format!("{}/", a.user_dir.join("conf.d").display())), None, None);
    assert_eq!(run.exit_code, Some(1), "{}", run.message);
    // a link on the way, in a directory the user owns
    a.plant(&a.user_dir.join("sub"), &root_dir);
    std::fs::create_dir(root_dir.join("inner")).unwrap();
    let run = a.copy(&a.user_dir.join("sub/inner/app.conf"), None, None);
    assert_eq!(run.exit_code, Some(1));
    assert!(run.message.contains("a user other than root can change"), "{}", run.message);
    assert_eq!(std::fs::read_dir(&root_dir).unwrap().count(), 1, "nothing was written through a link");
    // a destination that is a link to a directory is replaced, not copied into
    a.plant(&a.user_dir.join("dirlink"), &root_dir);
    let run = a.copy(&a.user_dir.join("dirlink"), None, None);
    assert_eq!(run.exit_code, Some(0), "{}", run.message);
    assert!(std::fs::symlink_metadata(a.user_dir.join("dirlink")).unwrap().is_file());
    assert_eq!(std::fs::read_dir(&root_dir).unwrap().count(), 1);
    a.victim_untouched();
}
