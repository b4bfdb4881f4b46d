//! The console's scan targets page in a real browser: a form error beside its field, a
//! scan target added for a test host, run now, the host appearing as an asset (its
//! scanned host name shown as text, its type and pending reboot on its page), disable,
//! edit (an error beside its field, then saved) and delete; a viewer sees no buttons.

use crate::console::Browser;
use crate::fleet::Fleet;
use crate::harness::{Backend, Server, done_if, eventually};
use fantoccini::Locator;
use serde_json::json;
use std::time::Duration;

async fn fill(b: &Browser, css: &str, text: &str) {
    let e = b.c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scan_target_made_and_edited_finds_a_host_in_a_browser() {
    let fleet = Fleet::up(1);
    let h = &fleet.hosts[0];
    let hostile = "<i>scanned</i>";
    fleet.sh(h, &format!("printf %s '{hostile}' > /proc/sys/kernel/hostname"));
    let server = Server::start(Backend::Sqlite).await;
    server.credential("key", json!({"username": "root", "private_key": fleet.key()})).await;
    let id = server.get("/credentials").await[0]["id"].as_i64().unwrap();
    server.post(&format!("/credentials/{id}/mappings"), json!({"global": true})).await;
    server.post("/users", json!({"name": "vera", "password": "viewer-password", "role": "viewer"})).await;
    let base = server.url.clone();

    let b = Browser::start().await;
    b.login(&base, "admin", "admin-password").await;
    b.click("nav a[href='/scan-targets']").await;
    b.c.wait().for_element(Locator::Css("#scan-target-form")).await.unwrap();
    assert!(b.text("#scan-targets").await.contains("No scan target yet"));

    // a bad schedule: the message sits beside its field and the typed values stay
    fill(&b, "#name", "lab").await;
    fill(&b, "#target", &h.ip).await;
    fill(&b, "#schedule", "hourly").await;
    b.click("#add-scan-target").await;
    b.c.wait().for_element(Locator::Css("#schedule-error")).await.unwrap();
    assert!(b.text("#schedule-error").await.contains("every 30m"), "{}", b.text("#schedule-error").await);
    let typed = b.c.find(Locator::Css("#target")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some(h.ip.as_str()));
    b.shot("scan-target-error").await;

    fill(&b, "#schedule", "every 6h").await;
    b.click("#add-scan-target").await;
    eventually("the new scan target in the list", Duration::from_secs(10), async || {
        let t = b.text("#scan-targets").await;
        done_if(t.contains("lab") && t.contains("every 6h") && t.contains(&h.ip), t)
    })
    .await;
    let t = server.get("/scan-targets/lab").await;
    assert_eq!((t["enabled"].as_bool(), t["next_scan_ms"].is_i64()), (Some(true), true), "{t:#}");

    // run now: the scan runs in the background and the host becomes an asset
    b.click("tr[data-name='lab'] button[aria-label^='Run']").await;
    b.c.wait().for_element(Locator::Css("#scan-notice")).await.unwrap();
    assert!(b.text("#scan-notice").await.contains("started"));
    eventually("the last result on the page", Duration::from_secs(60), async || {
        b.c.refresh().await.map_err(|e| e.to_string())?;
        let r = b.text("tr[data-name='lab'] .last-result").await;
        done_if(r == "1 probed, 1 answered, 0 failed", r)
    })
    .await;
    b.shot("scan-targets").await;
    b.c.goto(&format!("{base}/assets")).await.unwrap();
    assert_eq!(b.text("#asset-table tbody td a").await, hostile, "the scanned host name, as text");
    assert!(b.c.source().await.unwrap().contains("&lt;i&gt;scanned&lt;/i&gt;"));
    let a = &server.get("/assets").await[0];
    assert_eq!((a["address"].as_str(), a["hostname"].as_str()), (Some(h.ip.as_str()), Some(hostile)), "{a:#}");
    // the test hosts run inside this machine's container (systemd-detect-virt says docker)
    assert_eq!((a["machine_type"].as_str(), a["pending_reboot"].as_bool()), (Some("container"), Some(false)), "{a:#}");
    b.c.goto(&format!("{base}/assets/{}", a["id"])).await.unwrap();
    let facts = b.text("dl.facts").await;
    let lines: Vec<&str> = facts.lines().map(str::trim).collect();
    let shown = |k: &str, v: &str| lines.windows(2).any(|w| w == [k, v]);
    assert!(shown("Type", "container") && shown("Pending reboot", "no"), "{facts}");

    // disable, then delete
    b.c.goto(&format!("{base}/scan-targets")).await.unwrap();
    b.click("tr[data-name='lab'] button[aria-label^='Disable']").await;
    eventually("the target disabled", Duration::from_secs(10), async || {
        let t = server.get("/scan-targets/lab").await;
        done_if(t["enabled"] == false && t["next_scan_ms"].is_null(), t.to_string())
    })
    .await;
    b.c.wait().for_element(Locator::Css("tr[data-name='lab'] button[aria-label^='Enable']")).await.unwrap();

    // a viewer sees the list, not the buttons or the form
    b.click("header form button").await;
    b.c.wait().for_element(Locator::Css("#login")).await.unwrap();
    b.login(&base, "vera", "viewer-password").await;
    b.c.goto(&format!("{base}/scan-targets")).await.unwrap();
    assert!(b.text("#scan-targets").await.contains("lab"));
    assert!(b.c.find(Locator::Css("#scan-target-form")).await.is_err(), "no form for a viewer");
    assert!(b.c.find(Locator::Css("#scan-targets button")).await.is_err(), "no buttons for a viewer");
    assert!(b.c.find(Locator::Css("#scan-targets a[aria-label^='Edit']")).await.is_err(), "no edit link either");

    b.click("header form button").await;
    b.c.wait().for_element(Locator::Css("#login")).await.unwrap();
    b.login(&base, "admin", "admin-password").await;
    b.c.goto(&format!("{base}/scan-targets")).await.unwrap();

    // edit: a bad schedule sits beside its field; then a new name, port, schedule, enabled again
    b.click("tr[data-name='lab'] a[aria-label^='Edit']").await;
    b.c.wait().for_element(Locator::Css("#save-scan-target")).await.unwrap();
    let shown = b.c.find(Locator::Css("#schedule")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(shown.as_deref(), Some("every 6h"), "the form shows the stored target");
    fill(&b, "#name", "lab-west").await;
    fill(&b, "#schedule", "hourly").await;
    b.click("#save-scan-target").await;
    b.c.wait().for_element(Locator::Css("#schedule-error")).await.unwrap();
    assert!(b.text("#schedule-error").await.contains("every 30m"), "{}", b.text("#schedule-error").await);
    let typed = b.c.find(Locator::Css("#name")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some("lab-west"), "the typed values stay");
    b.shot("scan-target-edit-error").await;
    fill(&b, "#ssh_port", "2222").await;
    fill(&b, "#schedule", "every 30m").await;
    b.click("#enabled").await;
    b.click("#save-scan-target").await;
    eventually("the edited target in the list", Duration::from_secs(10), async || {
        let t = b.text("tr[data-name='lab-west']").await;
        done_if(t.contains("every 30m") && t.contains("port 2222") && t.contains("yes"), t)
    })
    .await;
    let t = server.get("/scan-targets/lab-west").await;
    assert_eq!(t["ssh_port"], 2222, "{t:#}");
    assert_eq!(t["schedule"], json!({"type": "every_minutes", "n": 30}), "{t:#}");
    assert_eq!((t["enabled"].as_bool(), t["next_scan_ms"].is_i64()), (Some(true), true), "{t:#}");
    assert!(server.call(reqwest::Method::GET, "/scan-targets/lab", None).await.0 == 404, "renamed");
    // the API's PATCH is the same engine call: a partial change keeps the other fields
    let (code, v) = server.call(reqwest::Method::PATCH, "/scan-targets/lab-west", Some(json!({"ssh_port": 22}))).await;
    assert_eq!((code, v["ssh_port"].as_i64(), v["name"].as_str()), (200, Some(22), Some("lab-west")), "{v:#}");
    let (code, v) = server.call(reqwest::Method::PATCH, "/scan-targets/lab-west", Some(json!({"ssh_port": 0}))).await;
    assert_eq!(code, 422, "checked as a new target: {v:#}");
    b.c.refresh().await.unwrap();
    b.c.execute("window.confirm = () => true; return 1", vec![]).await.unwrap();
    b.click("tr[data-name='lab-west'] button[aria-label^='Delete']").await;
    eventually("the target deleted", Duration::from_secs(10), async || {
        let n = server.get("/scan-targets").await.as_array().map_or(0, Vec::len);
        done_if(n == 0, n)
    })
    .await;
    assert_eq!(server.get("/assets").await.as_array().unwrap().len(), 1, "its asset stays");
}
