//! A minimal W3C WebDriver client: chromedriver drives a headless Chromium, so browser
//! scenarios can use the web console the way a person does.
//!
//! Needs `chromedriver` (on PATH, or `WARROOM_CHROMEDRIVER`) and Chromium at `/usr/bin/chromium`
//! (or `WARROOM_CHROMIUM`); `scripts/test.sh` installs both.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key under which WebDriver answers name an element.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const POLL: Duration = Duration::from_millis(50);

/// A failed WebDriver command: which command, and what the driver said.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    pub command: String,
    /// The W3C error code, e.g. `no such element` or `stale element reference`.
    pub error: String,
    pub message: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WebDriver {} failed: {}: {}",
            self.command, self.error, self.message
        )
    }
}

impl std::error::Error for WebDriverError {}

/// An element of the current page, as the driver names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(pub String);

/// A headless Chromium session, ended and its driver stopped when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: ureq::Agent,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver on a free loopback port and open a headless Chromium session.
    pub fn start() -> Browser {
        let chromedriver =
            std::env::var("WARROOM_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium =
            std::env::var("WARROOM_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            Path::new(&chromium).exists(),
            "{chromium} is missing: install chromium and chromium-driver (scripts/test.sh does)"
        );
        let profile = tempfile::tempdir().expect("browser profile folder");
        let log = File::create(profile.path().join("chromedriver.log")).expect("driver log");
        let port = crate::free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("driver log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {chromedriver}: {e} (install chromium-driver; scripts/test.sh does)")
            });
        let http = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                // The driver is on loopback: a proxy from the environment must not intercept it.
                .proxy(None)
                .timeout_global(Some(Duration::from_secs(60)))
                .build(),
        );
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http,
            profile,
        };
        browser.wait_for_driver();
        browser.session = browser.new_session(&chromium);
        browser
    }

    fn wait_for_driver(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(status) = self.raw("status", "GET", "/status", None)
                && status["ready"] == json!(true)
            {
                return;
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!("chromedriver exited with {exit}:\n{}", self.driver_log());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready:\n{}",
                self.driver_log()
            );
            std::thread::sleep(POLL);
        }
    }

    fn new_session(&self, chromium: &str) -> String {
        let user_data = format!(
            "--user-data-dir={}",
            self.profile.path().join("chromium").display()
        );
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--no-proxy-server",
            "--window-size=1400,1000",
            user_data.as_str(),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "timeouts": { "implicit": 0, "pageLoad": 30_000, "script": 30_000 }
                }
            }
        });
        let value = self
            .raw("new session", "POST", "/session", Some(capabilities))
            .unwrap_or_else(|e| panic!("{e}\n{}", self.driver_log()));
        value["sessionId"]
            .as_str()
            .expect("new session answers a sessionId")
            .to_string()
    }

    fn driver_log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromedriver.log")).unwrap_or_default()
    }

    /// One WebDriver request; `path` is relative to the driver's root.
    fn raw(
        &self,
        command: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let url = format!("{}{path}", self.base);
        let fail = |error: &str, message: String| WebDriverError {
            command: command.to_string(),
            error: error.to_string(),
            message,
        };
        let sent = match (method, body) {
            ("GET", _) => self.http.get(&url).call(),
            ("DELETE", _) => self.http.delete(&url).call(),
            (_, Some(body)) => self.http.post(&url).send_json(body),
            (_, None) => self.http.post(&url).send_json(json!({})),
        };
        let mut response = sent.map_err(|e| fail("transport", e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| fail("transport", e.to_string()))?;
        let mut answer: Value = serde_json::from_str(&text)
            .map_err(|e| fail("unreadable answer", format!("HTTP {status}: {e}: {text}")))?;
        let value = answer["value"].take();
        if status >= 400 {
            return Err(fail(
                value["error"].as_str().unwrap_or("unknown error"),
                value["message"].as_str().unwrap_or(&text).to_string(),
            ));
        }
        Ok(value)
    }

    /// A command on this session; `path` is relative to `/session/{id}`.
    fn try_cmd(
        &self,
        command: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        self.raw(
            command,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
    }

    fn cmd(&self, command: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(command, method, path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Open `url` and wait for it to load.
    pub fn goto(&self, url: &str) {
        self.cmd("navigate", "POST", "/url", Some(json!({ "url": url })));
    }

    /// Resize the window (`390, 844`: a phone).
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.cmd(
            "set window rect",
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Reload the current page and wait for it to load.
    pub fn refresh(&self) {
        self.cmd("refresh", "POST", "/refresh", None);
    }

    pub fn try_find(&self, css: &str) -> Result<Element, WebDriverError> {
        let found = self.try_cmd(
            &format!("find `{css}`"),
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Ok(element(&found))
    }

    /// The first element matching `css`; panics when there is none.
    pub fn find(&self, css: &str) -> Element {
        self.try_find(css).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every element matching `css`, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.cmd(
            &format!("find all `{css}`"),
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        found
            .as_array()
            .map(|all| all.iter().map(element).collect())
            .unwrap_or_default()
    }

    pub fn click(&self, el: &Element) {
        self.cmd("click", "POST", &format!("/element/{}/click", el.0), None);
    }

    /// Find and click `css`, retrying while the page redraws the element or has not yet made
    /// it clickable.
    pub fn click_css(&self, css: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let tried = self.try_find(css).and_then(|el| {
                self.try_cmd(
                    &format!("click `{css}`"),
                    "POST",
                    &format!("/element/{}/click", el.0),
                    None,
                )
            });
            match tried {
                Ok(_) => return,
                Err(e) if Instant::now() < deadline && retryable(&e) => std::thread::sleep(POLL),
                Err(e) => self.fail(&format!("to click `{css}`"), &e.to_string()),
            }
        }
    }

    /// Type `text` into an element (after what is already there). `\u{E007}` presses Enter.
    pub fn send_keys(&self, el: &Element, text: &str) {
        self.cmd(
            "send keys",
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    pub fn clear(&self, el: &Element) {
        self.cmd("clear", "POST", &format!("/element/{}/clear", el.0), None);
    }

    /// The rendered text of an element (empty when it is hidden).
    pub fn text(&self, el: &Element) -> String {
        let v = self.cmd("get text", "GET", &format!("/element/{}/text", el.0), None);
        v.as_str().unwrap_or_default().to_string()
    }

    pub fn attribute(&self, el: &Element, name: &str) -> Option<String> {
        let v = self.cmd(
            &format!("get attribute `{name}`"),
            "GET",
            &format!("/element/{}/attribute/{name}", el.0),
            None,
        );
        v.as_str().map(str::to_string)
    }

    /// Whether the element is shown to the person (not hidden by the page or its styles).
    pub fn displayed(&self, el: &Element) -> bool {
        let v = self.cmd(
            "is displayed",
            "GET",
            &format!("/element/{}/displayed", el.0),
            None,
        );
        v.as_bool().unwrap_or(false)
    }

    /// The handles of the browser's open windows and tabs, and the one commands go to.
    pub fn windows(&self) -> (Vec<String>, String) {
        let all = self.cmd("get window handles", "GET", "/window/handles", None);
        let current = self.cmd("get window handle", "GET", "/window", None);
        let all = all
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().map(str::to_owned))
            .collect();
        (all, current.as_str().unwrap_or_default().to_owned())
    }

    /// Send the commands that follow to the window or tab `handle`.
    pub fn switch_to(&self, handle: &str) {
        self.cmd(
            "switch to window",
            "POST",
            "/window",
            Some(json!({ "handle": handle })),
        );
    }

    /// Run `script` in the page; `arguments[i]` are `args`. Returns what the script returns.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.cmd(
            "execute script",
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The rendered text of the first element matching `css`, or "" when there is none.
    /// Reads through the page, so a redraw between finding and reading cannot fail it.
    pub fn text_of(&self, css: &str) -> String {
        let v = self.execute(
            "const el = document.querySelector(arguments[0]); return el ? el.innerText : '';",
            &[json!(css)],
        );
        v.as_str().unwrap_or_default().to_string()
    }

    /// Choose the option with `value` in the `<select>` matching `select_css`, as a person
    /// would: the page hears `input` and `change`.
    pub fn select_by_value(&self, select_css: &str, value: &str) {
        let problem = self.execute(
            "const s = document.querySelector(arguments[0]);
             if (!s) return 'no element matches ' + arguments[0];
             if (![...s.options].some((o) => o.value === arguments[1])) {
               return 'no option ' + arguments[1] + ' among ' + [...s.options].map((o) => o.value).join(', ');
             }
             s.value = arguments[1];
             s.dispatchEvent(new Event('input', { bubbles: true }));
             s.dispatchEvent(new Event('change', { bubbles: true }));
             return null;",
            &[json!(select_css), json!(value)],
        );
        if let Some(problem) = problem.as_str() {
            self.fail(&format!("to select `{value}` in `{select_css}`"), problem);
        }
    }

    /// Wait until an element matches `css`, and return it.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(el) = self.try_find(css) {
                return el;
            }
            if Instant::now() > deadline {
                self.fail(&format!("an element matching `{css}`"), "timed out");
            }
            std::thread::sleep(POLL);
        }
    }

    /// Poll `ready` every 50 ms until it holds; `what` names the wait in the failure.
    pub fn wait_until(&self, what: &str, timeout: Duration, ready: impl Fn(&Browser) -> bool) {
        let deadline = Instant::now() + timeout;
        while !ready(self) {
            if Instant::now() > deadline {
                self.fail(what, &format!("timed out after {timeout:?}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The page's console messages at level SEVERE (script errors, refused loads).
    pub fn console_errors(&self) -> Vec<String> {
        let v = self.cmd(
            "get browser log",
            "POST",
            "/se/log",
            Some(json!({ "type": "browser" })),
        );
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == json!("SEVERE"))
            .filter_map(|entry| entry["message"].as_str().map(str::to_string))
            .collect()
    }

    /// Save a PNG of the current viewport.
    pub fn screenshot_png(&self, path: &Path) {
        self.try_screenshot_png(path)
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
    }

    fn try_screenshot_png(&self, path: &Path) -> Result<(), String> {
        let v = self
            .try_cmd("take screenshot", "GET", "/screenshot", None)
            .map_err(|e| e.to_string())?;
        let png = base64_decode(v.as_str().unwrap_or_default()).ok_or("not base64")?;
        std::fs::write(path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Panic with what was awaited, what the page says, and a screenshot to look at.
    pub fn fail(&self, what: &str, why: &str) -> ! {
        let shot = screenshot_path(what);
        let saved = match self.try_screenshot_png(&shot) {
            Ok(()) => shot.display().to_string(),
            Err(e) => format!("not taken: {e}"),
        };
        let reply = self.try_text_of("#reply");
        let body = self.try_text_of("body");
        let body: String = body.chars().take(4000).collect();
        panic!(
            "waiting for {what}: {why}\n--- #reply\n{reply}\n--- page text\n{body}\n--- screenshot: {saved}"
        );
    }

    fn try_text_of(&self, css: &str) -> String {
        self.try_cmd(
            "execute script",
            "POST",
            "/execute/sync",
            Some(json!({
                "script": "const el = document.querySelector(arguments[0]); return el ? el.innerText : '';",
                "args": [css],
            })),
        )
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|e| format!("({e})"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.raw(
                "delete session",
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn element(found: &Value) -> Element {
    Element(
        found[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {found}"))
            .to_string(),
    )
}

/// Errors that a page still drawing itself gives for a moment.
fn retryable(e: &WebDriverError) -> bool {
    matches!(
        e.error.as_str(),
        "no such element"
            | "stale element reference"
            | "element click intercepted"
            | "element not interactable"
    )
}

fn screenshot_path(what: &str) -> PathBuf {
    let slug: String = what
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(60)
        .collect();
    std::env::temp_dir().join(format!("warroom-browser-{}-{slug}.png", std::process::id()))
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert!(base64_decode("a*b").is_none());
    }
}
