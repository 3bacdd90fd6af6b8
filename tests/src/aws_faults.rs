//! A stand-in in front of moto server that answers chosen AWS API actions with an error a
//! set number of times (throttling, access denied), as AWS does, and passes everything else
//! through unchanged: the real SDK's retries and error handling meet real AWS error bodies.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub struct AwsFaults {
    /// `http://127.0.0.1:PORT`: the plan's `endpoint_url`.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// (action, error code, times left)
    faults: Vec<(String, String, u32)>,
    /// Every action asked for, with whether it was answered by a fault.
    seen: Vec<(String, bool)>,
}

/// The fault that answers nothing.
const HANG: &str = "(hang)";
/// The fault that passes the call to moto (it takes effect) and answers 500 InternalError:
/// an answer lost on the way back.
const LOST: &str = "(lost)";

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl AwsFaults {
    pub fn start(upstream: &str) -> AwsFaults {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind AWS fault stand-in");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let state: Arc<Mutex<State>> = Arc::default();
        let (shared, upstream) = (state.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, upstream) = (shared.clone(), upstream.clone());
                std::thread::spawn(move || serve(stream, &state, &upstream));
            }
        });
        AwsFaults { endpoint, state }
    }

    /// Answer `action` (e.g. `CreateSnapshots`) with AWS error `code` the next `times` times.
    pub fn fail(&self, action: &str, code: &str, times: u32) {
        lock(&self.state)
            .faults
            .push((action.to_owned(), code.to_owned(), times));
    }

    /// Take the next `times` requests for `action` and never answer them (the connection
    /// stays open for a minute): AWS hung.
    pub fn hang(&self, action: &str, times: u32) {
        self.fail(action, HANG, times);
    }

    /// Pass the next `times` requests for `action` to moto, so they take effect, and answer
    /// each with `500 InternalError`: the caller cannot tell that it worked.
    pub fn lose_answer(&self, action: &str, times: u32) {
        self.fail(action, LOST, times);
    }

    /// How often `action` was asked for: (answered by a fault, passed through).
    pub fn count(&self, action: &str) -> (usize, usize) {
        let s = lock(&self.state);
        let of = |faulted: bool| {
            s.seen
                .iter()
                .filter(|(a, f)| a == action && *f == faulted)
                .count()
        };
        (of(true), of(false))
    }
}

/// `Action=X` of a query-protocol form body.
fn action_of(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or_default()
        .to_owned()
}

/// The error body AWS sends for `code`: EC2's own shape, or the query protocol's.
fn error(code: &str, ec2: bool) -> (u16, String) {
    let status = match code {
        "UnauthorizedOperation" | "AccessDenied" => 403,
        "RequestLimitExceeded" => 503,
        _ => 400,
    };
    let message = match code {
        "UnauthorizedOperation" | "AccessDenied" => {
            "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/warroom-responder/warroom is not authorized because an explicit deny in an identity-based policy"
        }
        "Throttling" | "RequestLimitExceeded" => "Rate exceeded",
        _ => "injected by the test",
    };
    let body = if ec2 {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-1</RequestID></Response>"
        )
    } else {
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-1</RequestId></ErrorResponse>"
        )
    };
    (status, body)
}

fn serve(stream: TcpStream, state: &Mutex<State>, upstream: &str) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let agent = crate::agent();
    while let Some(req) = crate::http1::read_request(&mut reader) {
        let action = action_of(&req.body);
        let ec2 = String::from_utf8_lossy(&req.body).contains("Version=2016-11-15");
        let fault = {
            let mut s = lock(state);
            let hit = s
                .faults
                .iter_mut()
                .find(|(a, _, left)| *a == action && *left > 0)
                .map(|f| {
                    f.2 -= 1;
                    f.1.clone()
                });
            s.seen.push((action.clone(), hit.is_some()));
            hit
        };
        let (status, content_type, error_type, body) = match fault {
            Some(code) if code == HANG => {
                std::thread::sleep(std::time::Duration::from_secs(60));
                return;
            }
            Some(code) if code == LOST => {
                let _ = forward(&req, upstream, &agent);
                let (_, body) = error("InternalError", ec2);
                (500, "text/xml".to_owned(), None, body.into_bytes())
            }
            Some(code) => {
                let (status, body) = error(&code, ec2);
                (status, "text/xml".to_owned(), None, body.into_bytes())
            }
            None => forward(&req, upstream, &agent),
        };
        let error_type = error_type
            .map(|t| format!("x-amzn-ErrorType: {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n{error_type}Content-Length: {}\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
            return;
        }
    }
}

/// The request passed to moto as sent (method, path, headers, body): EC2, IAM and Auto
/// Scaling POST; EKS is REST and reads with GET. (status, content type, REST error type, body)
fn forward(
    req: &crate::http1::Request,
    upstream: &str,
    agent: &ureq::Agent,
) -> (u16, String, Option<String>, Vec<u8>) {
    let mut call = ureq::http::Request::builder()
        .method(req.method.as_str())
        .uri(format!("{upstream}{}", req.path));
    for (k, v) in &req.headers {
        if k != "host" && k != "content-length" {
            call = call.header(k, v);
        }
    }
    let sent = call
        .body(req.body.clone())
        .map_err(|e| e.to_string())
        .and_then(|r| agent.run(r).map_err(|e| e.to_string()));
    match sent {
        Ok(mut r) => (
            r.status().as_u16(),
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("text/xml")
                .to_owned(),
            // REST services name their error in this header.
            r.headers()
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            r.body_mut().read_to_vec().unwrap_or_default(),
        ),
        Err(e) => (502, "text/plain".into(), None, e.into_bytes()),
    }
}
