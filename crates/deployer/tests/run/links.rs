//! Links a local user plants in the work directory or a copy's destination: the deployer,
//! run as root, writes through none of them.

use crate::support::*;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::Path;

const NOBODY: u32 = 65534;

fn plant(at: &Path, to: &Path) {
    symlink(to, at).unwrap();
    lchown(at, Some(NOBODY), Some(NOBODY)).unwrap();
}

#[test]
fn planted_links_are_never_written_through() {
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        return; // needs root: the point is a root deployer and a user's links
    }
    let srv = crate::server::TestServer::start();
    let conf = b"package content\n".to_vec();
    srv.add_file(&sha256(&conf), &conf);
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("shadow");
    std::fs::write(&victim, "root-only secret").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    // a work directory and a destination folder the user owns, with links in them
    let work = tmp.path().join("work");
    let user_dir = tmp.path().join("user");
    for d in [&work, &user_dir] {
        std::fs::create_dir(d).unwrap();
        std::os::unix::fs::chown(d, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    plant(&work.join("pid"), &victim);
    plant(&work.join("steps"), &elsewhere);
    plant(&work.join("files"), &elsewhere);
    plant(&user_dir.join("app.conf"), &victim);
    let steps = json!([
        {"name": "copy", "type": "file-copy", "source": "{PackageShare}/app.conf",
         "destination": user_dir.join("app.conf"), "mode": "0644", "owner": "nobody"},
        {"name": "echo", "type": "command", "command": "echo hello"},
    ]);
    let job = job(&srv.url, &srv.share_url(), steps, vec![file("app.conf", &conf)]);
    // a package file two steps name is downloaded into the work directory's files/ once
    let twice = json!([
        {"name": "copy", "type": "file-copy", "source": "{PackageShare}/app.conf",
         "destination": user_dir.join("app.conf"), "mode": "0644", "owner": "nobody"},
        {"name": "again", "type": "file-copy", "source": "{PackageShare}/app.conf", "destination": user_dir.join("b.conf")},
    ]);
    let twice = crate::support::job(&srv.url, &srv.share_url(), twice, vec![file("app.conf", &conf)]);
    let untouched = || {
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root-only secret");
        let meta = std::fs::metadata(&victim).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600));
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing written through a link");
    };
    // the step logs' folder is a link: no log is written through it, the step fails
    let ran = run(&work, &job);
    let res = results(&record(&work));
    assert!(res[0].message.contains("cannot create the step's log"), "{}", res[0].message);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    untouched();
    // the package files' folder is a link: the file is not downloaded through it
    std::fs::remove_file(work.join("steps")).unwrap();
    std::fs::remove_file(work.join("record.jsonl")).unwrap();
    assert!(std::fs::symlink_metadata(work.join("files")).is_err(), "the end removes the link, not its target");
    plant(&work.join("files"), &elsewhere);
    let ran = run(&work, &twice);
    let res = results(&record(&work));
    assert!(res[0].message.contains("under files/"), "{}", res[0].message);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    untouched();
    std::fs::remove_file(work.join("record.jsonl")).unwrap();
    let fetched = srv.share_requests().len();
    let ran = run(&work, &twice);
    let res = results(&record(&work));
    assert!(res[0].success && res[1].success, "{res:#?} {}", ran.stderr);
    assert_eq!(std::fs::read(user_dir.join("b.conf")).unwrap(), conf);
    assert_eq!(srv.share_requests().len(), fetched + 1, "downloaded once for both copies");
    std::fs::remove_file(user_dir.join("app.conf")).unwrap();
    plant(&user_dir.join("app.conf"), &victim);
    // a file only one copy names goes from the share straight into the copy: files/ stays
    // as it is (here, a link again), the download is not written through it
    plant(&work.join("files"), &elsewhere);

    // the copy replaces the destination link itself
    std::fs::remove_file(work.join("record.jsonl")).unwrap();
    let ran = run(&work, &job);
    let res = results(&record(&work));
    assert!(res[0].success, "{res:#?} {}", ran.stderr);
    let meta = std::fs::symlink_metadata(user_dir.join("app.conf")).unwrap();
    assert!(meta.is_file());
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (NOBODY, 0o644));
    untouched();
    assert!(std::fs::symlink_metadata(work.join("pid")).is_err(), "the pid file is gone at the end");

    // a record that is a link is refused before anything runs
    std::fs::remove_file(work.join("record.jsonl")).unwrap();
    plant(&work.join("record.jsonl"), &victim);
    let ran = run(&work, &job);
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(ran.stderr.contains("record.jsonl is not a regular file"), "{}", ran.stderr);
    untouched();
}
