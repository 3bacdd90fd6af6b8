//! A local HTTP server standing in for Slack's Web API in tests: it answers as Slack does
//! for the methods we use, records every call, and can rate-limit a channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::time::Instant;

pub const TOKEN: &str = "xoxb-test-token";

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub args: Value,
    pub authorization: String,
    pub content_type: String,
    pub at: Instant,
    /// Whether the call was answered with a 429.
    pub limited: bool,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Channel → how many more `chat.postMessage` calls get a 429.
    limits: HashMap<String, usize>,
    /// Existing channels, as `conversations.list` returns them.
    channels: Vec<Value>,
    next_ts: u64,
    /// Where `files.getUploadURLExternal` sends uploads.
    upload_base: String,
    /// File id → the bytes uploaded to it.
    uploads: HashMap<String, Vec<u8>>,
}

pub struct FakeSlack {
    /// What to configure as the API base URL.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        inner.lock().unwrap().upload_base = format!("http://{addr}/upload");
        let app = Router::new()
            .route("/api/{method}", post(handle))
            .route("/upload/{file}", post(upload))
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeSlack {
            base: format!("http://{addr}/api"),
            inner,
            server,
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Calls of one method that were answered (not rate-limited).
    pub fn answered(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && !c.limited)
            .collect()
    }

    /// The next `n` messages posted to `channel` get `429 Retry-After: 1`.
    pub fn rate_limit(&self, channel: &str, n: usize) {
        self.inner.lock().unwrap().limits.insert(channel.into(), n);
    }

    pub fn add_channel(&self, channel: Value) {
        self.inner.lock().unwrap().channels.push(channel);
    }

    /// What was uploaded to a file id.
    pub fn upload(&self, file_id: &str) -> Option<Vec<u8>> {
        self.inner.lock().unwrap().uploads.get(file_id).cloned()
    }
}

/// The upload URL Slack hands out: takes the file's bytes.
async fn upload(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(file): Path<String>,
    body: Bytes,
) -> Response {
    inner.lock().unwrap().uploads.insert(file, body.to_vec());
    "OK - 1".into_response()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let content_type = header(header::CONTENT_TYPE);
    let args: Value = if content_type.starts_with("application/json") {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    } else {
        let pairs: HashMap<String, String> =
            serde_urlencoded::from_bytes(&body).unwrap_or_default();
        json!(pairs)
    };
    let authorization = header(header::AUTHORIZATION);
    if method == "test.hang" {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let mut inner = inner.lock().unwrap();
    let channel = args["channel"].as_str().unwrap_or("").to_owned();
    let limited = method == "chat.postMessage"
        && match inner.limits.get_mut(&channel) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
    inner.calls.push(Call {
        method: method.clone(),
        args: args.clone(),
        authorization: authorization.clone(),
        content_type,
        at: Instant::now(),
        limited,
    });
    if limited {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            axum::Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response();
    }
    if authorization != format!("Bearer {TOKEN}") {
        return fail("invalid_auth");
    }
    if channel == "C_GONE" {
        return fail("channel_not_found");
    }
    let answer = match method.as_str() {
        "chat.postMessage" => {
            inner.next_ts += 1;
            json!({"ok": true, "channel": channel, "ts": format!("1700000000.{:06}", inner.next_ts)})
        }
        "chat.update" if args["ts"] == "404.0" => return fail("message_not_found"),
        "chat.update" => json!({"ok": true, "channel": channel, "ts": args["ts"]}),
        "chat.postEphemeral" => json!({"ok": true, "message_ts": "1700000000.999999"}),
        "chat.getPermalink" => json!({
            "ok": true,
            "channel": channel,
            "permalink": format!("https://example.slack.com/archives/{channel}/p1"),
        }),
        "conversations.create" => {
            let name = args["name"].as_str().unwrap_or("").to_owned();
            if inner.channels.iter().any(|c| c["name"] == name.as_str()) {
                return fail("name_taken");
            }
            let id = format!("C{}", inner.channels.len() + 100);
            let created = json!({"id": id, "name": name, "is_member": true, "is_private": false});
            inner.channels.push(created.clone());
            json!({"ok": true, "channel": created})
        }
        // Two pages, so callers must follow the cursor.
        "conversations.list" => {
            let half = inner.channels.len() / 2;
            let (page, next) = if args["cursor"] == "page2" {
                (inner.channels[half..].to_vec(), "")
            } else {
                (inner.channels[..half].to_vec(), "page2")
            };
            json!({"ok": true, "channels": page, "response_metadata": {"next_cursor": next}})
        }
        "conversations.join" => json!({"ok": true, "channel": {"id": channel}}),
        "conversations.setTopic" => json!({"ok": true, "channel": {"id": channel}}),
        "conversations.invite" => json!({"ok": true, "channel": {"id": channel}}),
        "conversations.open" => {
            json!({"ok": true, "channel": {"id": format!("D{}", args["users"].as_str().unwrap_or(""))}})
        }
        "pins.add" => json!({"ok": true}),
        "files.getUploadURLExternal" => {
            let id = format!("F{}", inner.uploads.len() + 1);
            json!({"ok": true, "upload_url": format!("{}/{id}", inner.upload_base), "file_id": id})
        }
        "files.completeUploadExternal" => {
            let id = args["files"][0]["id"].as_str().unwrap_or("").to_owned();
            if !inner.uploads.contains_key(&id) {
                return fail("file_not_found");
            }
            json!({"ok": true, "files": [{"id": id}]})
        }
        "test.http500" => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "test.notjson" => return "<html>".into_response(),
        _ => return fail("unknown_method"),
    };
    axum::Json(answer).into_response()
}

fn fail(error: &str) -> Response {
    axum::Json(json!({"ok": false, "error": error})).into_response()
}
