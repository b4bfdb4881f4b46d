//! Host-key decisions, with keys and certificates made by the real `ssh-keygen`.

use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn keygen(args: &[&str], dir: &Path) {
    let out = Command::new("ssh-keygen").args(args).current_dir(dir).output().expect("ssh-keygen (openssh-client)");
    assert!(out.status.success(), "ssh-keygen {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap().trim().to_string()
}

/// A CA, another CA, a host key and certificates of it: `host-cert.pub` (host, principals
/// web1.corp.example and 10.0.0.5), `user-cert.pub`, `other-cert.pub` (signed by the other
/// CA) and `old-cert.pub` (expired).
fn keys() -> Dir {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("drover-ssh-test-{}-{n}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.as_path();
    for k in ["ca", "other", "host"] {
        keygen(&["-q", "-t", "ed25519", "-N", "", "-f", k], d);
    }
    let sign = |ca: &str, out: &str, extra: &[&str]| {
        if out != "host" {
            std::fs::copy(d.join("host.pub"), d.join(format!("{out}.pub"))).unwrap();
        }
        let mut args = vec!["-q", "-s", ca, "-I", "web1"];
        args.extend_from_slice(extra);
        let pubf = format!("{out}.pub");
        args.push(&pubf);
        keygen(&args, d);
    };
    sign("ca", "host", &["-h", "-n", "web1.corp.example,10.0.0.5"]);
    sign("ca", "usr", &["-n", "web1.corp.example"]);
    sign("other", "oth", &["-h", "-n", "web1.corp.example"]);
    sign("ca", "old", &["-h", "-n", "web1.corp.example", "-V", "20200101:20200102"]);
    Dir(dir)
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn cert(dir: &Path, name: &str) -> Certificate {
    Certificate::from_openssh(&read(dir, &format!("{name}-cert.pub"))).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn host_certificates_are_checked_fully() {
    let d = keys();
    let d = d.0.as_path();
    let ca = vec![read(d, "ca.pub")];
    let c = cert(d, "host");
    assert!(check_host_certificate(&c, &ca, "web1.corp.example", now()).is_ok());
    assert!(check_host_certificate(&c, &ca, "WEB1.corp.example", now()).is_ok());
    assert!(check_host_certificate(&c, &ca, "10.0.0.5", now()).is_ok());
    let err = check_host_certificate(&c, &ca, "web2.corp.example", now()).unwrap_err();
    assert!(err.contains("principals"), "{err}");
    let err = check_host_certificate(&c, &[read(d, "other.pub")], "web1.corp.example", now()).unwrap_err();
    assert!(err.contains("not signed by a trusted authority"), "{err}");
    assert!(check_host_certificate(&c, &[], "web1.corp.example", now()).is_err());
    let err = check_host_certificate(&cert(d, "usr"), &ca, "web1.corp.example", now()).unwrap_err();
    assert!(err.contains("user certificate"), "{err}");
    assert!(check_host_certificate(&cert(d, "oth"), &ca, "web1.corp.example", now()).is_err());
    assert!(check_host_certificate(&cert(d, "old"), &ca, "web1.corp.example", now()).is_err(), "expired");
}

#[test]
fn decisions_pinned_mismatch_unknown_first_use_and_certificate() {
    let d = keys();
    let d = d.0.as_path();
    let host = PublicKey::from_openssh(&read(d, "host.pub")).unwrap();
    let other = read(d, "other.pub");
    let plain = PublicKeyOrCertificate::PublicKey { key: host.clone(), hash_alg: None };
    let policy = |pinned: Vec<String>, authorities: Vec<String>, tofu: bool| HostKeyPolicy {
        pinned,
        authorities,
        trust_first_use: tofu,
        now_unix_secs: now(),
    };
    let verdict =
        |p: &HostKeyPolicy, k: &PublicKeyOrCertificate| match decide(p, "web1.corp.example", "web1.corp.example:22", k)
        {
            Decision::Accept(v) => Ok(v),
            Decision::Refuse(e) => Err(e),
        };
    assert_eq!(verdict(&policy(vec![read(d, "host.pub")], vec![], false), &plain).unwrap(), Verified::Pinned);
    let e = verdict(&policy(vec![other.clone()], vec![], true), &plain).unwrap_err();
    assert_eq!(e.code(), "ssh.host_key_mismatch", "a pin wins over first use");
    let e = verdict(&policy(vec![], vec![], false), &plain).unwrap_err();
    assert_eq!(e.code(), "ssh.host_key_unknown");
    assert!(e.to_string().contains(&host.fingerprint(HashAlg::Sha256).to_string()), "{e}");
    assert_eq!(verdict(&policy(vec![], vec![], true), &plain).unwrap(), Verified::FirstUse);
    // certificates
    let certified = PublicKeyOrCertificate::Certificate(cert(d, "host"));
    let ca = vec![read(d, "ca.pub")];
    assert!(matches!(verdict(&policy(vec![], ca.clone(), false), &certified), Ok(Verified::Certificate { .. })));
    assert!(matches!(
        verdict(&policy(vec![other.clone()], ca.clone(), false), &certified),
        Ok(Verified::Certificate { .. })
    ));
    let e = verdict(&policy(vec![], vec![other], false), &certified).unwrap_err();
    assert_eq!(e.code(), "ssh.host_key_unknown");
    assert!(e.to_string().contains("certificate is not trusted"), "{e}");
    // an untrusted certificate still matches its key's pin
    assert_eq!(verdict(&policy(vec![read(d, "host.pub")], vec![], false), &certified).unwrap(), Verified::Pinned);
}

#[test]
fn the_key_exchange_asks_for_the_pinned_algorithms() {
    use russh::keys::Algorithm;
    let all = russh::Preferred::default().key.to_vec();
    assert_eq!(key_algorithms(&HostKeyPolicy::default(), &all), all);
    let d = keys();
    let ed = HostKeyPolicy { pinned: vec![read(d.0.as_path(), "host.pub")], ..Default::default() };
    assert_eq!(key_algorithms(&ed, &all), vec![Algorithm::Ed25519]);
}
