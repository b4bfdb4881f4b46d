//! Deploying to selections: a dynamic group and a report each resolve to the expected
//! assets, and a deployment started from each reaches exactly those hosts (checked on
//! the hosts), on both backends. The deployment records the selection.

use crate::fleet::Fleet;
use crate::harness::{Backend, Server};
use serde_json::{Value, json};
use std::time::Duration;

/// A package that leaves `/tmp/drover-<name>` on the host.
fn marker_package(name: &str) -> String {
    format!(
        r#"
name = "{name}"
version = "1"
max_duration_secs = 60

[[steps]]
name = "mark"
type = "command"
command = "echo {name} > /tmp/drover-{name}"
"#
    )
}

fn names(v: &Value, key: &str, field: &str) -> Vec<String> {
    let mut out: Vec<String> =
        v[key].as_array().unwrap().iter().map(|m| m[field].as_str().unwrap().to_string()).collect();
    out.sort();
    out
}

/// The hosts that hold `/tmp/drover-<name>`.
fn marked(fleet: &Fleet, name: &str) -> Vec<String> {
    let mut out: Vec<String> = fleet
        .hosts
        .iter()
        .filter(|h| fleet.exec(h, &format!("test -e /tmp/drover-{name}")).0 == 0)
        .map(|h| h.name.clone())
        .collect();
    out.sort();
    out
}

async fn group_and_report_deployments(backend: Backend) {
    let (fleet, server, assets) = Server::with_root_fleet(backend, 4).await;
    for pkg in ["by-group", "by-report"] {
        let (status, v) = server.import(&marker_package(pkg), &[]).await;
        assert_eq!(status, 200, "{v}");
    }
    let (h0, h1, h2, h3) = (&assets[0], &assets[1], &assets[2], &assets[3]);

    // a dynamic group: its rule picks h0 and h2
    let rule = format!("(name equals '{h0}' or name equals '{h2}') and not name equals '{h3}'");
    let g = server.post("/groups", json!({"name": "picked", "rule": rule})).await;
    assert_eq!(g["kind"], "dynamic", "{g}");
    let mut want = vec![h0.clone(), h2.clone()];
    want.sort();
    assert_eq!(names(&server.get("/groups/picked/members").await, "members", "name"), want);

    let done = server
        .deploy_and_wait(
            json!({"package": "by-group", "selection": {"kind": "group", "group": "picked"}}),
            Duration::from_secs(120),
        )
        .await;
    assert!(done["targets"].as_array().unwrap().iter().all(|t| t["state"] == "success"), "{done:#}");
    assert_eq!(names(&done, "targets", "asset_name"), want);
    assert_eq!(done["deployment"]["selection"], json!({"kind": "group", "group": "picked"}));
    assert_eq!(marked(&fleet, "by-group"), want, "the package reached exactly the group's members");

    // a report: the assets where by-group has not succeeded (h1 and h3)
    let sql = "SELECT a.AssetID, a.name FROM report_assets a WHERE NOT EXISTS (SELECT 1 FROM report_targets t \
               WHERE t.AssetID = a.AssetID AND t.package_name = $1 AND t.state = 'success') ORDER BY a.name";
    server.post("/reports", json!({"name": "missed", "sql": sql, "params": ["package"]})).await;
    let run = server.post("/reports/missed/run", json!({"params": {"package": "by-group"}})).await;
    let mut rest = vec![h1.clone(), h3.clone()];
    rest.sort();
    assert_eq!(run["deployable"], true, "{run}");
    assert_eq!(run["columns"], json!(["AssetID", "name"]));
    let got: Vec<String> = run["rows"].as_array().unwrap().iter().map(|r| r[1].as_str().unwrap().to_string()).collect();
    assert_eq!(got, rest);

    let selection = json!({"kind": "report", "report": "missed", "params": {"package": "by-group"}});
    let done =
        server.deploy_and_wait(json!({"package": "by-report", "selection": selection}), Duration::from_secs(120)).await;
    assert!(done["targets"].as_array().unwrap().iter().all(|t| t["state"] == "success"), "{done:#}");
    assert_eq!(names(&done, "targets", "asset_name"), rest);
    assert_eq!(done["deployment"]["selection"], selection);
    assert_eq!(marked(&fleet, "by-report"), rest, "the package reached exactly the report's assets");

    // a refused report changes nothing and says why
    let (status, v) = server
        .call(reqwest::Method::POST, "/reports", Some(json!({"name": "evil", "sql": "DELETE FROM assets"})))
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("only a SELECT"), "{v}");
    assert_eq!(server.get("/assets").await.as_array().unwrap().len(), 4);
    // an overview entry is a selection too
    let subnets = server.get("/overviews/subnet").await;
    assert_eq!(subnets[0]["count"], 4, "{subnets}");

    console_pages(&server, &want).await;
}

/// The console's Groups and Reports pages list, escape, run, and deploy to a group
/// through the deploy dialog, which records the group as the selection.
async fn console_pages(server: &Server, members: &[String]) {
    let base = server.url.clone();
    let cookie = crate::console::console_cookie(&base, "admin", "admin-password").await;
    let http = crate::console::form_client();
    let page = async |path: &str| -> String {
        let resp = http.get(format!("{base}{path}")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        resp.text().await.unwrap()
    };
    let evil = server.post("/groups", json!({"name": "<b>x</b>", "members": [members[0]]})).await;
    let groups = page("/groups").await;
    assert!(
        groups.contains("picked") && groups.contains("&#60;b&#62;x&#60;/b&#62;") && !groups.contains("<b>x</b>"),
        "{groups}"
    );
    let evil_page = page(&format!("/groups/{}", evil["id"])).await;
    assert!(evil_page.contains("/deploy?group=%3Cb%3Ex%3C%2Fb%3E"), "the deploy link is URL-encoded: {evil_page}");
    let result = page("/report?report=missed&p_package=by-group&run=1").await;
    assert!(result.contains("Deploy Package") && result.contains("2 row(s)"), "{result}");
    let reports = page("/reports").await;
    assert!(reports.contains("software-missing") && reports.contains("missed"), "{reports}");

    let picked = server.get("/groups/picked").await;
    let dialog = page("/deploy?group=picked").await;
    assert!(dialog.contains("2"), "{dialog}");
    let csrf = dialog.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let pkg = server.get("/packages/by-group").await["id"].as_i64().unwrap().to_string();
    let resp = http
        .post(format!("{base}/deploy"))
        .header("cookie", &cookie)
        .form(&[("package", pkg.as_str()), ("group", "picked"), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let to = resp.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = to.rsplit('/').next().unwrap().parse().unwrap();
    let done = server.wait(id, Duration::from_secs(120)).await;
    assert_eq!(done["deployment"]["selection"], json!({"kind": "group", "group": "picked"}));
    assert_eq!(done["targets"].as_array().unwrap().len(), picked["member_count"].as_u64().unwrap() as usize);
}

#[tokio::test(flavor = "multi_thread")]
async fn group_and_report_deployments_sqlite() {
    group_and_report_deployments(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn group_and_report_deployments_postgres() {
    group_and_report_deployments(Backend::Postgres).await;
}

/// `drover` with the test server and the admin's token; (exit code, stdout, stderr).
fn drover(server: &Server, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drover"))
        .args(args)
        .env("DROVER_SERVER", &server.url)
        .env("DROVER_TOKEN", &server.token)
        .env("DROVER_SERVER_FINGERPRINT", &server.cert_sha256)
        .output()
        .expect("run drover");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn ok(server: &Server, args: &[&str]) -> String {
    let (code, out, err) = drover(server, args);
    assert_eq!(code, 0, "drover {args:?}: {out}{err}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_adds_runs_exports_and_deploys_to_selections() {
    let (fleet, server, assets) = Server::with_root_fleet(Backend::Sqlite, 2).await;
    let (status, v) = server.import(&marker_package("by-cli"), &[]).await;
    assert_eq!(status, 200, "{v}");
    let rule = format!("name equals '{}'", assets[1]);
    let out = ok(&server, &["group", "add", "second", "--rule", &rule]);
    assert!(out.contains("dynamic group") && out.contains("1 member(s)"), "{out}");
    assert!(ok(&server, &["group", "members", "second"]).contains(&assets[1]));
    let (code, _, err) = drover(&server, &["group", "add", "bad", "--rule", "os starts Debian"]);
    assert_eq!(code, 2);
    assert!(err.contains("rule error at character 4"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("second.json");
    ok(&server, &["group", "export", "second", "-o", file.to_str().unwrap()]);
    ok(&server, &["group", "rm", "second"]);
    assert!(ok(&server, &["group", "import", file.to_str().unwrap()]).contains("imported (dynamic)"));

    ok(
        &server,
        &[
            "report",
            "add",
            "firsts",
            "--sql",
            "SELECT AssetID, name FROM report_assets WHERE name = $1",
            "--param",
            "who",
        ],
    );
    let run = ok(&server, &["report", "run", "firsts", "--param", &format!("who={}", assets[0])]);
    assert!(run.contains("AssetID") && run.contains(&assets[0]) && run.contains("deployable"), "{run}");
    let (code, _, err) = drover(&server, &["report", "add", "evil", "--sql", "SELECT * FROM credentials"]);
    assert_eq!(code, 2);
    assert!(err.contains("'credentials', which is not a report view"), "{err}");

    let out = ok(&server, &["deploy", "by-cli", "--group", "second"]);
    assert!(out.contains("to group 'second' (1 asset)"), "{out}");
    assert_eq!(marked(&fleet, "by-cli"), [assets[1].clone()]);
    let out = ok(&server, &["deploy", "by-cli", "--search", &format!("name={}", assets[0])]);
    assert!(out.contains(&format!("to search name={} (1 asset)", assets[0])), "{out}");
    let mut both = assets.clone();
    both.sort();
    assert_eq!(marked(&fleet, "by-cli"), both);
    assert!(ok(&server, &["overview", "subnet"]).contains("--overview 'subnet="));

    // a scan target is edited from the CLI: only the options given change
    ok(&server, &["scan", "target", "add", "lab", "10.0.0.0/24"]);
    let out =
        ok(&server, &["scan", "target", "edit", "lab", "--name", "lab2", "--schedule", "every 6h", "--port", "2222"]);
    assert!(out.contains("'lab2' changed: 10.0.0.0/24 port 2222 (every 6h)"), "{out}");
    let (code, _, err) = drover(&server, &["scan", "target", "edit", "lab2", "--covers", "10.0.0.0/8"]);
    assert_ne!(code, 0);
    assert!(err.contains("10.0.0.0/8"), "the engine's check, as for a new target: {err}");
    let (code, _, err) = drover(&server, &["scan", "target", "edit", "lab2"]);
    assert_ne!(code, 0);
    assert!(err.contains("nothing to change"), "{err}");
}
