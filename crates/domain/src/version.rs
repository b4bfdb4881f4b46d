//! Debian version ordering (`[epoch:]upstream[-revision]`, `~` before everything), as
//! `dpkg --compare-versions` does it: the software version tests of dynamic groups. (A
//! copy of the deployer's, which stays free of the domain crate.)

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
    use super::holds;
    use crate::VersionOp;

    #[test]
    fn follows_dpkg() {
        assert!(holds("1.22.1-9", VersionOp::Lt, "1.24"));
        assert!(!holds("1.24.0", VersionOp::Lt, "1.24"));
        assert!(holds("1:0.9", VersionOp::Gt, "2.0"));
        assert!(holds("1.0~rc1", VersionOp::Lt, "1.0"));
        assert!(holds("1.10", VersionOp::Ge, "1.9"));
    }
}
