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
}

#[tokio::test(flavor = "multi_thread")]
async fn group_and_report_deployments_sqlite() {
    group_and_report_deployments(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn group_and_report_deployments_postgres() {
    group_and_report_deployments(Backend::Postgres).await;
}
