//! A local stand-in for the Slack Web API: answers as Slack does for the methods warroom
//! calls, and records every call (method and JSON or form body) for the test to inspect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct FakeSlack {
    pub base: String,
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeSlack {
    pub fn start() -> FakeSlack {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Slack");
        let base = format!("http://{}/api", listener.local_addr().expect("addr"));
        let fake = FakeSlack {
            base,
            calls: Arc::default(),
        };
        let calls = fake.calls.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let calls = calls.clone();
                std::thread::spawn(move || serve(stream, &calls));
            }
        });
        fake
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

fn answer(method: &str) -> Value {
    match method {
        "conversations.create" => {
            json!({ "ok": true, "channel": { "id": "C0INCIDENT", "name": "inc" } })
        }
        "conversations.open" => json!({ "ok": true, "channel": { "id": "D0DIRECT" } }),
        "chat.postMessage" => {
            json!({ "ok": true, "channel": "C0INCIDENT", "ts": "1764200000.000100" })
        }
        "chat.getPermalink" => {
            json!({ "ok": true, "permalink": "https://example.slack.com/archives/C0INCIDENT/p1764200000000100" })
        }
        "conversations.list" => {
            json!({ "ok": true, "channels": [], "response_metadata": { "next_cursor": "" } })
        }
        _ => json!({ "ok": true }),
    }
}

fn serve(stream: TcpStream, calls: &Mutex<Vec<(String, String)>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let method = path
            .trim_start_matches("/api/")
            .split('?')
            .next()
            .unwrap_or("")
            .to_owned();
        calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((method.clone(), String::from_utf8_lossy(&body).into_owned()));
        let text = answer(&method).to_string();
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
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
