//! The console's step editor, package files, schedules and deployment configurations in
//! a real browser: a package built step by step (one step copies a file uploaded in the
//! editor) deployed to a test host; a refused save shows its message beside the field
//! and keeps the text; a schedule previewed then saved; a configuration on it; a viewer
//! refused the editor. Screenshots go to `target/console-screenshots/`.

use crate::console::{Browser, WAIT};
use crate::harness::{Backend, Server, done_if, eventually};
use fantoccini::Locator;
use serde_json::{Value, json};
use std::time::Duration;

const NOTE: &str = "written by the step editor 42\n";

impl Browser {
    /// Clicks a submit button and waits for the next page to load.
    async fn submit(&self, css: &str) {
        self.c.execute("window.__before = 1; return 1", vec![]).await.unwrap();
        self.click(css).await;
        eventually(&format!("the page after {css}"), Duration::from_secs(20), async || {
            let v = self
                .c
                .execute("return [window.__before === undefined, document.readyState]", vec![])
                .await
                .map_err(|e| e.to_string())?;
            done_if(v == json!([true, "complete"]), v.to_string()).map_err(|s| s.to_string())
        })
        .await;
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Sets a field's value directly (date-time inputs and long selects).
    async fn set(&self, css: &str, value: &str) {
        self.c
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1]; return 1",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap();
    }

    async fn value(&self, css: &str) -> String {
        let v = self.c.execute("return document.querySelector(arguments[0]).value", vec![json!(css)]).await.unwrap();
        v.as_str().unwrap_or_else(|| panic!("no value of {css}: {v}")).to_string()
    }

    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn build_a_package_deploy_it_and_schedule_it_in_a_browser() {
    let (fleet, server, names) = Server::with_root_fleet(Backend::Sqlite, 1).await;
    let base = server.url.clone();
    server.post("/users", json!({"name": "vera", "password": "viewer-password", "role": "viewer"})).await;
    let assets: Vec<Value> = server.get("/assets").await.as_array().unwrap().clone();
    let host_id = assets.iter().find(|a| a["name"] == names[0]).unwrap()["id"].as_i64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let note = dir.path().join("note.txt");
    std::fs::write(&note, NOTE).unwrap();

    let b = Browser::start().await;
    b.login(&base, "admin", "admin-password").await;

    // a new package: settings, a file-copy step of a file uploaded here, a command step
    b.c.goto(&format!("{base}/packages")).await.unwrap();
    b.submit("#new-package").await;
    b.fill("#name", "edited").await;
    b.fill("#version", "1.0").await;
    b.set("#new_type", "file-copy").await;
    b.submit("#add-step").await;
    assert_eq!(b.value("#name").await, "edited", "the settings survive a round trip");
    b.fill("#s0-name", "copy the note").await;
    b.fill("#s0-source", "{PackageShare}/note.txt").await;
    b.fill("#s0-destination", "/tmp/edited-note.txt").await;
    b.c.find(Locator::Css("#upload")).await.unwrap().send_keys(note.to_str().unwrap()).await.unwrap();
    b.submit("#upload-file").await;
    let files = b.text("form.editor table").await;
    assert!(
        files.contains("{PackageShare}/note.txt") && files.contains(&crate::harness::sha256(NOTE.as_bytes())),
        "{files}"
    );
    assert_eq!(b.value("#s0-source").await, "{PackageShare}/note.txt");
    b.set("#new_type", "command").await;
    b.submit("#add-step").await;
    b.fill("#s1-name", "show it").await;
    b.fill("#s1-command", "cat /tmp/edited-note.txt").await;
    b.fill("#s1-on_success", "goto 9").await;

    // refused: the message is beside the field, and what was typed is still there
    b.submit("#save").await;
    let error = b.text("#s1-on_success-error").await;
    assert!(error.contains("step 2") && error.contains("on_success") && error.contains("9"), "{error}");
    assert_eq!(b.value("#s1-on_success").await, "goto 9");
    assert_eq!(b.value("#s1-command").await, "cat /tmp/edited-note.txt");
    b.shot("editor-error").await;
    b.fill("#s1-on_success", "next").await;

    // reorder with the buttons; the keyboard stays on the moved step's button
    b.submit("#s1-up").await;
    assert_eq!(b.value("#s0-name").await, "show it");
    let focused = b.c.execute("return document.activeElement.id", vec![]).await.unwrap();
    assert_eq!(focused, json!("s0-down"));
    b.submit("#s0-down").await;
    assert_eq!(b.value("#s0-name").await, "copy the note");
    assert_eq!(b.value("#s1-name").await, "show it");
    b.shot("editor").await;
    b.submit("#save").await;
    assert!(b.path().await.starts_with("/packages/"), "saved: {}", b.path().await);
    let files = b.text("main").await;
    assert!(files.contains("note.txt") && files.contains(&crate::harness::sha256(NOTE.as_bytes())), "{files}");
    b.shot("package-edited").await;
    let pkg: Value = server.get("/packages/edited").await;
    assert_eq!(pkg["steps"].as_array().unwrap().len(), 2, "{pkg}");
    let audit = server.engine.audit_page(0, 50).await.unwrap().1;
    assert!(audit.iter().any(|e| e.action.as_str() == "package_save"), "saving is audited");

    // Deploy Now from the package page, and see success live
    b.click("a.button[href^='/assets?package=']").await;
    b.c.wait().for_element(Locator::Css(&format!("#tick-{host_id}"))).await.unwrap();
    b.click(&format!("#tick-{host_id}")).await;
    b.submit("#deploy-package").await;
    b.submit("#confirm").await;
    assert!(b.path().await.starts_with("/deployments/"));
    eventually("the target to turn success on the page", WAIT, async || {
        let v =
            b.c.execute(
                "return Array.from(document.querySelectorAll('#targets [data-state]')).map(e => e.textContent)",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        done_if(v == json!(["success"]), v.to_string()).map_err(|s| s.to_string())
    })
    .await;
    eventually("Cancel to leave once every target ended", Duration::from_secs(10), async || {
        let actions = b.text("#actions").await;
        done_if(!actions.contains("Cancel"), actions)
    })
    .await;
    assert_eq!(fleet.exec(&fleet.hosts[0], "cat /tmp/edited-note.txt").1, NOTE);
    b.shot("deployment-edited").await;

    // duplicate under a new name
    let id = pkg["id"].as_i64().unwrap();
    b.c.goto(&format!("{base}/packages/{id}/duplicate")).await.unwrap();
    assert_eq!(b.value("#name").await, "edited copy");
    b.submit("#save").await;
    // (the save's answer is a redirect the browser follows: the copy exists once it is done)
    let copy = eventually("the copy to be saved", Duration::from_secs(20), async || {
        let (status, v) = server.call(reqwest::Method::GET, "/packages/edited copy", None).await;
        done_if(status == 200, v)
    })
    .await;
    assert_eq!(copy["files"][0]["path"], "note.txt", "{copy}");

    // a schedule: a refused preview keeps the typed start, then the next 10 runs
    b.c.goto(&format!("{base}/schedules")).await.unwrap();
    b.submit("#new-schedule").await;
    b.set("#kind", "weekly").await;
    b.set("#start", "2030-01-07T22:00").await;
    b.set("#time_zone", "Europe/Amsterdam").await;
    b.submit("#preview").await;
    assert!(b.text("#name + .error").await.contains("name: must not be empty"));
    assert_eq!(b.value("#start").await, "2030-01-07T22:00");
    assert_eq!(b.value("#time_zone").await, "Europe/Amsterdam");
    b.fill("#name", "monday nights").await;
    b.submit("#preview").await;
    let rows = b.c.find_all(Locator::Css("#preview-runs tbody tr")).await.unwrap().len();
    assert_eq!(rows, 10);
    let first = b.text("#preview-runs tbody tr td:nth-child(2)").await;
    assert!(first.starts_with("2030-01-07 22:00 CET"), "{first}");
    b.shot("schedule-preview").await;
    b.submit("#save").await;
    assert_eq!(b.path().await, "/schedules");
    assert!(b.text("#schedules").await.contains("monday nights"));

    // a configuration from the asset list's ticks
    b.c.goto(&format!("{base}/assets")).await.unwrap();
    b.click(&format!("#tick-{host_id}")).await;
    b.submit("#new-config").await;
    assert_eq!(b.text("#target-count").await, "1");
    b.fill("#config_name", "weekly edited").await;
    b.set("#schedule", "monday nights").await;
    b.set("#package", "edited").await;
    b.submit("#save-config").await;
    assert!(b.path().await.starts_with("/configs/"), "{}", b.path().await);
    assert!(b.text("#next-run").await.contains("2030-01-07 22:00"), "{}", b.text("main").await);
    // its run (the scheduler's clock moved to the fire time) links to the deployment
    let config_id = b.path().await.trim_start_matches("/configs/").to_string();
    let fire = server.get(&format!("/configs/{config_id}")).await["next_fire_ms"].as_i64().unwrap();
    let fired = server.engine.tick(fire).await.unwrap();
    assert_eq!(fired.started.len(), 1, "{fired:?}");
    b.c.refresh().await.unwrap();
    let link = b.c.find(Locator::Css("#runs a[href^='/deployments/']")).await.unwrap();
    assert_eq!(link.attr("href").await.unwrap().unwrap(), format!("/deployments/{}", fired.started[0].0));
    b.shot("config").await;
    server.wait(fired.started[0].0, WAIT).await;
    b.submit("#disable").await;
    assert!(b.text("#next-run").await.contains("Disabled"));
    b.submit("#enable").await;
    b.c.goto(&format!("{base}/")).await.unwrap();
    assert!(b.text("#next-runs").await.contains("weekly edited"));
    b.shot("dashboard-next-runs").await;

    // the schedule cannot go while the configuration uses it, and the page says why
    b.c.goto(&format!("{base}/schedules")).await.unwrap();
    b.c.execute("window.confirm = () => true; return 1", vec![]).await.unwrap();
    b.submit("#schedules button.danger").await;
    assert!(b.text("#schedule-error").await.contains("weekly edited"));
    b.shot("schedules").await;

    // a viewer cannot open the editor
    b.click("header form button").await;
    b.c.wait().for_element(Locator::Css("#login")).await.unwrap();
    b.login(&base, "vera", "viewer-password").await;
    b.c.goto(&format!("{base}/packages/new")).await.unwrap();
    let refused = b.text("main").await;
    assert!(refused.contains("needs the role operator"), "{refused}");
    b.shot("viewer-editor-refused").await;
}
