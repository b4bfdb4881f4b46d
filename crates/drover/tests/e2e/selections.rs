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
