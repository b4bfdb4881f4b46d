//! The web console in a real browser: Debian's Chromium driven through chromedriver
//! (WebDriver, `fantoccini`) against the real server and real test hosts. Saves
//! screenshots of the main pages to `target/console-screenshots/`.

use crate::deploy::{CONF, hello_package};
use crate::harness::{Backend, Server, eventually};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const FAILING: &str = r#"
name = "broken"
version = "1.0"
max_duration_secs = 60

[[steps]]
name = "fail loudly"
type = "command"
command = "echo broken-step-output-XYZ; exit 3"
"#;

pub(crate) const WAIT: Duration = Duration::from_secs(120);

/// A headless Chromium session; the driver process ends with it. A test that uses one is
/// named `…in_a_browser`: `scripts/test` runs those alone, after the others, whose test
/// hosts change this machine's addresses (Chromium then aborts loads: ERR_NETWORK_CHANGED).
pub(crate) struct Browser {
    pub c: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

impl Browser {
    pub async fn start() -> Browser {
        // the driver is reached over plain HTTP, but the TLS connector wants a provider
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (apt-get install chromium chromium-driver; scripts/test installs them)");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--ignore-certificate-errors", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1366,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }});
        let caps = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let c = eventually("chromedriver to start a session", Duration::from_secs(30), async || {
            ClientBuilder::rustls().unwrap().capabilities(caps.clone()).connect(&url).await.map_err(|e| e.to_string())
        })
        .await;
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser { c, driver, _profile: profile, shots }
    }

    pub async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// The text of the element at `css`. Found again when live updates (SSE) swap it
    /// out between finding and reading it (a stale element).
    pub async fn text(&self, css: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            match self.c.find(Locator::Css(css)).await {
                Ok(e) => match e.text().await {
                    Ok(t) => return t,
                    Err(err) => last = err.to_string(),
                },
                Err(err) => last = err.to_string(),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no text at {css} after 10 s: {last}\n({})", self.where_am_i().await)
    }

    /// The page's address and the start of its text, for a failure message.
    pub async fn where_am_i(&self) -> String {
        let url = self.c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let page = self.c.execute("return document.body ? document.body.innerText : ''", vec![]).await;
        let page: String =
            page.ok().and_then(|v| v.as_str().map(|t| t.chars().take(600).collect())).unwrap_or_default();
        format!("the page is {url}:\n{page}")
    }

    /// Clicks the element once it is there (a page may fill itself after loading); found
    /// again when a live update (server-sent events) replaced it between finding and
    /// clicking.
    pub async fn click(&self, css: &str) {
        for _ in 0..10 {
            let e = self
                .c
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css}: {e}"));
            match e.click().await {
                Err(fantoccini::error::CmdError::Standard(w))
                    if w.error == fantoccini::error::ErrorStatus::StaleElementReference =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                r => return r.unwrap(),
            }
        }
        panic!("{css} went stale ten times in a row");
    }

    pub async fn login(&self, base: &str, name: &str, password: &str) {
        // A page without session goes to /login. A first navigation of a fresh browser
        // once ended elsewhere on a loaded CI machine (cause not known): it is tried
        // again, and what was seen is printed.
        let mut seen = Vec::new();
        for _ in 0..3 {
            let went = self.c.goto(&format!("{base}/assets")).await;
            if went.is_ok() && self.c.current_url().await.is_ok_and(|u| u.path().starts_with("/login")) {
                break;
            }
            seen.push(format!("{went:?}, {}", self.where_am_i().await));
            eprintln!("going to /assets without a session did not show the login page: {}", seen.last().unwrap());
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert!(seen.len() < 3, "a page without session goes to /login, but: {seen:#?}");
        self.c.find(Locator::Css("#name")).await.unwrap().send_keys(name).await.unwrap();
        self.c.find(Locator::Css("#password")).await.unwrap().send_keys(password).await.unwrap();
        self.click("#login").await;
        eventually("the asset list after logging in", Duration::from_secs(10), async || {
            let path = self.c.current_url().await.map(|u| u.path().to_string()).unwrap_or_default();
            crate::harness::done_if(path == "/assets", path)
        })
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The longest common prefix of the names (the fleet's hosts share one).
fn common_prefix(names: &[String]) -> String {
    let first = &names[0];
    let n =
        (0..first.len()).take_while(|&i| names.iter().all(|s| s.as_bytes().get(i) == first.as_bytes().get(i))).count();
    first[..n].to_string()
}

/// A client of the console as a browser would be, without following redirects; like the
/// test browser, it takes the test server's self-signed certificate.
pub(crate) fn form_client() -> reqwest::Client {
    let builder = reqwest::Client::builder().danger_accept_invalid_certs(true);
    builder.redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub(crate) async fn console_cookie(base: &str, name: &str, password: &str) -> String {
    let resp = form_client()
        .post(format!("{base}/login"))
        .form(&[("name", name), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "console login of {name}");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    // the test servers serve HTTPS: the cookie is for HTTPS only
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(cookie.contains(flag), "session cookie lacks {flag}: {cookie}");
    }
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_watch_and_administer_in_a_browser() {
    let (fleet, server, names) = Server::with_root_fleet(Backend::Sqlite, 3).await;
    let base = server.url.clone();
    let (status, hello) = server.import(&hello_package(""), &[("conf/hello.conf", CONF)]).await;
    assert_eq!(status, 200, "{hello}");
    let (status, _) = server.import(FAILING, &[]).await;
    assert_eq!(status, 200);
    let hostile = "<script>alert(1)</script>";
    server.post("/assets", json!({"name": hostile, "address": fleet.unused_ip()})).await;
    server.post("/users", json!({"name": "vera", "password": "viewer-password", "role": "viewer"})).await;
    let assets: Vec<Value> = server.get("/assets").await.as_array().unwrap().clone();
    let id_of = |n: &str| assets.iter().find(|a| a["name"] == n).unwrap()["id"].as_i64().unwrap();

    let b = Browser::start().await;
    b.login(&base, "admin", "admin-password").await;
    b.shot("assets").await;

    // search a column, tick the three hosts, Deploy Package, confirm
    let prefix = common_prefix(&names);
    b.c.find(Locator::Css("#q-name")).await.unwrap().send_keys(&prefix).await.unwrap();
    b.click("#search").await;
    eventually("the name search to show the 3 hosts only", Duration::from_secs(10), async || {
        let shown = b.c.find_all(Locator::Css("#asset-table tbody input[name=a]")).await.map(|v| v.len()).unwrap_or(0);
        crate::harness::done_if(shown == 3 && b.c.current_url().await.unwrap().query().is_some(), shown)
    })
    .await;
    for n in &names {
        b.click(&format!("#tick-{}", id_of(n))).await;
    }
    b.click("#deploy-package").await;
    b.c.wait().for_element(Locator::Css("#target-count")).await.unwrap();
    assert_eq!(b.text("#target-count").await, "3");
    b.click(&format!("#package option[value='{}']", hello["id"])).await;
    b.shot("deploy-dialog").await;
    b.click("#confirm").await;
    eventually("the deployment page", Duration::from_secs(10), async || {
        let path = b.c.current_url().await.map(|u| u.path().to_string()).unwrap_or_default();
        crate::harness::done_if(path.starts_with("/deployments/"), path)
    })
    .await;
    let page = b.c.current_url().await.unwrap();
    b.c.execute("window.droverMarker = 'set before'; return 1", vec![]).await.unwrap();
    let states = eventually("3 targets to turn success on the page", WAIT, async || {
        let v =
            b.c.execute(
                "return Array.from(document.querySelectorAll('#targets [data-state]')).map(e => e.textContent)",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        let states: Vec<String> = serde_json::from_value(v).map_err(|e| e.to_string())?;
        crate::harness::done_if(states.len() == 3 && states.iter().all(|s| s == "success"), format!("{states:?}"))
            .map_err(|s| s.to_string())
    })
    .await;
    assert_eq!(states, "[\"success\", \"success\", \"success\"]");
    let marker =
        b.c.execute("return [window.droverMarker, performance.getEntriesByType('navigation').length]", vec![])
            .await
            .unwrap();
    assert_eq!(marker, json!(["set before", 1]), "the page updated without reloading");
    assert_eq!(b.c.current_url().await.unwrap(), page);
    assert!(b.text("#summary").await.contains("3 success"));
    b.shot("deployment-live").await;

    // a failing package: open the failed target and read its step output
    let done = server.deploy_and_wait(json!({"package": "broken", "assets": [names[0].clone()]}), WAIT).await;
    let d = done["deployment"]["id"].as_i64().unwrap();
    let t = done["targets"][0]["id"].as_i64().unwrap();
    b.c.goto(&format!("{base}/deployments/{d}")).await.unwrap();
    b.click(&format!("#t-{t} a")).await;
    b.c.wait().for_element(Locator::Css("pre.output")).await.unwrap();
    let output = b.text("pre.output").await;
    assert!(output.contains("broken-step-output-XYZ"), "{output}");
    assert!(b.text("#step-1 h3").await.contains("exit code 3"));
    b.shot("failed-target").await;

    // deployment threads in Settings, as the API sees them
    b.c.goto(&format!("{base}/settings")).await.unwrap();
    let threads = b.c.find(Locator::Css("#threads")).await.unwrap();
    threads.clear().await.unwrap();
    threads.send_keys("7").await.unwrap();
    b.click("#save-threads").await;
    b.c.wait().for_element(Locator::Css("#done")).await.unwrap();
    assert!(b.text("#done").await.contains("set to 7"));
    assert_eq!(server.get("/threads").await["threads"], 7);
    b.shot("settings").await;

    // a hostile asset name is text
    b.c.goto(&format!("{base}/assets?name=script")).await.unwrap();
    assert_eq!(b.text("#asset-table tbody td a").await, hostile);
    assert!(b.c.source().await.unwrap().contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // the dashboard, the audit log, an unknown page
    b.c.goto(&format!("{base}/")).await.unwrap();
    b.shot("dashboard").await;
    b.c.goto(&format!("{base}/audit")).await.unwrap();
    let audit = b.text("#audit").await;
    assert!(audit.contains("deploy") && audit.contains("threads_change") && audit.contains("login"), "{audit}");
    b.shot("audit").await;
    b.c.goto(&format!("{base}/deployments/99999")).await.unwrap();
    assert!(b.text("main").await.contains("not found"), "unknown ids answer a 404 page");
    b.c.goto(&format!("{base}/packages/{}", hello["id"])).await.unwrap();
    b.shot("package").await;

    // a viewer sees assets but is refused the deploy dialog
    b.click("header form button").await;
    b.c.wait().for_element(Locator::Css("#login")).await.unwrap();
    b.login(&base, "vera", "viewer-password").await;
    assert!(b.c.find(Locator::Css("#deploy-package")).await.is_err(), "no Deploy button for a viewer");
    b.c.goto(&format!("{base}/deploy?a={}", id_of(&names[0]))).await.unwrap();
    let refused = b.text("main").await;
    assert!(refused.contains("needs the role operator"), "{refused}");
    b.shot("viewer-refused").await;

    // a form without its CSRF token, or with another session's, is refused
    let cookie = console_cookie(&base, "admin", "admin-password").await;
    let other = console_cookie(&base, "admin", "admin-password").await;
    let http = form_client();
    let resp = http
        .post(format!("{base}/settings/threads"))
        .header("cookie", &cookie)
        .form(&[("threads", "3")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("CSRF"));
    let page =
        http.get(format!("{base}/settings")).header("cookie", &other).send().await.unwrap().text().await.unwrap();
    let token = page.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let resp = http
        .post(format!("{base}/settings/threads"))
        .header("cookie", &cookie)
        .form(&[("threads", "3"), ("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "another session's token is refused");
    assert_eq!(server.get("/threads").await["threads"], 7, "nothing changed");
    let resp = http
        .post(format!("{base}/settings/threads"))
        .header("cookie", &other)
        .form(&[("threads", "3"), ("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "its own token is accepted");
    assert_eq!(server.get("/threads").await["threads"], 3);
}

#[tokio::test]
async fn logins_are_throttled_and_pages_need_a_session() {
    let server = Server::start(Backend::Sqlite).await;
    let base = server.url.clone();
    let http = form_client();
    let resp = http.get(format!("{base}/deployments")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=%2Fdeployments");
    for _ in 0..5 {
        let resp =
            http.post(format!("{base}/login")).form(&[("name", "admin"), ("password", "wrong")]).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.text().await.unwrap().contains("wrong user name or password"));
    }
    // now even the right password waits, and the page says so
    let resp = http
        .post(format!("{base}/login"))
        .form(&[("name", "admin"), ("password", "admin-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.text().await.unwrap().contains("too many failed logins"));
    // one throttle and one audit log with the API: the harness's own API login, the five
    // failures, and the lockout as it began (the refused sixth attempt is not an entry)
    let (total, log) = server.engine.audit_page(0, 50).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["login_locked", "login_failed", "login_failed", "login_failed", "login_failed", "login_failed", "login"]
    );
    assert_eq!(total, 7);
    assert!(log[0].detail.starts_with("console, from 127.0.0.1:"), "{}", log[0].detail);
    assert!(log[0].detail.contains("user 'admin'") && log[0].detail.contains("address 127.0.0.1"), "{}", log[0].detail);
    assert!(log[6].detail.starts_with("api"), "{}", log[6].detail);
    // the API's login counts against the same lockout
    let resp = http
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"name": "admin", "password": "admin-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    // the API answers JSON 404s, the console a page
    let resp = http.get(format!("{base}/api/v1/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "not_found");
    let resp = http.get(format!("{base}/static/htmx.min.js")).send().await.unwrap();
    assert!(resp.headers()["cache-control"].to_str().unwrap().contains("immutable"));
}
