//! Who is logged on at a target's console or desktop: the sessions the facts script
//! lists (utmp through `who`, logind through `loginctl`), and the one rule that picks
//! the logged-on user of run mode logged-on user.
//!
//! The rule:
//! 1. Only a **local** session counts. From logind (authoritative when it lists any
//!    local session): `Remote=no`, `Class=user`, not closing, and on a seat or of type
//!    x11, wayland, mir or tty. From utmp (`who`, used when logind has none): a line that
//!    is a virtual console (`ttyN`) or an X display (`:N`), or a terminal whose host is
//!    a local X display (`(:N)`). An SSH session (logind `Remote=yes`, or a `pts/N` line
//!    from a remote host) never counts, nor does a `pts/N` line without a host: on a
//!    shared server any SSH user would otherwise receive the package and its tokens.
//! 2. A user other than root is preferred; root is chosen only when root alone sits at
//!    the console.
//! 3. Of several, the most recent session wins (logind's start time, else utmp's login
//!    time; on a tie the one listed last).
//! 4. None: the target fails with `target.nobody_logged_on`.

/// One session as the facts script reported it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct LoginSession {
    pub user: String,
    /// logind's session (else utmp's line).
    pub from_logind: bool,
    /// At the console or desktop (see the rule above).
    pub local: bool,
    /// The terminal line, seat or session type, for messages.
    pub place: String,
    /// When it began, comparable within one source: logind's monotonic start time in
    /// microseconds, or utmp's `YYYY-MM-DD HH:MM` as a number.
    pub since: u64,
}

/// A `who=` line of the facts script: `who` in the C locale, e.g.
/// `alice tty1 2024-05-01 10:00` or `bob pts/0 2024-05-01 10:00 (192.0.2.7)`.
pub(crate) fn parse_who(line: &str) -> Option<LoginSession> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (user, tty) = (words.first()?, words.get(1)?);
    let host = words.last().filter(|w| w.len() > 2 && w.starts_with('(') && w.ends_with(')'));
    let host = host.map(|h| &h[1..h.len() - 1]);
    let since = words.get(2..4).map(|dt| dt.concat()).unwrap_or_default();
    let since = since.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0);
    let local = is_console(tty) || is_display(tty) || host.is_some_and(is_display);
    let place = match host {
        Some(h) => format!("{tty} from {h}"),
        None => tty.to_string(),
    };
    Some(LoginSession { user: user.to_string(), from_logind: false, local, place, since })
}

/// A `logind=` line: the session id, then `Key=Value` properties separated by tabs.
pub(crate) fn parse_logind(line: &str) -> Option<LoginSession> {
    let mut parts = line.split('\t');
    let _id = parts.next()?;
    let props: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
    let get = |k: &str| props.iter().find(|(key, _)| *key == k).map_or("", |(_, v)| v.trim());
    let user = get("Name");
    if user.is_empty() {
        return None;
    }
    let kind = get("Type");
    let seated = !get("Seat").is_empty() || matches!(kind, "x11" | "wayland" | "mir" | "tty");
    let local = get("Remote") == "no" && get("Class") == "user" && get("State") != "closing" && seated;
    let place = [get("Seat"), get("TTY"), kind].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>();
    let place = if get("Remote") == "yes" { format!("{} (remote)", place.join(" ")) } else { place.join(" ") };
    let since = get("TimestampMonotonic").parse().unwrap_or(0);
    Some(LoginSession { user: user.to_string(), from_logind: true, local, place, since })
}

fn is_console(tty: &str) -> bool {
    tty.strip_prefix("tty").is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn is_display(s: &str) -> bool {
    s.strip_prefix(':').is_some_and(|n| {
        let n = n.split_once('.').map_or(n, |(d, _)| d);
        !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
    })
}

/// The logged-on user by the rule above, or None.
pub(crate) fn console_user(sessions: &[LoginSession]) -> Option<&str> {
    let local = |logind: bool| sessions.iter().filter(move |s| s.local && s.from_logind == logind);
    let pool: Vec<&LoginSession> =
        if local(true).next().is_some() { local(true).collect() } else { local(false).collect() };
    let newest = |root: bool| {
        pool.iter().enumerate().filter(|(_, s)| (s.user == "root") == root).max_by_key(|(i, s)| (s.since, *i))
    };
    newest(false).or_else(|| newest(true)).map(|(_, s)| s.user.as_str())
}

/// Users seen only in sessions that do not count (over SSH), for the failure message.
pub(crate) fn remote_only(sessions: &[LoginSession]) -> Vec<String> {
    let mut users: Vec<String> = Vec::new();
    for s in sessions.iter().filter(|s| !s.local) {
        if !users.contains(&s.user) {
            users.push(s.user.clone());
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(lines: &[&str]) -> Vec<LoginSession> {
        let out = lines.join("\n");
        crate::deploy::remote::parse_facts(&out).sessions
    }

    #[test]
    fn parses_who_lines() {
        let s = parse_who("alice    tty1         2024-05-01 10:00").unwrap();
        assert_eq!((s.user.as_str(), s.local, s.since), ("alice", true, 202405011000));
        let ssh = parse_who("bob      pts/0        2024-05-01 10:05 (192.0.2.7)").unwrap();
        assert!(!ssh.local);
        assert_eq!(ssh.place, "pts/0 from 192.0.2.7");
        assert!(parse_who("carol    :0           2024-05-01 09:00 (:0)").unwrap().local);
        assert!(parse_who("carol    pts/2        2024-05-01 09:01 (:0.0)").unwrap().local);
        assert!(!parse_who("dave     pts/3        2024-05-01 09:01").unwrap().local, "no host: not known local");
        assert!(!parse_who("erin     ttyS0x       2024-05-01 09:01").unwrap().local);
        assert_eq!(parse_who("lonely"), None);
    }

    #[test]
    fn parses_logind_sessions() {
        let l = "3\tName=alice\tType=wayland\tRemote=no\tSeat=seat0\tTTY=tty2\tClass=user\tState=active\tTimestampMonotonic=500";
        let s = parse_logind(l).unwrap();
        assert_eq!((s.user.as_str(), s.local, s.since, s.from_logind), ("alice", true, 500, true));
        let ssh =
            "7\tName=bob\tType=tty\tRemote=yes\tSeat=\tTTY=pts/0\tClass=user\tState=active\tTimestampMonotonic=900";
        assert!(!parse_logind(ssh).unwrap().local);
        let greeter = "c1\tName=gdm\tType=wayland\tRemote=no\tSeat=seat0\tClass=greeter\tState=online";
        assert!(!parse_logind(greeter).unwrap().local);
        let cron = "c2\tName=carol\tType=unspecified\tRemote=no\tSeat=\tClass=background\tState=active";
        assert!(!parse_logind(cron).unwrap().local);
        let bare_ssh_exec = "c3\tName=deploy\tType=unspecified\tRemote=no\tSeat=\tClass=user\tState=active";
        assert!(!parse_logind(bare_ssh_exec).unwrap().local, "neither seat nor a console type");
    }

    #[test]
    fn the_console_user_is_chosen_by_the_rule() {
        // SSH sessions never count, whoever was first in `who`
        let only_ssh =
            facts(&["who=bob pts/0 2024-05-01 10:05 (192.0.2.7)", "who=carol pts/1 2024-05-01 10:06 (192.0.2.8)"]);
        assert_eq!(console_user(&only_ssh), None);
        assert_eq!(remote_only(&only_ssh), ["bob", "carol"]);
        let mixed = facts(&["who=bob pts/0 2024-05-01 10:05 (192.0.2.7)", "who=alice tty1 2024-05-01 09:00"]);
        assert_eq!(console_user(&mixed), Some("alice"));
        // the most recent local one; a user over root
        let two = facts(&[
            "who=alice tty1 2024-05-01 09:00",
            "who=root tty3 2024-05-01 11:00",
            "who=carol tty2 2024-05-01 10:00",
            "who=dave pts/4 2024-05-01 12:00 (192.0.2.9)",
        ]);
        assert_eq!(console_user(&two), Some("carol"));
        assert_eq!(console_user(&facts(&["who=root tty1 2024-05-01 09:00"])), Some("root"));
        // logind wins over utmp when it lists a local session
        let both = facts(&[
            "who=alice tty1 2024-05-01 09:00",
            "logind=2\tName=erin\tType=x11\tRemote=no\tSeat=seat0\tClass=user\tState=active\tTimestampMonotonic=10",
            "logind=5\tName=bob\tType=tty\tRemote=yes\tClass=user\tState=active\tTimestampMonotonic=99",
        ]);
        assert_eq!(console_user(&both), Some("erin"));
        let newer = facts(&[
            "logind=2\tName=erin\tType=x11\tRemote=no\tSeat=seat0\tClass=user\tState=active\tTimestampMonotonic=10",
            "logind=4\tName=frank\tType=wayland\tRemote=no\tSeat=seat0\tClass=user\tState=active\tTimestampMonotonic=20",
        ]);
        assert_eq!(console_user(&newer), Some("frank"));
        // logind with only remote sessions: utmp's console lines still count
        let remote_logind = facts(&[
            "who=alice tty1 2024-05-01 09:00",
            "logind=5\tName=bob\tType=tty\tRemote=yes\tClass=user\tState=active\tTimestampMonotonic=99",
        ]);
        assert_eq!(console_user(&remote_logind), Some("alice"));
        assert_eq!(console_user(&[]), None);
    }
}
