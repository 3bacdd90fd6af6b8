//! Local stand-ins for what pages go to: the PagerDuty Events API v2 (`POST /v2/enqueue`,
//! answering 202 as PagerDuty does) and a webhook receiver (`POST /page`), each able to
//! answer slowly or with scripted failures, recording every request with its headers; and a
//! real SMTP server (aiosmtpd) that logs each message it accepts as a JSON line.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Per path: answers to give before answering normally: (status, Retry-After seconds).
    script: BTreeMap<String, VecDeque<(u16, Option<u64>)>>,
    /// Per path: an answer given to every request (a receiver that is down).
    always: BTreeMap<String, u16>,
    /// Per path: how long to wait before answering.
    delay: BTreeMap<String, Duration>,
}

#[derive(Clone)]
pub struct PagerStandIn {
    /// `http://127.0.0.1:PORT`: PagerDuty's `api_base_url`; the webhook is `{root}/page`.
    pub root: String,
    state: Arc<Mutex<State>>,
}

impl PagerStandIn {
    pub fn start() -> PagerStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the pager stand-in");
        let root = format!("http://{}", listener.local_addr().expect("addr"));
        let stand_in = PagerStandIn {
            root,
            state: Arc::default(),
        };
        let state = stand_in.state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        stand_in
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next requests to `path` are answered with these (status, Retry-After) first.
    pub fn script(&self, path: &str, answers: &[(u16, Option<u64>)]) {
        self.lock()
            .script
            .entry(path.to_owned())
            .or_default()
            .extend(answers.iter().copied());
    }

    /// Every request to `path` is answered `status` (None: normally again).
    pub fn always(&self, path: &str, status: Option<u16>) {
        match status {
            Some(s) => self.lock().always.insert(path.to_owned(), s),
            None => self.lock().always.remove(path),
        };
    }

    /// Answer requests to `path` only after `delay`.
    pub fn delay(&self, path: &str, delay: Duration) {
        self.lock().delay.insert(path.to_owned(), delay);
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.lock()
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Requests to `path` answered 2xx.
    pub fn accepted(&self, path: &str) -> Vec<Received> {
        self.received(path)
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.lock().received.len()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(crate::http1::Request {
        path,
        headers,
        body,
        ..
    }) = crate::http1::read_request(&mut reader)
    {
        let (status, retry_after, delay) = {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            let scripted = s.script.get_mut(&path).and_then(VecDeque::pop_front);
            let normal = if path.starts_with("/v2/") { 202 } else { 200 };
            let (status, retry_after) = match (scripted, s.always.get(&path)) {
                (Some(answer), _) => answer,
                (None, Some(code)) => (*code, None),
                (None, None) => (normal, None),
            };
            let delay = s.delay.get(&path).copied();
            s.received.push(Received {
                path: path.clone(),
                headers,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                at: Instant::now(),
                status,
            });
            (status, retry_after, delay)
        };
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        let text = if status == 202 {
            r#"{"status":"success","message":"Event processed"}"#
        } else {
            "{}"
        };
        let retry = retry_after
            .map(|s| format!("Retry-After: {s}\r\n"))
            .unwrap_or_default();
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{retry}Content-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// The example plan's `[paging]` pointed at local stand-ins: PagerDuty's Events API and the
/// webhook (`/page`) at `root`, e-mail at the SMTP server on `smtp_port` without a login.
pub fn paging_changes(root: &str, smtp_port: u16) -> Vec<(&'static str, String)> {
    vec![
        (
            "routing_key = { env = \"PAGERDUTY_ROUTING_KEY\" }",
            format!(
                "routing_key = {{ env = \"PAGERDUTY_ROUTING_KEY\" }}\napi_base_url = \"{root}\""
            ),
        ),
        (
            "url = \"https://hooks.northwind.example/warroom/page\"\ntoken = { file = \"/run/secrets/page-webhook-token\" }",
            format!("url = \"{root}/page\""),
        ),
        (
            "smtp_host = \"smtp.northwind.example\"",
            "smtp_host = \"127.0.0.1\"".to_owned(),
        ),
        ("smtp_port = 587", format!("smtp_port = {smtp_port}")),
        (
            "username = \"warroom\"\npassword = { file = \"/run/secrets/smtp-password\" }\n",
            String::new(),
        ),
    ]
}

/// A real SMTP server (aiosmtpd) on loopback that appends each accepted message to a JSON
/// lines file: `to`, `message_id`, `in_reply_to`, `subject`, `body`.
pub struct SmtpSink {
    pub port: u16,
    log: PathBuf,
    child: Child,
}

impl SmtpSink {
    /// Start it; with `delay`, each message is logged and then answered only after `delay`
    /// (so a sender killed meanwhile never hears it was taken).
    pub fn start(dir: &Path, delay: Duration) -> SmtpSink {
        let port = crate::free_port();
        let log = dir.join(format!("smtp-{port}.jsonl"));
        let script = crate::repo_root().join("tests/src/smtp_sink.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&log)
            .arg(delay.as_secs_f64().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (python3-aiosmtpd) must be installed: scripts/test.sh installs it");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut ready)
            .expect("the SMTP sink says when it is ready");
        assert!(
            ready.starts_with("ready"),
            "SMTP sink did not start: {ready}"
        );
        SmtpSink { port, log, child }
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keys each channel received (accepted or not): PagerDuty triggers' `dedup_key`, webhook
/// `Idempotency-Key`s, e-mail `Message-ID`s.
pub fn received_keys(pd: &PagerStandIn, smtp: &SmtpSink) -> BTreeMap<&'static str, Vec<String>> {
    let mut keys = BTreeMap::new();
    keys.insert(
        "pagerduty",
        pd.received("/v2/enqueue")
            .iter()
            .filter(|r| r.body["event_action"] == "trigger")
            .map(|r| r.body["dedup_key"].as_str().unwrap_or_default().to_owned())
            .collect(),
    );
    keys.insert(
        "webhook",
        pd.received("/page")
            .iter()
            .filter(|r| r.body["event"] == "page")
            .map(|r| {
                r.headers
                    .get("idempotency-key")
                    .cloned()
                    .unwrap_or_default()
            })
            .collect(),
    );
    keys.insert(
        "email",
        smtp.messages()
            .iter()
            .filter(|m| m["in_reply_to"].is_null())
            .map(|m| m["message_id"].as_str().unwrap_or_default().to_owned())
            .collect(),
    );
    keys
}
