use super::*;

const GOOD: &str = r#"
name = "hello"
version = "1.0"

[[steps]]
name = "copy"
type = "file-copy"
source = "{PackageShare}/conf/hello.conf"
destination = "/etc/hello.conf"
mode = "0644"

[[steps]]
name = "run"
type = "command"
command = "echo hi"
on_failure = "goto 3"

[[steps]]
name = "check"
type = "condition"
criteria = [{ check = "file-exists", path = "/etc/hello.conf" }]
"#;

#[test]
fn parses_a_good_package_with_defaults() {
    let def = parse_package(GOOD, &["conf/hello.conf"]).unwrap();
    assert_eq!(def.steps.len(), 3);
    assert_eq!(def.run_mode, RunModeSetting::System);
    assert_eq!(def.max_duration_secs, 3600);
    assert_eq!(def.steps[1].on_failure, Action::GoTo(3));
    let again = parse_package(&to_toml(&def).unwrap(), &["conf/hello.conf"]).unwrap();
    assert_eq!(again, def);
}

fn problems(text: &str, files: &[&str]) -> String {
    parse_package(text, files).unwrap_err().to_string()
}

#[test]
fn goto_past_the_end_names_the_step() {
    let text = GOOD.replace("goto 3", "goto 9");
    assert!(
        problems(&text, &["conf/hello.conf"])
            .contains("step 2 'run': on_failure goes to step 9, but the package has 3 steps")
    );
}

#[test]
fn missing_file_and_unknown_fields_are_reported_together() {
    let text = GOOD.replace("mode = \"0644\"", "mode = \"0644\"\nmod = 1");
    let msg = problems(&text, &[]);
    assert!(msg.contains("step 1 'copy': unknown field 'mod' for type 'file-copy'"), "{msg}");
    let msg = problems(GOOD, &[]);
    assert!(msg.contains("'conf/hello.conf', which the package does not contain"), "{msg}");
}

#[test]
fn syntax_errors_carry_the_line() {
    let msg = problems("name = \"x\"\nversion = \n", &[]);
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn bad_types_and_actions_are_named() {
    let msg = problems(&GOOD.replace("type = \"command\"", "type = \"exec\""), &["conf/hello.conf"]);
    assert!(msg.contains("step 2 'run': unknown type 'exec'"), "{msg}");
    let msg = problems(&GOOD.replace("goto 3", "jump"), &["conf/hello.conf"]);
    assert!(msg.contains("step 2 'run': unknown action 'jump'"), "{msg}");
    let msg = problems(&GOOD.replace("0644", "rw-r"), &["conf/hello.conf"]);
    assert!(msg.contains("mode 'rw-r' must be octal"), "{msg}");
    let msg = problems(&GOOD.replace("{PackageShare}/conf", "{PackageShare}/../conf"), &["conf/hello.conf"]);
    assert!(msg.contains("without '..'"), "{msg}");
}

#[test]
fn run_mode_ask_needs_a_choice() {
    assert!(RunModeSetting::Ask.resolve(None).is_err());
    assert_eq!(RunModeSetting::Ask.resolve(Some(RunMode::LoggedOnUser)), Ok(RunMode::LoggedOnUser));
    assert_eq!(RunModeSetting::System.resolve(None), Ok(RunMode::System));
}

#[test]
fn run_mode_setting_text_is_its_file_name() {
    for m in
        [RunModeSetting::Ask, RunModeSetting::System, RunModeSetting::ScanningCredential, RunModeSetting::LoggedOnUser]
    {
        assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{m}\""));
    }
    assert_eq!(RunModeSetting::ScanningCredential.as_str(), "scanning-credential");
}

#[test]
fn all_digit_names_and_oversized_text_are_refused() {
    let err = parse_package(&GOOD.replace("name = \"hello\"", "name = \"123\""), &["conf/hello.conf"]).unwrap_err();
    assert!(err.to_string().contains("must not be all digits"), "{err}");
    let long = format!("description = \"{}\"\n{GOOD}", "d".repeat(MAX_DESCRIPTION + 1));
    let err = parse_package(&long, &["conf/hello.conf"]).unwrap_err();
    assert!(err.to_string().contains("'description' has 4097 bytes"), "{err}");
    let big = GOOD.replace("command = \"echo hi\"", &format!("command = \"{}\"", "x".repeat(MAX_STEP_BYTES)));
    let err = parse_package(&big, &["conf/hello.conf"]).unwrap_err();
    assert!(err.to_string().contains("step 2 'run': its fields hold"), "{err}");
    let name = GOOD.replace("name = \"run\"", &format!("name = \"{}\"", "n".repeat(MAX_STEP_NAME + 1)));
    assert!(parse_package(&name, &["conf/hello.conf"]).unwrap_err().to_string().contains("at most 200"));
}
