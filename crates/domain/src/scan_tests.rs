use super::*;

#[test]
fn specs_parse_and_iterate_lazily() {
    let r = ScanSpec::parse("10.0.0.0/30").unwrap();
    assert_eq!(r.addresses().collect::<Vec<_>>(), vec!["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    let r = ScanSpec::parse("10.0.0.254-10.0.1.1").unwrap();
    assert_eq!(r.addresses().collect::<Vec<_>>(), vec!["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]);
    assert_eq!(ScanSpec::parse("10.0.0.7").unwrap(), ScanSpec::Address("10.0.0.7".parse().unwrap()));
    assert_eq!(ScanSpec::parse("Web1.Corp.example").unwrap(), ScanSpec::HostName("web1.corp.example".into()));
    assert!(ScanSpec::parse("a b").is_err());
    assert!(ScanSpec::parse("10.0.0.0/8").unwrap_err().contains("at most 65536"));
    // a /16 walks without collecting: take a few from the middle, count the rest lazily
    let big = ScanSpec::parse("10.1.0.0/16").unwrap();
    assert_eq!(big.size(), 65_536);
    assert_eq!(big.addresses().nth(256).as_deref(), Some("10.1.1.0"));
    assert_eq!(big.addresses().count(), 65_536);
    assert_eq!(big.addresses().last().as_deref(), Some("10.1.255.255"));
}

#[test]
fn schedules_parse_and_fire() {
    assert_eq!(ScanSchedule::parse("manual").unwrap().next_after(0), None);
    assert_eq!(ScanSchedule::parse("every 30m").unwrap().next_after(1_000), Some(1_000 + 30 * 60_000));
    assert_eq!(ScanSchedule::parse("every 6h").unwrap().next_after(0), Some(6 * 3_600_000));
    assert!(ScanSchedule::parse("every 1m").is_err());
    assert!(ScanSchedule::parse("daily 25:00").is_err());
    assert!(ScanSchedule::parse("daily 02:30 Mars/Olympus").is_err());
    let d = ScanSchedule::parse("daily 02:30 Europe/Amsterdam").unwrap();
    // 2026-01-10T12:00Z → next 02:30 CET = 01:30Z on the 11th
    let now = "2026-01-10T12:00:00Z".parse::<Timestamp>().unwrap().as_millisecond();
    let want = "2026-01-11T01:30:00Z".parse::<Timestamp>().unwrap().as_millisecond();
    assert_eq!(d.next_after(now), Some(want));
    assert_eq!(d.next_after(want), Some(want + 86_400_000), "strictly after");
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<ScanSchedule>(&json).unwrap(), d);
}

#[test]
fn new_targets_are_checked() {
    let mut t = NewScanTarget {
        name: " lab ".into(),
        target: " 10.0.0.0/24 ".into(),
        ssh_port: 22,
        schedule: ScanSchedule::Manual,
        enabled: true,
    };
    assert!(matches!(t.validate(), Ok(ScanSpec::Range(_))));
    assert_eq!((t.name.as_str(), t.target.as_str()), ("lab", "10.0.0.0/24"));
    t.name = "42".into();
    assert!(t.validate().unwrap_err().contains("all digits"));
}
