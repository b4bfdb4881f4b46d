//! Installing, checking and removing a real dpkg package (needs root and dpkg; it changes
//! the machine's package database, so it runs only when asked: `-- --ignored`).

use crate::server::TestServer;
use crate::support::*;
use drover_proto::FinalStatus;
use serde_json::json;
use std::process::Command;

#[test]
#[ignore = "needs root and dpkg; installs and removes the package drover-deployer-test"]
fn installs_checks_and_removes_a_deb() {
    let build = tempfile::tempdir().unwrap();
    let root = build.path().join("pkg");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/drover-deployer-test")).unwrap();
    std::fs::write(root.join("usr/share/drover-deployer-test/marker"), "hi\n").unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        "Package: drover-deployer-test\nVersion: 1:2.5~rc1-3\nArchitecture: all\n\
         Maintainer: drover <drover@example.invalid>\nDescription: test package of drover-deployer\n",
    )
    .unwrap();
    let deb = build.path().join("t.deb");
    assert!(Command::new("dpkg-deb").arg("--build").arg(&root).arg(&deb).status().unwrap().success());
    let bytes = std::fs::read(&deb).unwrap();

    let srv = TestServer::start();
    srv.add_file(&sha256(&bytes), &bytes);
    let name = "drover-deployer-test";
    let steps = json!([
        {"name": "install", "type": "installer", "path": "{PackageShare}/pkgs/t.deb"},
        {"name": "installed", "type": "condition", "criteria": [
            {"check": "software-installed", "name": name},
            {"check": "software-version", "name": name, "op": ">", "version": "1:2.5~beta-9"},
            {"check": "software-version", "name": name, "op": "<", "version": "1:2.5-1"},
        ]},
        {"name": "remove", "type": "uninstall", "packages": [name]},
        {"name": "gone", "type": "condition", "criteria": [{"check": "software-absent", "name": name}]},
    ]);
    let dir = tempfile::tempdir().unwrap();
    let ran = run(dir.path(), &job(&srv.url, &srv.share_url(), steps, vec![file("pkgs/t.deb", &bytes)]));
    let record = record(dir.path());
    let res = results(&record);
    assert_eq!(ran.code, 0, "{res:#?}");
    assert!(res[1].output_tail.contains("1:2.5~rc1-3 is > 1:2.5~beta-9"), "{}", res[1].output_tail);
    assert_eq!(finished(&record).0, FinalStatus::Success);
}
