//! A real Chromium (and Firefox ESR, where installed) for the console's tests,
//! driven over WebDriver: one driver (`chromedriver` or `geckodriver`) started
//! on a free port per browser, a headless browser with a throwaway profile.
//! Controls are found the way assistive technology finds them, by label text,
//! button and link text, and ARIA roles; never by CSS classes. On drop, the
//! browser and the driver are stopped.

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
/// Debian's `firefox-esr`.
pub const FIREFOX: &str = "/usr/bin/firefox-esr";

/// The browser behind a [`Browser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
}

/// A browser session and the driver behind it.
pub struct Browser {
    pub client: Client,
    pub engine: Engine,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// `geckodriver` (crates.io; `scripts/test` installs it with `cargo install`
/// into `~/.cargo/bin`), else the one on `PATH`.
fn geckodriver() -> Option<PathBuf> {
    let home = std::env::var("HOME").unwrap_or_default();
    let cargo = PathBuf::from(home).join(".cargo/bin/geckodriver");
    if cargo.exists() {
        return Some(cargo);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("geckodriver"))
            .find(|p| p.exists())
    })
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

/// A WebDriver command of the session that fantoccini does not wrap: `method`
/// on `session/{id}/{path}` with a JSON `body`.
#[derive(Debug)]
struct SessionCommand {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// WebDriver's key values (W3C WebDriver, "Keyboard actions").
pub mod key {
    pub const TAB: char = '\u{E004}';
    pub const ENTER: char = '\u{E007}';
    pub const SHIFT: char = '\u{E008}';
    pub const SPACE: char = '\u{E00D}';
    pub const ARROW_UP: char = '\u{E013}';
    pub const ARROW_DOWN: char = '\u{E015}';
}

/// The element that has the focus, as assistive technology sees it.
#[derive(Debug)]
pub struct Focus {
    /// WebDriver's computed accessible name.
    pub name: String,
    /// WebDriver's computed role.
    pub role: String,
    /// It matches `:focus-visible` and draws an outline (style not `none`,
    /// width not 0): a sighted keyboard user sees where it is.
    pub visible: bool,
    /// The computed outline, for failure messages.
    pub outline: String,
}

impl Browser {
    async fn session_command(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let command = SessionCommand {
            method,
            path: path.to_owned(),
            body,
        };
        self.client
            .issue_cmd(command)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    /// Presses each key of `keys` in turn (down, then up) through WebDriver
    /// key actions, as a keyboard would: typing text, or Tab, Enter, arrows.
    pub async fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|k| {
                [
                    json!({"type": "keyDown", "value": k.to_string()}),
                    json!({"type": "keyUp", "value": k.to_string()}),
                ]
            })
            .collect();
        self.key_actions(actions).await;
    }

    /// Shift+Tab: the focus moves back.
    pub async fn shift_tab(&self) {
        let (shift, tab) = (key::SHIFT.to_string(), key::TAB.to_string());
        self.key_actions(vec![
            json!({"type": "keyDown", "value": shift}),
            json!({"type": "keyDown", "value": tab}),
            json!({"type": "keyUp", "value": tab}),
            json!({"type": "keyUp", "value": shift}),
        ])
        .await;
    }

    async fn key_actions(&self, actions: Vec<Value>) {
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.session_command(http::Method::POST, "actions", Some(body))
            .await;
        self.session_command(http::Method::DELETE, "actions", None)
            .await;
    }

    /// The focused element: its accessible name and role as WebDriver
    /// computes them, and whether its focus can be seen.
    pub async fn focus(&self) -> Focus {
        let active = self
            .session_command(http::Method::GET, "element/active", None)
            .await;
        let id = active
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no focused element: {active}"))
            .to_owned();
        let text = |v: Value| v.as_str().unwrap_or_default().to_owned();
        let name = text(
            self.session_command(
                http::Method::GET,
                &format!("element/{id}/computedlabel"),
                None,
            )
            .await,
        );
        let role = text(
            self.session_command(
                http::Method::GET,
                &format!("element/{id}/computedrole"),
                None,
            )
            .await,
        );
        let style = self
            .client
            .execute(
                "const e = document.activeElement; const s = getComputedStyle(e); \
                 return [e.matches(':focus-visible'), s.outlineStyle, s.outlineWidth];",
                vec![],
            )
            .await
            .expect("focus style");
        let (visible, style, width) = (
            style[0].as_bool().unwrap_or(false),
            text(style[1].clone()),
            text(style[2].clone()),
        );
        Focus {
            name,
            role,
            visible: visible && style != "none" && width != "0px",
            outline: format!("{style} {width}"),
        }
    }

    /// Asserts that the focus is on the control named `name`, and visible.
    pub async fn assert_focus(&self, name: &str) -> Focus {
        let focus = self.focus().await;
        assert_eq!(focus.name.trim(), name, "the focus is elsewhere: {focus:?}");
        assert!(
            focus.visible,
            "the focus on {name} cannot be seen: {focus:?}"
        );
        focus
    }

    /// Starts chromedriver and a headless Chromium at `width`×`height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
            "Chromium is missing: apt-get install chromium chromium-driver (scripts/test does)"
        );
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
        Self::launch(Engine::Chromium, Path::new(CHROMEDRIVER), caps, profile).await
    }

    /// Starts geckodriver and a headless Firefox ESR at `width`×`height`, or
    /// None when either is not installed (`scripts/test` installs both).
    pub async fn start_firefox(width: u32, height: u32) -> Option<Browser> {
        let driver = geckodriver().filter(|_| Path::new(FIREFOX).exists())?;
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": FIREFOX,
                "args": ["-headless", "-profile", profile.path().display().to_string()],
            },
        });
        let browser = Self::launch(Engine::Firefox, &driver, caps, profile).await;
        browser.resize(width, height).await;
        Some(browser)
    }

    async fn launch(
        engine: Engine,
        driver: &Path,
        caps: Value,
        profile: tempfile::TempDir,
    ) -> Browser {
        let port = crate::services::free_port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
        let caps = caps.as_object().cloned().expect("an object");
        let url = format!("http://127.0.0.1:{port}");
        let client = crate::eventually(
            Duration::from_secs(30),
            "the WebDriver and its browser",
            || {
                let (caps, url) = (caps.clone(), url.clone());
                async move {
                    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                    ClientBuilder::new(connector)
                        .capabilities(caps)
                        .connect(&url)
                        .await
                        .ok()
                }
            },
        )
        .await;
        Browser {
            client,
            engine,
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

    /// The browser console's entries since the last call; None in Firefox,
    /// whose driver has no such command (only WebDriver BiDi's `log` events).
    pub async fn console_log(&self) -> Option<Vec<Value>> {
        if self.engine == Engine::Firefox {
            return None;
        }
        match self.client.issue_cmd(BrowserLog).await {
            Ok(Value::Array(entries)) => Some(entries),
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
        // Chromium ends with its driver; Firefox ends with its session
        // (`close`), which the tests always call.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
