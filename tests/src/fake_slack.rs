//! A local stand-in for the Slack Web API: answers as Slack does for the methods warroom
//! calls, and records every call (method and JSON or form body) for the test to inspect.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct FakeSlack {
    pub base: String,
    calls: Arc<Mutex<Vec<(String, String)>>>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Messages people wrote, as `conversations.history` returns them: (channel, message).
    messages: Vec<(String, Value)>,
    /// Answer every Nth `chat.postMessage` with 429 (0: never).
    rate_limit_every: usize,
    posts_seen: usize,
    /// Where `apps.connections.open` sends Socket Mode clients.
    socket_url: Option<String>,
    /// Existing channels `conversations.list` shows: (id, name).
    channels: Vec<(String, String)>,
    /// How long to hold the answer to a page's direct message (one with metadata).
    page_delay: Option<std::time::Duration>,
    /// With [`FakeSlack::unique_channels`]: channels created so far (each gets its own id).
    created: Option<usize>,
    /// Channels `conversations.create` made.
    made: usize,
    /// [`FakeSlack::hang_posts`]: `chat.postMessage` is taken and never answered.
    hang_posts: bool,
}

impl FakeSlack {
    pub fn start() -> FakeSlack {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Slack");
        let base = format!("http://{}/api", listener.local_addr().expect("addr"));
        let fake = FakeSlack {
            base,
            calls: Arc::default(),
            state: Arc::default(),
        };
        let (calls, state) = (fake.calls.clone(), fake.state.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (calls, state) = (calls.clone(), state.clone());
                std::thread::spawn(move || serve(stream, &calls, &state));
            }
        });
        fake
    }

    /// A message a person wrote in `channel`, for `conversations.history` to return.
    pub fn add_message(&self, channel: &str, ts: &str, user: &str, text: &str) {
        self.lock().messages.push((
            channel.to_owned(),
            json!({ "type": "message", "ts": ts, "user": user, "text": text }),
        ));
    }

    /// The example plan's Slack section pointed at this stand-in, its signing secret read
    /// from `SLACK_SIGNING_SECRET`: replacements for [`crate::api::plan_with`].
    pub fn plan_changes(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "signing_secret = { file = \"/run/secrets/slack-signing-secret\" }",
                "signing_secret = { env = \"SLACK_SIGNING_SECRET\" }".to_owned(),
            ),
            (
                "# api_base_url = \"https://slack.com/api\"",
                format!("api_base_url = \"{}\"", self.base),
            ),
        ]
    }

    /// From now on `chat.postMessage` takes the request and never answers (Slack hung).
    pub fn hang_posts(&self) {
        self.lock().hang_posts = true;
    }

    /// From now on each `conversations.create` of a new name makes `C0INC0001`, `C0INC0002`,
    /// … instead of the first being `C0INCIDENT`.
    pub fn unique_channels(&self) {
        self.lock().created = Some(0);
    }

    /// An existing channel the bot is a member of, for `conversations.list`.
    pub fn add_channel(&self, id: &str, name: &str) {
        self.lock().channels.push((id.to_owned(), name.to_owned()));
    }

    /// From now on every `n`th `chat.postMessage` is answered 429 with `Retry-After: 1`.
    pub fn rate_limit_every(&self, n: usize) {
        self.lock().rate_limit_every = n;
    }

    /// Answer page DMs (posts with message metadata) only after `delay`: Slack has posted the
    /// message, the caller has not heard so yet.
    pub fn delay_pages(&self, delay: std::time::Duration) {
        self.lock().page_delay = Some(delay);
    }

    /// Where `apps.connections.open` points Socket Mode clients.
    pub fn set_socket_url(&self, url: &str) {
        self.lock().socket_url = Some(url.to_owned());
    }

    /// A `response_url` on this stand-in (recorded as a call to `hooks/<name>`).
    pub fn response_url(&self, name: &str) -> String {
        format!("{}/hooks/{name}", self.base.trim_end_matches("/api"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (method, body) of every call so far.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b)
            .collect()
    }
}

/// Slack's answer, or `None` for a 429.
fn answer(method: &str, args: &str, state: &Mutex<State>) -> Option<Value> {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if method == "chat.postMessage" {
        state.posts_seen += 1;
        if state.rate_limit_every > 0 && state.posts_seen.is_multiple_of(state.rate_limit_every) {
            return None;
        }
    }
    let arg = |name: &str| -> String {
        serde_json::from_str::<Value>(args)
            .ok()
            .and_then(|v| v.get(name).and_then(Value::as_str).map(str::to_owned))
            .or_else(|| {
                args.split('&').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k == name).then(|| v.to_owned())
                })
            })
            .unwrap_or_default()
    };
    // A post with metadata (a page) is kept, as Slack keeps it, for `conversations.history`.
    if method == "chat.postMessage"
        && let Ok(v) = serde_json::from_str::<Value>(args)
        && v.get("metadata").is_some()
    {
        let n = state.messages.len();
        state.messages.push((
            arg("channel"),
            json!({ "type": "message", "ts": format!("1764200001.{n:06}"), "text": v["text"], "metadata": v["metadata"] }),
        ));
    }
    Some(match method {
        "conversations.history" if arg("latest").is_empty() => {
            let channel = arg("channel");
            let found: Vec<Value> = state
                .messages
                .iter()
                .rev()
                .filter(|(c, _)| *c == channel)
                .map(|(_, m)| m.clone())
                .collect();
            json!({ "ok": true, "messages": found, "has_more": false })
        }
        "conversations.history" | "conversations.replies" => {
            let (channel, ts) = (
                arg("channel"),
                arg(if method == "conversations.history" {
                    "latest"
                } else {
                    "ts"
                }),
            );
            let found: Vec<Value> = state
                .messages
                .iter()
                .filter(|(c, m)| *c == channel && m["ts"] == ts.as_str())
                .map(|(_, m)| m.clone())
                .collect();
            json!({ "ok": true, "messages": found, "has_more": false })
        }
        "apps.connections.open" => match &state.socket_url {
            Some(url) => json!({ "ok": true, "url": url }),
            None => json!({ "ok": false, "error": "not_allowed_token_type" }),
        },
        // As Slack: a name in use is `name_taken` (warroom then finds it with
        // `conversations.list`); a new name is a new channel. The first one made is
        // `C0INCIDENT` unless [`FakeSlack::unique_channels`] numbers them all.
        "conversations.create" => {
            let name = arg("name");
            if state.channels.iter().any(|(_, n)| *n == name) {
                json!({ "ok": false, "error": "name_taken" })
            } else {
                let made = state.made;
                let id = match state.created.as_mut() {
                    Some(n) => {
                        *n += 1;
                        format!("C0INC{n:04}")
                    }
                    None if made == 0 => "C0INCIDENT".to_owned(),
                    None => format!("C0INCX{made:03}"),
                };
                state.made += 1;
                state.channels.push((id.clone(), name.clone()));
                json!({ "ok": true, "channel": { "id": id, "name": name } })
            }
        }
        "conversations.open" => json!({ "ok": true, "channel": { "id": "D0DIRECT" } }),
        "chat.postMessage" => {
            json!({ "ok": true, "channel": "C0INCIDENT", "ts": "1764200000.000100" })
        }
        "chat.getPermalink" => {
            json!({ "ok": true, "permalink": "https://example.slack.com/archives/C0INCIDENT/p1764200000000100" })
        }
        "conversations.list" => {
            let channels: Vec<Value> = state
                .channels
                .iter()
                .map(|(id, name)| json!({ "id": id, "name": name, "is_member": true, "is_private": false }))
                .collect();
            json!({ "ok": true, "channels": channels, "response_metadata": { "next_cursor": "" } })
        }
        _ => json!({ "ok": true }),
    })
}

fn serve(stream: TcpStream, calls: &Mutex<Vec<(String, String)>>, state: &Mutex<State>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(crate::http1::Request { path, body, .. }) =
        crate::http1::read_request(&mut reader)
    {
        let method = path
            .trim_start_matches("/api/")
            .trim_start_matches('/')
            .split('?')
            .next()
            .unwrap_or("")
            .to_owned();
        let body = String::from_utf8_lossy(&body).into_owned();
        if method == "chat.postMessage"
            && state.lock().unwrap_or_else(|p| p.into_inner()).hang_posts
        {
            std::thread::sleep(std::time::Duration::from_secs(120));
            return;
        }
        let page_delay = (method == "chat.postMessage" && body.contains("\"metadata\""))
            .then(|| state.lock().unwrap_or_else(|p| p.into_inner()).page_delay)
            .flatten();
        let reply = match answer(&method, &body, state) {
            Some(answer) => {
                // A 429 is not a delivery: only calls Slack took are recorded.
                calls
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((method.clone(), body));
                let text = answer.to_string();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                    text.len()
                )
            }
            None => "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
                .to_owned(),
        };
        if let Some(d) = page_delay {
            std::thread::sleep(d);
        }
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
