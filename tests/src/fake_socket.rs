//! Slack's side of Socket Mode: a local websocket server that greets a client with `hello`,
//! sends envelopes and reads the client's acknowledgements, as Slack's edge does.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

type Socket = WebSocket<TcpStream>;

#[derive(Clone)]
pub struct FakeSocket {
    /// `ws://…` for `apps.connections.open` to hand out.
    pub url: String,
    socket: Arc<Mutex<Option<Socket>>>,
    connections: Arc<Mutex<usize>>,
}

impl FakeSocket {
    pub fn start() -> FakeSocket {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Socket Mode");
        let url = format!(
            "ws://{}/link/?ticket=t1&app_id=A1",
            listener.local_addr().expect("addr")
        );
        let fake = FakeSocket {
            url,
            socket: Arc::default(),
            connections: Arc::default(),
        };
        let (slot, connections) = (fake.socket.clone(), fake.connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Ok(mut ws) = tungstenite::accept(stream) else {
                    continue;
                };
                let hello = json!({
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": { "host": "applink-local", "build_number": 1, "approximate_connection_time": 18060 },
                    "connection_info": { "app_id": "A1" }
                });
                if ws.send(Message::text(hello.to_string())).is_ok() {
                    let _ = ws
                        .get_ref()
                        .set_read_timeout(Some(Duration::from_millis(100)));
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(ws);
                    *connections.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                }
            }
        });
        fake
    }

    /// How many clients connected so far.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one envelope and returns the client's acknowledgement of it (the frame with the
    /// same `envelope_id`), waiting up to `within`.
    pub fn send(&self, envelope: &Value, within: Duration) -> Result<Value, String> {
        let id = envelope["envelope_id"].as_str().unwrap_or("").to_owned();
        let deadline = Instant::now() + within;
        loop {
            if self
                .socket
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some()
            {
                break;
            }
            if Instant::now() > deadline {
                return Err("no Socket Mode client connected".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut guard = self.socket.lock().unwrap_or_else(|p| p.into_inner());
        let ws = guard.as_mut().ok_or("client gone")?;
        ws.send(Message::text(envelope.to_string()))
            .map_err(|e| format!("send: {e}"))?;
        while Instant::now() < deadline {
            match ws.read() {
                Ok(Message::Text(text)) => {
                    let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    if frame["envelope_id"] == id.as_str() {
                        return Ok(frame);
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        Err(format!("no acknowledgement of {id} within {within:?}"))
    }
}
