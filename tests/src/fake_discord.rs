//! A local stand-in for Discord's REST API (`/api/v10/…`), answering as Discord does for the
//! calls warroom makes (channels, messages, DMs, pins, permission overwrites, interaction
//! follow-ups, application commands) and recording every call: (method, path, body).
//! It can answer every Nth message post 429 with `Retry-After`, as Discord's rate limits do.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct FakeDiscord {
    /// `http://127.0.0.1:PORT`: the plan's `api_base_url`.
    pub base: String,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    calls: Vec<(String, String, String)>,
    next_id: u64,
    /// Guild channels: id → channel object.
    channels: BTreeMap<String, Value>,
    /// Messages: id → message object.
    messages: BTreeMap<String, Value>,
    commands: Vec<Value>,
    rate_limit_every: usize,
    posts_seen: usize,
    /// [`FakeDiscord::hang_posts`]: message posts are taken and never answered.
    hang_posts: bool,
}

impl FakeDiscord {
    /// The example plan's Discord section pointed at this stand-in, verifying interactions
    /// with `key`'s public half: replacements for [`crate::api::plan_with`].
    pub fn plan_changes(&self, key: &SigningKey) -> Vec<(&'static str, String)> {
        vec![
            (
                "public_key = \"8d2c6b1f0e4a7c3d5b9e1f2a4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d\"",
                format!(
                    "public_key = \"{}\"",
                    hex::encode(key.verifying_key().to_bytes())
                ),
            ),
            (
                "guild_id = \"1123456789012345678\"",
                format!(
                    "guild_id = \"1123456789012345678\"\napi_base_url = \"{}\"",
                    self.base
                ),
            ),
        ]
    }

    /// From now on message posts are taken and never answered (Discord hung).
    pub fn hang_posts(&self) {
        self.lock().hang_posts = true;
    }

    pub fn start() -> FakeDiscord {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Discord");
        let fake = FakeDiscord {
            base: format!("http://{}", listener.local_addr().expect("addr")),
            state: Arc::default(),
        };
        fake.lock().next_id = 1_200_000_000_000_000_000;
        let state = fake.state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        fake
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An existing text channel of the guild (the stakeholder channel).
    pub fn add_channel(&self, id: &str, name: &str) {
        self.lock().channels.insert(
            id.to_owned(),
            json!({ "id": id, "type": 0, "name": name, "parent_id": null }),
        );
    }

    /// From now on every `n`th message post is answered 429 (`Retry-After: 0.2`).
    pub fn rate_limit_every(&self, n: usize) {
        self.lock().rate_limit_every = n;
    }

    /// (method, path without `/api/v10`, body) of every call so far.
    pub fn calls(&self) -> Vec<(String, String, String)> {
        self.lock().calls.clone()
    }

    /// Bodies of calls with this method whose path ends with `suffix`.
    pub fn calls_to(&self, method: &str, suffix: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|(m, p, _)| m == method && p.ends_with(suffix))
            .map(|(_, _, b)| serde_json::from_str(&b).unwrap_or(Value::String(b)))
            .collect()
    }

    /// The channel created with this name, if any.
    pub fn channel_named(&self, name_part: &str) -> Option<Value> {
        self.lock()
            .channels
            .values()
            .find(|c| c["name"].as_str().is_some_and(|n| n.contains(name_part)))
            .cloned()
    }

    /// Messages in a channel, oldest first, as they stand now (edits applied).
    pub fn messages_in(&self, channel: &str) -> Vec<Value> {
        self.lock()
            .messages
            .values()
            .filter(|m| m["channel_id"] == channel)
            .cloned()
            .collect()
    }

    /// A message a person posted in `channel` (not through warroom): its id.
    pub fn add_message(&self, channel: &str, author: &str, content: &str) -> String {
        let mut s = self.lock();
        s.next_id += 1;
        let id = s.next_id.to_string();
        s.messages.insert(
            id.clone(),
            json!({ "id": id, "channel_id": channel, "content": content,
                    "author": { "id": author, "username": "someone" },
                    "timestamp": "2026-12-01T02:14:07.123000+00:00" }),
        );
        id
    }

    /// Every message as it stands now.
    pub fn messages(&self) -> Vec<Value> {
        self.lock().messages.values().cloned().collect()
    }
}

/// Poll `check` until it gives a value, or panic naming `what` after 20 s.
pub fn wait<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The text of an interaction's answer (`data.content`).
pub fn content(answer: &Value) -> String {
    answer["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `/incident open` as Discord sends its options: "Shell in payments api", sev1.
pub fn incident_open_options() -> Value {
    json!([{ "type": 1, "name": "open", "options": [
        { "type": 3, "name": "title", "value": "Shell in payments api" },
        { "type": 3, "name": "severity", "value": "sev1" }]}])
}

/// `/quarantine pod` of payments/api-7f9c, as Discord sends its options.
pub fn quarantine_options() -> Value {
    json!([{ "type": 1, "name": "pod", "options": [
        { "type": 3, "name": "target", "value": "payments/api-7f9c" },
        { "type": 3, "name": "reason", "value": "shell spawned" }]}])
}

/// The DM channel id for a user: stable, so a resumed page finds its conversation.
fn dm_of(user: &str) -> String {
    format!("9{}", &user[user.len().saturating_sub(17)..])
}

fn answer(method: &str, path: &str, body: &str, s: &mut State) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let input: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let mut new_id = || {
        s.next_id += 1;
        s.next_id.to_string()
    };
    match (method, parts.as_slice()) {
        ("GET", ["guilds", _, "channels"]) => {
            (200, Value::Array(s.channels.values().cloned().collect()))
        }
        ("POST", ["guilds", _, "channels"]) => {
            let id = new_id();
            let mut c = input.clone();
            c["id"] = json!(id);
            s.channels.insert(id, c.clone());
            (201, c)
        }
        ("PATCH", ["channels", id]) => {
            if let Some(c) = s.channels.get_mut(*id)
                && let Some(o) = input.as_object()
            {
                for (k, v) in o {
                    c[k] = v.clone();
                }
            }
            (
                200,
                s.channels.get(*id).cloned().unwrap_or(json!({"id": id})),
            )
        }
        ("PUT", ["channels", _, "permissions", _]) | ("PUT", ["channels", _, "pins", _]) => {
            (204, Value::Null)
        }
        ("POST", ["channels", channel, "messages"]) => {
            s.posts_seen += 1;
            if s.rate_limit_every > 0 && s.posts_seen.is_multiple_of(s.rate_limit_every) {
                return (
                    429,
                    json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false}),
                );
            }
            let id = new_id();
            // A multipart body (an attachment) is kept as text.
            let mut m = if input.is_object() {
                input.clone()
            } else {
                json!({ "content": body })
            };
            m["id"] = json!(id);
            m["channel_id"] = json!(channel);
            s.messages.insert(id, m.clone());
            (200, m)
        }
        ("GET", ["channels", _, "messages", id]) => match s.messages.get(*id) {
            Some(m) => (200, m.clone()),
            None => (404, json!({ "message": "Unknown Message", "code": 10008 })),
        },
        ("GET", ["channels", channel, "messages"]) => {
            let mut found: Vec<Value> = s
                .messages
                .values()
                .filter(|m| m["channel_id"] == *channel)
                .cloned()
                .collect();
            found.reverse();
            (200, Value::Array(found))
        }
        ("PATCH", ["channels", _, "messages", id]) => {
            if let Some(m) = s.messages.get_mut(*id)
                && let Some(o) = input.as_object()
            {
                for (k, v) in o {
                    m[k] = v.clone();
                }
            }
            (
                200,
                s.messages.get(*id).cloned().unwrap_or(json!({"id": id})),
            )
        }
        ("POST", ["users", "@me", "channels"]) => {
            let user = input["recipient_id"].as_str().unwrap_or("0");
            (
                200,
                json!({ "id": dm_of(user), "type": 1, "recipients": [{ "id": user }] }),
            )
        }
        ("PATCH", ["webhooks", _, _, "messages", "@original"]) => (200, json!({ "id": "1" })),
        ("POST", ["interactions", _, _, "callback"]) => (204, Value::Null),
        ("GET", ["applications", _, "guilds", _, "commands"])
        | ("GET", ["applications", _, "commands"]) => (200, Value::Array(s.commands.clone())),
        ("PUT", ["applications", _, "guilds", _, "commands"])
        | ("PUT", ["applications", _, "commands"]) => {
            let list: Vec<Value> = input
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    c["id"] = json!(new_id());
                    c["version"] = json!("1");
                    c
                })
                .collect();
            s.commands = list.clone();
            (200, Value::Array(list))
        }
        _ => (404, json!({ "message": "Unknown route", "code": 0 })),
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(req) = crate::http1::read_request(&mut reader) {
        let path = req
            .path
            .trim_start_matches("/api/v10")
            .split('?')
            .next()
            .unwrap_or("")
            .to_owned();
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let hung = req.method == "POST"
            && path.ends_with("/messages")
            && state.lock().unwrap_or_else(|p| p.into_inner()).hang_posts;
        if hung {
            std::thread::sleep(std::time::Duration::from_secs(120));
            return;
        }
        let (status, reply) = {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            let (status, reply) = answer(&req.method, &path, &body, &mut s);
            if status != 429 {
                s.calls.push((req.method.clone(), path.clone(), body));
            }
            (status, reply)
        };
        let text = if reply.is_null() {
            String::new()
        } else {
            reply.to_string()
        };
        let extra = if status == 429 {
            "Retry-After: 0.2\r\nX-RateLimit-Scope: user\r\n"
        } else {
            ""
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
            text.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(text.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// POST `body` to warroom's `/discord/interactions` at `addr`, signed with `key` as Discord
/// signs it (Ed25519 over timestamp and body): (status, body), `None` when nothing answered.
pub fn post_signed(addr: &str, key: &SigningKey, body: &str) -> Option<(u16, String)> {
    let ts = crate::unix_now().to_string();
    let signature = hex::encode(key.sign(format!("{ts}{body}").as_bytes()).to_bytes());
    let mut r = crate::agent()
        .post(&format!("http://{addr}/discord/interactions"))
        .header("content-type", "application/json")
        .header("x-signature-ed25519", &signature)
        .header("x-signature-timestamp", &ts)
        .send(body)
        .ok()?;
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Some((r.status().as_u16(), text))
}

/// `/note TEXT` as Discord sends it from `user` in guild channel `channel`, interaction `id`.
pub fn note_interaction(channel: &str, user: &str, text: &str, id: u64) -> String {
    json!({
        "type": 2, "id": id.to_string(), "application_id": "1187654321098765432",
        "token": format!("tok-{id}"), "guild_id": "1123456789012345678", "channel_id": channel,
        "version": 1,
        "member": { "user": { "id": user, "username": "u" }, "roles": [], "permissions": "0" },
        "data": { "id": "1", "name": "note", "type": 1,
            "options": [{ "type": 3, "name": "text", "value": text }] },
    })
    .to_string()
}
