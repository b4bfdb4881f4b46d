//! Tests of known_hosts parsing and host patterns.

use super::*;

const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

#[test]
fn known_hosts_lines_give_keys_and_authorities_and_say_what_was_skipped() {
    let text = format!(
        "# a comment\n\
         10.0.0.5,web1.corp.example {ED} root@web1\n\
         [10.0.0.6]:2222 {ED}\n\
         |1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= {ED}\n\
         *.corp.example {ED}\n\
         @cert-authority *.corp.example,10.0.0.0/8 {ED} ca\n\
         @revoked 10.0.0.9 {ED}\n\
         10.0.0.7 ssh-ed25519\n\
         10.0.0.8 not-a-key AAAA\n\
         \n"
    );
    let k = parse_known_hosts(&text);
    assert_eq!(
        k.keys,
        vec![
            ("10.0.0.5".into(), 22, ED.into()),
            ("web1.corp.example".into(), 22, ED.into()),
            ("10.0.0.6".into(), 2222, ED.into())
        ]
    );
    assert_eq!(k.authorities, vec![("*.corp.example,10.0.0.0/8".into(), ED.into())]);
    let skipped = k.skipped.join("\n");
    assert_eq!(k.skipped.len(), 5, "{skipped}");
    for want in
        ["line 4: hashed host name", "line 5: '*.corp.example' is a pattern", "line 7: @revoked", "line 8:", "line 9:"]
    {
        assert!(skipped.contains(want), "no '{want}' in:\n{skipped}");
    }
}

#[test]
fn host_patterns() {
    let p = "*.corp.example,10.0.0.0/8,!bad.corp.example,192.168.1.5-192.168.1.9,exact.example";
    for yes in
        ["web1.corp.example", "a.b.corp.example", "10.1.2.3", "192.168.1.7", "exact.example", "WEB2.Corp.Example"]
    {
        assert!(host_patterns_match(p, yes), "{yes}");
    }
    for no in
        ["corp.example", "bad.corp.example", "11.0.0.1", "192.168.1.10", "web1.corp.example.evil", "x.exact.example"]
    {
        assert!(!host_patterns_match(p, no), "{no}");
    }
    assert!(
        host_patterns_match("web?.example", "web1.example") && !host_patterns_match("web?.example", "web10.example")
    );
    assert!(validate_host_patterns(p).is_ok());
    for bad in ["", " , ", "10.0.0.0/99", "a b", "x;y"] {
        assert!(validate_host_patterns(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn only_admin_pins_let_passwords_through() {
    assert!(PinSource::Admin.by_admin() && PinSource::KnownHosts.by_admin() && !PinSource::FirstUse.by_admin());
    for p in [PinSource::Admin, PinSource::KnownHosts, PinSource::FirstUse] {
        assert_eq!(PinSource::parse(p.as_str()), Some(p));
    }
}
