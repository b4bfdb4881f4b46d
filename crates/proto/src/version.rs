//! Debian version ordering (`[epoch:]upstream[-revision]`, `~` before everything), as
//! `dpkg --compare-versions` does it: the deployer's version criteria and the server's
//! software version tests (dynamic groups) share it.

use std::cmp::Ordering;

/// Orders two versions the way dpkg does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb).then_with(|| compare_part(ua, ub)).then_with(|| compare_part(ra, rb))
}

fn split(v: &str) -> (u64, &str, &str) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((u, r)) => (epoch, u, r),
        None => (epoch, rest, ""),
    }
}

fn order(c: Option<char>) -> i32 {
    match c {
        None => 0,
        Some('~') => -1,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    while !a.is_empty() || !b.is_empty() {
        // non-digit prefix, character by character
        loop {
            let ca = a.chars().next().filter(|c| !c.is_ascii_digit());
            let cb = b.chars().next().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let (oa, ob) = (order(ca), order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            a = &a[ca.map_or(0, char::len_utf8)..];
            b = &b[cb.map_or(0, char::len_utf8)..];
        }
        let da = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let db = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let na = a[..da].trim_start_matches('0');
        let nb = b[..db].trim_start_matches('0');
        let by_number = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if by_number != Ordering::Equal {
            return by_number;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

/// Whether `have op want` holds in dpkg's order.
pub fn holds(have: &str, op: crate::VersionOp, want: &str) -> bool {
    use crate::VersionOp::*;
    let ord = compare(have, want);
    match op {
        Eq => ord == Ordering::Equal,
        Ne => ord != Ordering::Equal,
        Lt => ord == Ordering::Less,
        Le => ord != Ordering::Greater,
        Gt => ord == Ordering::Greater,
        Ge => ord != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn follows_dpkg() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.9", "2.0", Greater),
            ("2.0-1", "2.0-2", Less),
            ("2.0-10", "2.0-9", Greater),
            ("1.2.3a", "1.2.3", Greater),
            ("007", "7", Equal),
            ("1.0~~", "1.0~", Less),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
        }
    }

    const PAIRS: &[(&str, &str)] = &[
        ("1.0", "1.0-0"),
        ("1.0~rc1-1", "1.0-1"),
        ("1.0~~a", "1.0~"),
        ("0:1.2", "1.2"),
        ("2:1.0", "10:0.1"),
        ("1.2.3-4ubuntu1", "1.2.3-4"),
        ("1.2.3-4+deb12u1", "1.2.3-4"),
        ("1.2.3+dfsg-1", "1.2.3-1"),
        ("1.a", "1.+"),
        ("1.a", "1.A"),
        ("1.0a", "1.0.0"),
        ("9.9", "10.0"),
        ("1.18446744073709551616", "1.18446744073709551615"),
        ("1-2-3", "1-2-4"),
        ("a", "A"),
        ("1.0", "1.0."),
        ("3.0.11-1~deb12u2", "3.0.11-1"),
        ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
        ("12", "11"),
        ("22.04", "20.04"),
    ];

    #[test]
    fn orders_like_dpkg_on_tricky_pairs() {
        for (a, b) in PAIRS {
            assert_eq!(compare(a, b), compare(b, a).reverse(), "{a} vs {b} is not antisymmetric");
            assert_eq!(compare(a, a), Equal);
        }
        assert_eq!(compare("1.0", "1.0-0"), Equal);
        assert_eq!(compare("1.0~rc1-1", "1.0-1"), Less);
        assert_eq!(compare("2:1.0", "10:0.1"), Less);
        assert_eq!(compare("1.2.3-4+deb12u1", "1.2.3-4"), Greater);
        assert_eq!(compare("1.a", "1.+"), Less, "letters sort before other symbols");
        assert_eq!(compare("1.18446744073709551616", "1.18446744073709551615"), Greater);
        assert_eq!(compare("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"), Less);
    }

    /// Where dpkg is installed, it is the reference.
    #[test]
    fn agrees_with_dpkg_itself() {
        if std::process::Command::new("dpkg").arg("--version").output().is_err() {
            return;
        }
        for (a, b) in PAIRS {
            for (op, want) in [("lt", Less), ("eq", Equal), ("gt", Greater)] {
                let ok = std::process::Command::new("dpkg")
                    .args(["--compare-versions", a, op, b])
                    .status()
                    .unwrap()
                    .success();
                assert_eq!(ok, compare(a, b) == want, "dpkg says {a} {op} {b} is {ok}");
            }
        }
    }
}
