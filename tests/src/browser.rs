//! A real Chromium for the console's tests, driven over WebDriver: one
//! `chromedriver` started on a free port per browser, headless Chromium with a
//! throwaway profile. Controls are found the way assistive technology finds
//! them, by label text, button and link text, and ARIA roles; never by CSS
//! classes. On drop, the browser and the driver are stopped.

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session and the driver behind it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// An XPath string literal for `text` (which may hold quotes).
pub fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// `POST /session/{id}/se/log`: chromedriver's browser console log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium at `width`×`height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
            "Chromium is missing: apt-get install chromium chromium-driver (scripts/test does)"
        );
        let port = crate::services::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let caps = caps.as_object().cloned().expect("an object");
        let url = format!("http://127.0.0.1:{port}");
        let client =
            crate::eventually(Duration::from_secs(30), "chromedriver and Chromium", || {
                let (caps, url) = (caps.clone(), url.clone());
                async move {
                    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                    ClientBuilder::new(connector)
                        .capabilities(caps)
                        .connect(&url)
                        .await
                        .ok()
                }
            })
            .await;
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Sets the window to `width`×`height` (a phone's width, say).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("window size");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Waits (10 s at most) for the first element at `xpath`.
    pub async fn wait(&self, xpath: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("no element at {xpath}: {e}"))
    }

    /// Whether an element at `xpath` is there now.
    pub async fn has(&self, xpath: &str) -> bool {
        !self
            .client
            .find_all(Locator::XPath(xpath))
            .await
            .unwrap_or_default()
            .is_empty()
    }

    /// The form control labelled `label` (a `<label for>` naming it).
    pub async fn field(&self, label: &str) -> Element {
        let l = xpath_literal(label);
        self.wait(&format!("//*[@id=//label[normalize-space(.)={l}]/@for]"))
            .await
    }

    /// The button whose text is `name`.
    pub async fn button(&self, name: &str) -> Element {
        self.wait(&format!(
            "//button[normalize-space(.)={}]",
            xpath_literal(name)
        ))
        .await
    }

    /// The link whose text is `name`.
    pub async fn link(&self, name: &str) -> Element {
        self.wait(&format!("//a[normalize-space(.)={}]", xpath_literal(name)))
            .await
    }

    /// Types `text` into the field labelled `label`, replacing what it held.
    pub async fn fill(&self, label: &str, text: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Waits (20 s at most) until the element at `xpath` says `wanted`.
    pub async fn wait_text(&self, xpath: &str, wanted: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(el) = self.client.find(Locator::XPath(xpath)).await
                && let Ok(text) = el.text().await
            {
                if text.contains(wanted) {
                    return text;
                }
                if std::time::Instant::now() > deadline {
                    panic!("{xpath} says {text:?}, not {wanted:?}");
                }
            }
            if std::time::Instant::now() > deadline {
                panic!("no {xpath} saying {wanted:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The browser console's entries since the last call.
    pub async fn console_log(&self) -> Vec<Value> {
        match self.client.issue_cmd(BrowserLog).await {
            Ok(Value::Array(entries)) => entries,
            Ok(other) => panic!("browser log: {other}"),
            Err(e) => panic!("browser log: {e}"),
        }
    }

    /// Saves a screenshot as `path` (best effort: for failures).
    pub async fn screenshot(&self, path: &Path) -> Result<PathBuf, CmdError> {
        let png = self.client.screenshot().await?;
        std::fs::write(path, png).map_err(|e| CmdError::NotJson(e.to_string()))?;
        Ok(path.to_owned())
    }
}

impl Browser {
    /// Ends the browser session (Chromium exits), then the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's end takes the browser with it.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
