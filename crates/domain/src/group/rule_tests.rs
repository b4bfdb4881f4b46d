use super::*;

fn field(field: Field, op: TextOp, value: &str) -> Rule {
    Rule::Field { field, op, value: value.into() }
}

#[test]
fn parses_the_issue_example() {
    let r = Rule::parse("os starts-with Debian and software nginx < 1.24").unwrap();
    assert_eq!(
        r,
        Rule::And {
            and: vec![
                field(Field::Os, TextOp::StartsWith, "Debian"),
                Rule::Software {
                    software: "nginx".into(),
                    version: Some(VersionTest { op: VersionOp::Lt, value: "1.24".into() })
                },
            ]
        }
    );
}

#[test]
fn and_binds_tighter_than_or_and_not_tightest() {
    let r = Rule::parse("name = a OR NOT name = b and (arch contains 64 or software 'open ssl')").unwrap();
    let Rule::Or { or } = &r else { panic!("{r:?}") };
    assert_eq!(or[0], field(Field::Name, TextOp::Equals, "a"));
    let Rule::And { and } = &or[1] else { panic!("{r:?}") };
    assert_eq!(and[0], Rule::Not { not: Box::new(field(Field::Name, TextOp::Equals, "b")) });
    assert!(
        matches!(&and[1], Rule::Or { or } if or[1] == Rule::Software { software: "open ssl".into(), version: None })
    );
}

#[test]
fn display_parses_back() {
    for text in [
        "os starts-with Debian and software nginx < 1.24",
        "not (name equals 'a b' or hostname ends-with .lan) and software \"it's\" >= 2:1.0",
        "domain equals example.com or (arch equals x86_64 and not software curl)",
    ] {
        let r = Rule::parse(text).unwrap();
        assert_eq!(Rule::parse(&r.to_string()).unwrap(), r, "{text} → {r}");
    }
}

#[test]
fn json_form_round_trips() {
    let r = Rule::parse("not os contains debian or software nginx != 1.2").unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), r);
    let given: Rule =
        serde_json::from_str(r#"{"and":[{"field":"os","op":"starts-with","value":"Debian"},{"software":"nginx"}]}"#)
            .unwrap();
    assert_eq!(given.to_string(), "os starts-with Debian and software nginx");
    assert!(serde_json::from_str::<Rule>(r#"{"and":[]}"#).unwrap().validate().is_err());
}

#[test]
fn errors_name_the_position() {
    let cases = [
        ("os starts Debian", 4, "not an operator"),
        ("colour equals red", 1, "not a field"),
        ("os equals", 10, "ends where a value"),
        ("(os equals a", 13, "ends where ')'"),
        ("os equals a b", 13, "expected 'and', 'or'"),
        ("name equals 'open", 13, "never closed"),
        ("software nginx <", 17, "ends where a version"),
        ("software <", 10, "expected a software name"),
        ("", 1, "ends where a condition"),
    ];
    for (text, position, words) in cases {
        let e = Rule::parse(text).unwrap_err();
        assert_eq!(e.position, position, "{text}: {e}");
        assert!(e.to_string().contains(words), "{text}: {e}");
    }
    let deep = format!("{}os equals a{}", "(".repeat(40), ")".repeat(40));
    assert!(Rule::parse(&deep).unwrap_err().message.contains("nests at most"));
}
