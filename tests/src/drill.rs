//! Talking to the drill API server that `warroom serve` starts in drill mode: read the
//! simulated cluster's state, inject faults, read the requests warroom made.

use serde_json::Value;

use crate::Server;

pub struct Drill {
    pub base: String,
    agent: ureq::Agent,
}

impl Drill {
    /// The drill cluster `name` of a running server, from its start-up lines.
    pub fn of(server: &Server, name: &str) -> Drill {
        let prefix = format!("drill cluster {name}: simulated Kubernetes API at ");
        let base = server
            .log
            .iter()
            .find_map(|l| l.split(&prefix).nth(1))
            .unwrap_or_else(|| panic!("no drill cluster {name} in {:?}", server.log))
            .trim()
            .to_owned();
        let agent = crate::agent();
        Drill { base, agent }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("content-type", content_type)
                .send(b.to_string()),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("content-type", content_type)
                .send(b.to_string()),
            _ => panic!("unsupported {method} {path}"),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, "", None)
    }

    /// An object that must exist.
    pub fn object(&self, path: &str) -> Value {
        let (status, v) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("POST", path, "application/json", Some(body))
    }

    pub fn merge_patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("PATCH", path, "application/merge-patch+json", Some(body))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, "", None)
    }

    /// Every request warroom made, as (verb, group, resource, subresource, namespace).
    pub fn requests(&self) -> Vec<Value> {
        self.object("/drill/requests")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The next `times` requests matching fail with `status`.
    pub fn fault(&self, verb: &str, resource: &str, subresource: &str, status: u16, times: u32) {
        self.inject(&serde_json::json!({ "verb": verb, "resource": resource, "subresource": subresource, "status": status, "times": times }));
    }

    /// Any fault `POST /drill/faults` takes: a status, `delay_ms`, `retry_after`, …
    pub fn inject(&self, fault: &Value) {
        let (code, v) = self.post("/drill/faults", fault);
        assert!(code < 300, "fault: {v}");
    }

    pub fn deny(&self, verb: &str, group: &str, resource: &str, subresource: &str) {
        let (code, v) = self.post("/drill/deny", &serde_json::json!({ "verb": verb, "group": group, "resource": resource, "subresource": subresource }));
        assert!(code < 300, "deny: {v}");
    }

    /// Labels of an object as a JSON object.
    pub fn labels(&self, path: &str) -> Value {
        self.object(path)["metadata"]["labels"].clone()
    }
}
