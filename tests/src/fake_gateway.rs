//! Discord's side of the gateway: a local websocket server that greets a client with HELLO,
//! reads its IDENTIFY, answers READY, acknowledges heartbeats and sends dispatches
//! (INTERACTION_CREATE, MESSAGE_REACTION_ADD, MESSAGE_CREATE) with sequence numbers, as
//! Discord's gateway does (API v10, JSON, no compression).

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

type Socket = WebSocket<TcpStream>;

#[derive(Clone)]
pub struct FakeGateway {
    /// `ws://…`: the plan's `gateway_url`.
    pub url: String,
    socket: Arc<Mutex<Option<Socket>>>,
    identify: Arc<Mutex<Option<Value>>>,
    seq: Arc<AtomicU64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn op(socket: &mut Socket, value: &Value) -> bool {
    socket.send(Message::text(value.to_string())).is_ok()
}

/// The next frame's JSON, or `None` when nothing came within the socket's read timeout.
fn read(socket: &mut Socket) -> Result<Option<Value>, ()> {
    match socket.read() {
        Ok(Message::Text(t)) => Ok(serde_json::from_str(t.as_str()).ok()),
        Ok(Message::Close(_)) => Err(()),
        Ok(_) => Ok(None),
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(_) => Err(()),
    }
}

impl FakeGateway {
    /// `bot`: the bot's user (and application) id READY names.
    pub fn start(bot: &str, guild: &str) -> FakeGateway {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake gateway");
        let url = format!("ws://{}", listener.local_addr().expect("addr"));
        let fake = FakeGateway {
            url: url.clone(),
            socket: Arc::default(),
            identify: Arc::default(),
            seq: Arc::new(AtomicU64::new(1)),
        };
        let (slot, identified) = (fake.socket.clone(), fake.identify.clone());
        let (bot, guild) = (bot.to_owned(), guild.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Ok(mut ws) = tungstenite::accept(stream) else {
                    continue;
                };
                let _ = ws
                    .get_ref()
                    .set_read_timeout(Some(Duration::from_millis(20)));
                let hello =
                    json!({ "op": 10, "d": { "heartbeat_interval": 41250 }, "s": null, "t": null });
                if !op(&mut ws, &hello) {
                    continue;
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                let identify = loop {
                    match read(&mut ws) {
                        Ok(Some(v)) if v["op"] == 2 => break Some(v),
                        Ok(Some(v)) if v["op"] == 1 => {
                            op(&mut ws, &json!({ "op": 11 }));
                        }
                        Ok(_) if Instant::now() < deadline => {}
                        _ => break None,
                    }
                };
                let Some(identify) = identify else { continue };
                *lock(&identified) = Some(identify);
                let ready = json!({ "op": 0, "s": 1, "t": "READY", "d": {
                    "v": 10,
                    "user": { "id": bot, "username": "warroom", "discriminator": "0", "global_name": null, "avatar": null, "bot": true, "verified": true, "flags": 0, "mfa_enabled": true },
                    "guilds": [{ "id": guild, "unavailable": true }],
                    "session_id": "fake-session-1",
                    "resume_gateway_url": url,
                    "shard": [0, 1],
                    "application": { "id": bot, "flags": 0 },
                    "private_channels": [], "relationships": [], "presences": [],
                    "guild_join_requests": [], "geo_ordered_rtc_regions": [], "user_settings": {}
                }});
                if op(&mut ws, &ready) {
                    *lock(&slot) = Some(ws);
                }
            }
        });
        // Heartbeats are acknowledged as Discord does, so the client keeps its session.
        let slot = fake.socket.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(20));
                let mut guard = lock(&slot);
                let Some(ws) = guard.as_mut() else { continue };
                match read(ws) {
                    Ok(Some(v)) if v["op"] == 1 => {
                        op(ws, &json!({ "op": 11 }));
                    }
                    Ok(_) => {}
                    Err(()) => *guard = None,
                }
            }
        });
        fake
    }

    /// The client's IDENTIFY once it sent one.
    pub fn identify(&self, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = lock(&self.identify).clone() {
                return Some(v);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one dispatch (`t`, `d`) to the connected client.
    pub fn dispatch(&self, t: &str, d: &Value) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            {
                let mut guard = lock(&self.socket);
                if let Some(ws) = guard.as_mut() {
                    let s = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
                    assert!(
                        op(ws, &json!({ "op": 0, "s": s, "t": t, "d": d })),
                        "the gateway client went away"
                    );
                    return;
                }
            }
            assert!(Instant::now() < deadline, "no gateway client connected");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
