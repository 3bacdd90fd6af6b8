//! A client for warroom's HTTP command API, for end-to-end tests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Api {
    base: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(addr: &str) -> Api {
        let agent = crate::agent();
        let api = Api {
            base: format!("http://{addr}"),
            agent,
        };
        // Commands are answered once the ledger is open and interrupted actions are checked.
        let deadline = Instant::now() + Duration::from_secs(30);
        while api.get("/readyz").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "warroom at {addr} never became ready"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        api
    }

    /// `POST /api/v1/command` as `person` (drill mode): (status, JSON body).
    pub fn command(&self, person: &str, text: &str, incident: Option<&str>) -> (u16, Value) {
        let mut body = json!({ "person": person, "text": text });
        if let Some(i) = incident {
            body["incident"] = json!(i);
        }
        self.post_json("/api/v1/command", None, &body.to_string())
    }

    /// `POST /api/v1/command` with a bearer token and any JSON text.
    pub fn post_json(&self, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let mut req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let mut resp = req
            .send(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.get_with(path, None)
    }

    /// `GET path` with a bearer token when one is given.
    pub fn get_with(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut resp = self
            .agent
            .put(&format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A command that must succeed; returns its reply.
    pub fn ok(&self, person: &str, text: &str, incident: Option<&str>) -> Value {
        let (status, reply) = self.command(person, text, incident);
        assert_eq!(status, 200, "{person}: {text} → {reply}");
        assert_eq!(reply["ok"], true, "{reply}");
        reply
    }

    /// A command whose request ended `failed`: answered 500 with `ok: false`.
    pub fn failed(&self, person: &str, text: &str, incident: Option<&str>) -> Value {
        let (status, reply) = self.command(person, text, incident);
        assert_eq!(status, 500, "{person}: {text} → {reply}");
        assert_eq!(reply["ok"], false, "{reply}");
        assert_eq!(reply["status"], "failed", "{reply}");
        reply
    }

    /// Open an incident as alice and return its id.
    pub fn open_incident(&self, title: &str) -> String {
        let reply = self.ok(
            "alice",
            &format!("incident open \"{title}\" --severity sev1"),
            None,
        );
        reply["incident"].as_str().expect("incident id").to_owned()
    }

    /// The drill's first responses to the suspect pod in a new incident: alice captures
    /// `payments/api-7f9c` (R1, runs at once) and asks to quarantine it (R2), bob approves.
    pub fn capture_and_quarantine_suspect(&self, inc: &str) {
        self.ok("alice", "capture pod payments/api-7f9c", Some(inc));
        self.ok(
            "alice",
            "quarantine pod payments/api-7f9c --reason shell",
            Some(inc),
        );
        let r = self.ok("bob", "approve R2", Some(inc));
        assert_eq!(r["status"], "executed", "{r}");
    }

    /// `GET /api/v1/incidents/{id}`.
    pub fn incident(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/incidents/{id}"));
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The request's record as the ledger has it.
    pub fn request(&self, incident: &str, request: &str) -> Value {
        let body = self.incident(incident);
        body["incident"]["requests"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["spec"]["request"] == request).cloned())
            .unwrap_or_else(|| panic!("no {request} in {body}"))
    }

    /// The timeline entry of `kind` about `request` (`request.failed`, say).
    pub fn entry(&self, incident: &str, kind: &str, request: &str) -> Value {
        let body = self.incident(incident);
        body["timeline"]
            .as_array()
            .and_then(|es| {
                es.iter()
                    .find(|e| e["kind"] == kind && e["data"]["request"] == request)
                    .cloned()
            })
            .unwrap_or_else(|| panic!("no {kind} of {request} in {body}"))
    }

    /// Timeline entry kinds, in order.
    pub fn kinds(&self, incident: &str) -> Vec<String> {
        self.incident(incident)["timeline"]
            .as_array()
            .map(|es| {
                es.iter()
                    .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many timeline entries of `kind` the incident has.
    pub fn count(&self, incident: &str, kind: &str) -> usize {
        self.kinds(incident).iter().filter(|k| *k == kind).count()
    }

    /// Poll until `check` holds on the incident, or panic naming `what`.
    pub fn wait_until(&self, incident: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self.incident(incident);
            if check(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The first incident id (`INC-…`) in a reply, or panic showing the reply.
pub fn incident_id_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with("INC-"))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned()
        })
        .unwrap_or_else(|| panic!("no incident id in {text}"))
}

/// The built-in plan's text with replacements applied, for plans that differ in one place.
/// The example plan's `[console.limits]` line, as shipped (commented out: the defaults).
pub const LIMITS_LINE: &str = "# limits = { connections = 4096, header_timeout = \"10s\", body_timeout = \"30s\", per_source = 200, burst = 400, ipv6_prefix = 64 }";

/// A [`plan_with`] replacement for load from one address (benchmarks): no per-source rate
/// limit, room for every connection.
pub const UNLIMITED: (&str, &str) = (
    LIMITS_LINE,
    "limits = { per_source = 0, connections = 100000 }",
);

pub fn plan_with(replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(crate::repo_root().join("config/examples/plan.toml"))
        .expect("read the example plan");
    for (from, to) in replacements {
        assert!(text.contains(from), "the example plan has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    text
}
