//! A real headless Chromium, driven through chromedriver (WebDriver) by `fantoccini`, against the
//! test app served on a real socket. Without `chromium` and `chromedriver` on the machine the
//! browser tests print `SKIPPED browser run` and pass, as the PostgreSQL half does without a
//! database; `.ci/run` installs both and sets `FIELDPROOF_REQUIRE_BROWSER`, which makes a missing
//! browser a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::{App, HttpServer, dev::ServerHandle};
use fantoccini::{Client, ClientBuilder, Locator};

use super::TestApp;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// axe-core 4.14.1 (MPL-2.0, `browser/axe.LICENSE`), injected into pages to check accessibility.
const AXE: &str = include_str!("../browser/axe.min.js");

#[macro_export]
macro_rules! open_browser {
    ($app:expr, $name:expr) => {
        match common::browser::Browser::open(&$app, $name).await {
            Some(browser) => browser,
            None => return,
        }
    };
}

pub struct Browser {
    pub client: Client,
    base: String,
    name: String,
    shots: usize,
    driver: Child,
    server: ServerHandle,
    profile: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

impl Browser {
    /// Serves `app` on a real socket and opens a headless Chromium on it; `None` (after printing
    /// `SKIPPED browser run`) when the machine has no Chromium.
    pub async fn open(app: &TestApp, name: &str) -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            assert!(std::env::var_os("FIELDPROOF_REQUIRE_BROWSER").is_none(), "no chromium or chromedriver for {name}");
            eprintln!("SKIPPED browser run: install chromium and chromium-driver to run {name}");
            return None;
        }
        let state = app.state.clone();
        let server = HttpServer::new(move || {
            App::new().wrap(fieldproof::security_headers()).configure(fieldproof::configure(state.clone()))
        })
        .workers(2)
        .bind(("127.0.0.1", 0))
        .expect("bind the console server");
        let base = format!("http://127.0.0.1:{}", server.addrs()[0].port());
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);

        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(format!("fieldproof-chromium-{}", uuid::Uuid::new_v4()));
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1280,1000", format!("--user-data-dir={}", profile.display())]
            }
        });
        let capabilities = capabilities.as_object().expect("capabilities").clone();
        let mut client = None;
        for _ in 0..100 {
            match ClientBuilder::rustls()
                .expect("TLS set-up")
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(connected) => {
                    client = Some(connected);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let client = client.expect("chromedriver accepts a session");
        Some(Browser { client, base, name: name.to_owned(), shots: 0, driver, server: handle, profile })
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.expect("url").path().to_owned()
    }

    pub async fn sign_in(&self, username: &str) {
        self.goto("/console/login").await;
        self.fill("#username", username).await;
        self.fill("#password", super::PASSWORD).await;
        self.submit("main.login button[type=submit]").await;
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no `{css}` on {}: {e}", self.path().await),
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.find(css).await.select_by_value(value).await.unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks something that loads a new page (a link, a form's button) and waits for that page.
    pub async fn submit(&self, css: &str) {
        self.client.execute("window.fieldproofOldPage = true;", vec![]).await.expect("mark the page");
        self.click(css).await;
        for _ in 0..100 {
            let loaded = self
                .client
                .execute("return window.fieldproofOldPage !== true && document.readyState === 'complete';", vec![])
                .await;
            if loaded.is_ok_and(|v| v == serde_json::Value::Bool(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("clicking {css} loaded no new page");
    }

    /// The message the last action left on the page (`done` or `failed`).
    pub async fn flash(&self) -> String {
        self.text(".flash").await
    }

    /// Saves a screenshot under `target/console-screenshots/` for review.
    pub async fn screenshot(&mut self, step: &str) {
        self.shots += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{}-{:02}-{step}.png", self.name, self.shots)), png).expect("write screenshot");
    }

    /// axe-core's serious and critical violations on the current page.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        self.client.execute(AXE, vec![]).await.expect("inject axe-core");
        let script = r"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] })
              .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
              .catch(e => done(['axe failed: ' + e]));";
        let found = self.client.execute_async(script, vec![]).await.expect("run axe-core");
        serde_json::from_value(found).expect("violations list")
    }

    /// Asserts axe-core finds no serious or critical violation, and saves a screenshot.
    pub async fn check_page(&mut self, step: &str) {
        self.screenshot(step).await;
        let violations = self.accessibility_violations().await;
        assert!(violations.is_empty(), "accessibility violations on {}: {violations:#?}", self.path().await);
    }

    /// Whether the page fits a window `width` pixels wide without scrolling sideways.
    pub async fn fits_width(&self, width: u32) -> bool {
        self.client.set_window_size(width, 1000).await.expect("resize");
        let fits = self
            .client
            .execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![])
            .await
            .expect("measure");
        self.client.set_window_size(1280, 1000).await.expect("resize back");
        fits == serde_json::Value::Bool(true)
    }

    pub async fn close(self) {
        let Browser { client, .. } = &self;
        let _ = client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // why: a browser whose driver was killed (a failed test) must not outlive the test.
        let _ = Command::new("pkill").arg("-f").arg(self.profile.display().to_string()).status();
        let _ = std::fs::remove_dir_all(&self.profile);
        let server = self.server.clone();
        actix_web::rt::spawn(async move { server.stop(false).await });
    }
}
