//! The HTTP command API's contract: bad input, authentication, guardrails and the incident
//! commands, each answered with its status code and a message that says what to do.

use serde_json::json;
use warroom_tests::api::{Api, plan_with};
use warroom_tests::{Scratch, Server};

fn builtin() -> (Scratch, Server, Api) {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    (s, server, api)
}

#[test]
fn unknown_people_are_refused_with_the_reason() {
    let (_s, _server, api) = builtin();
    let (status, r) = api.command("mallory", "incident open \"x\"", None);
    assert_eq!(status, 403, "{r}");
    assert_eq!(r["ok"], false);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("`mallory` is not a person in the response plan"),
        "{r}"
    );
    let (status, r) = api.command("", "incident open \"x\"", None);
    assert_eq!(status, 403, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("say who you are"),
        "{r}"
    );
    let (_, list) = api.get("/api/v1/incidents");
    assert_eq!(list["incidents"], json!([]), "nothing was recorded");
}

#[test]
fn malformed_bodies_get_400_and_oversized_ones_413() {
    let (_s, _server, api) = builtin();
    for body in [
        "not json",
        "{\"person\": \"alice\"}",
        "{\"person\": \"alice\", \"text\": \"note x\", \"as\": \"root\"}",
        "[]",
    ] {
        let (status, r) = api.post_json("/api/v1/command", None, body);
        assert_eq!(status, 400, "{body}: {r}");
        assert_eq!(r["ok"], false, "{body}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("the body must be JSON"),
            "{r}"
        );
    }
    let (status, r) = api.post_json(
        "/api/v1/command",
        None,
        &json!({"person": "alice", "text": "note x", "incident": "INC-bad"}).to_string(),
    );
    assert_eq!(status, 400, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("not an incident id"),
        "{r}"
    );
    let huge =
        json!({"person": "alice", "text": format!("note {}", "x".repeat(100_000))}).to_string();
    let (status, r) = api.post_json("/api/v1/command", None, &huge);
    assert_eq!(status, 413, "{r}");
    assert_eq!(r["ok"], false, "the documented JSON answer: {r}");
    assert!(r["message"].as_str().unwrap().contains("64 KiB"), "{r}");
    let (_, list) = api.get("/api/v1/incidents");
    assert_eq!(list["incidents"], json!([]));
}

#[test]
fn parse_errors_come_back_with_usage() {
    let (_s, _server, api) = builtin();
    let inc = api.open_incident("usage");
    for (text, usage) in [
        ("quarantine pod api-7f9c", "usage: quarantine pod NS/POD"),
        (
            "scale deployment payments/api",
            "usage: scale deployment|statefulset|replicaset NS/NAME --replicas N",
        ),
        ("approve", "usage: approve REQUEST-ID"),
        ("frobnicate", "usage: help [COMMAND]"),
    ] {
        let (status, r) = api.command("alice", text, Some(&inc));
        assert_eq!(status, 400, "{text}: {r}");
        assert!(
            r["message"].as_str().unwrap().contains(usage),
            "{text}: {r}"
        );
    }
    let (status, r) = api.command("alice", "note hello", None);
    assert_eq!(status, 400);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("acts on an incident"),
        "{r}"
    );
    let r = api.ok("alice", "help quarantine", None);
    assert!(r["message"].as_str().unwrap().contains("--detach"), "{r}");
}

#[test]
fn outside_drill_mode_every_call_needs_a_token() {
    let s = Scratch::new();
    let plan = s.write("plan.toml", &plan_with(&[]));
    let alice = "alice-token-0123456789abcdef";
    let server = Server::start_with_env(
        &s,
        &["--config", plan.to_str().unwrap()],
        &[("WARROOM_TOKEN_ALICE", alice)],
    );
    let api = Api::new(&server.addr);
    let (status, r) = api.command("alice", "incident open \"x\"", None);
    assert_eq!(status, 401, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("a bearer token is required"),
        "{r}"
    );
    let (status, r) = api.post_json(
        "/api/v1/command",
        Some("guess-guess-guess-guess"),
        &json!({"text": "incident open \"x\""}).to_string(),
    );
    assert_eq!(status, 401, "{r}");
    let (status, _) = api.get("/api/v1/incidents");
    assert_eq!(status, 401);
    let (status, _) = api.put(
        "/api/v1/drill/objects",
        &json!({"kind": "Pod", "name": "x"}),
    );
    assert_eq!(
        status, 404,
        "no simulated-cluster changes outside drill mode"
    );
    let (status, r) = api.post_json(
        "/api/v1/command",
        Some(alice),
        &json!({"text": "incident open \"with a token\""}).to_string(),
    );
    assert_eq!(status, 200, "{r}");
    let inc = r["incident"].as_str().unwrap().to_owned();
    // A token in a URL is refused with why (history, proxies and chat keep URLs), on every
    // read and the event stream, even when it is right, and the answer does not repeat it.
    for path in [
        "/api/v1/events".to_owned(),
        "/api/v1/incidents".to_owned(),
        format!("/api/v1/incidents/{inc}"),
        format!("/api/v1/incidents/{inc}/export"),
        format!("/api/v1/incidents/{inc}/evidence/E1"),
        "/api/v1/ledger/verify".to_owned(),
        "/api/v1/session".to_owned(),
    ] {
        let (status, r) = api.get(&format!("{path}?token={alice}"));
        assert_eq!(status, 400, "{path}: {r}");
        let m = r["message"].as_str().unwrap();
        assert!(
            m.contains("send it as `Authorization: Bearer TOKEN`") && !m.contains(alice),
            "{path}: {m}"
        );
    }
    let (status, r) = api.post_json(
        &format!("/api/v1/command?token={alice}"),
        None,
        &json!({"text": "incident list"}).to_string(),
    );
    assert_eq!(status, 400, "{r}");
    // The event stream takes the token from the header, as the console sends it.
    let stream_status = |token: Option<&str>| {
        use std::io::{BufRead, BufReader, Write};
        let mut c = std::net::TcpStream::connect(&server.addr).unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        write!(
            c,
            "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{auth}\r\n",
            server.addr
        )
        .unwrap();
        let mut status = String::new();
        BufReader::new(c).read_line(&mut status).unwrap();
        status
    };
    assert!(stream_status(Some(alice)).contains(" 200 "));
    assert!(stream_status(Some("guess-guess-guess-guess")).contains(" 401 "));
    assert!(stream_status(None).contains(" 401 "));
    // The scheme is case-insensitive (RFC 7235).
    let (status, _) = raw(
        &server.addr,
        &format!(
            "GET /api/v1/incidents HTTP/1.1\r\nHost: {}\r\nAuthorization: BEARER {alice}\r\nConnection: close\r\n\r\n",
            server.addr
        ),
    );
    assert_eq!(status, 200);
    let (_, session) = api.get("/api/v1/session");
    assert_eq!(session["drill"], false);
}

#[test]
fn guardrails_refuse_with_what_to_do_instead() {
    let (_s, _server, api) = builtin();
    let inc = api.open_incident("guardrails");
    let cases = [
        (
            "alice",
            "quarantine pod payments/api-7f9c",
            422,
            "give --reason TEXT",
        ),
        (
            "alice",
            "quarantine pod kube-system/coredns-5d78c9869d-xk2vp --reason x",
            422,
            "namespace `kube-system` is protected",
        ),
        (
            "erin",
            "scale deployment payments/api --replicas 0 --reason stop",
            422,
            "run `capture pod payments/POD` for its pods first, or add --override",
        ),
        (
            "erin",
            "drain node ip-10-0-1-23.ec2.internal --reason x",
            422,
            "no evidence has been captured",
        ),
        (
            "alice",
            "drain node ip-10-0-1-23.ec2.internal --reason x",
            403,
            "alice (responder) may not request drain; the plan allows: sre-lead, commander",
        ),
        (
            "alice",
            "quarantine pod payments/nope --reason x",
            404,
            "pod nope not found in cluster prod-eu (namespace payments searched)",
        ),
        (
            "alice",
            "quarantine pod payments/api-7f9c --reason x --cluster moon",
            404,
            "no cluster `moon` in the plan; known clusters: ops, prod-eu",
        ),
    ];
    for (who, text, code, message) in cases {
        let (status, r) = api.command(who, text, Some(&inc));
        assert_eq!(status, code, "{text}: {r}");
        assert!(
            r["message"].as_str().unwrap().contains(message),
            "{text}: {r}"
        );
    }
    let kinds = api.kinds(&inc);
    assert_eq!(kinds, ["incident.opened"], "refusals record nothing");
}

#[test]
fn a_capture_runs_at_once_and_lifts_the_evidence_guardrail() {
    let (_s, _server, api) = builtin();
    let inc = api.open_incident("capture first");
    let r = api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("captured 7 artifacts of pod payments/api-7f9c"),
        "{r}"
    );
    let r = api.ok(
        "erin",
        "scale deployment payments/api --replicas 0 --reason \"stop the bleeding\"",
        Some(&inc),
    );
    assert_eq!(r["status"], "pending", "{r}");
    let r = api.ok("carol", "approve R2", Some(&inc));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("scaled deployment payments/api from 3 to 0 replicas"),
        "{r}"
    );
}

#[test]
fn critical_workloads_need_one_more_approval() {
    let (_s, _server, api) = builtin();
    let inc = api.open_incident("ledger db");
    api.ok(
        "alice",
        "quarantine pod payments/ledger-db-0 --reason \"odd connections\"",
        Some(&inc),
    );
    assert_eq!(api.request(&inc, "R1")["spec"]["approvals_needed"], 2);
    assert_eq!(api.ok("bob", "approve R1", Some(&inc))["status"], "pending");
    assert_eq!(
        api.ok("dave", "approve R1", Some(&inc))["status"],
        "executed"
    );
}

#[test]
fn actions_without_an_executor_are_approved_then_answered_not_configured() {
    let (_s, _server, api) = builtin();
    let inc = api.open_incident("aws");
    api.ok(
        "dave",
        "snapshot node ip-10-0-1-23.ec2.internal --reason \"preserve disks\"",
        Some(&inc),
    );
    // The approval was recorded, but the action failed: the answer must not say ok.
    let (status, r) = api.command("alice", "approve R1", Some(&inc));
    assert_eq!(status, 500, "{r}");
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("not configured: snapshot acts on AWS"),
        "{r}"
    );
    let req = api.request(&inc, "R1");
    assert!(
        req["outcome"]
            .as_str()
            .unwrap()
            .starts_with("not configured:"),
        "{req}"
    );
}

#[test]
fn an_approval_under_a_changed_plan_is_stale() {
    let s = Scratch::new();
    let first = s.write(
        "plan.toml",
        &plan_with(&[("drill = false", "drill = true")]),
    );
    let server = Server::start(&s, &["--config", first.to_str().unwrap()]);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("plan edit");
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason x",
        Some(&inc),
    );
    drop(server);
    s.write(
        "plan.toml",
        &plan_with(&[
            ("drill = false", "drill = true"),
            ("execute_within = \"5m\"", "execute_within = \"4m\""),
        ]),
    );
    let server = Server::start(&s, &["--config", first.to_str().unwrap()]);
    let api = Api::new(&server.addr);
    let (status, r) = api.command("bob", "approve R1", Some(&inc));
    assert_eq!(status, 409, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("the plan changed"),
        "{r}"
    );
}

#[test]
fn incident_commands_record_roles_pages_acks_and_updates() {
    let (_s, _server, api) = builtin();
    let inc = api.open_incident("people");
    api.ok("alice", "role commander @carol", Some(&inc));
    let (status, r) = api.command("alice", "role scribe @nobody", Some(&inc));
    assert_eq!(status, 404, "{r}");
    let r = api.ok("alice", "page platform shell in payments", Some(&inc));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("Paged team:platform"),
        "{r}"
    );
    assert_eq!(
        api.incident(&inc)["incident"]["unacknowledged"],
        json!(["alice", "bob", "erin"])
    );
    api.ok("bob", "ack", None);
    assert_eq!(
        api.incident(&inc)["incident"]["unacknowledged"],
        json!(["alice", "erin"])
    );
    api.ok(
        "carol",
        "status-update contained; investigating",
        Some(&inc),
    );
    api.ok("carol", "incident severity sev2", Some(&inc));
    let status = api.ok("carol", "incident status", Some(&inc));
    let text = status["message"].as_str().unwrap();
    assert!(
        text.contains("commander: carol")
            && text.contains("sev2")
            && text.contains("paged, not acknowledged: alice, erin"),
        "{text}"
    );
    // Incident roles grant no decision rights: a self-made commander cannot deny.
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason shell",
        Some(&inc),
    );
    api.ok("frank", "role commander @frank", Some(&inc));
    let (status, r) = api.command("frank", "deny R1", Some(&inc));
    assert_eq!(status, 403, "{r}");
    api.ok("carol", "role commander @carol", Some(&inc));
    api.ok(
        "carol",
        "incident resolve --confirm contained and cleaned",
        Some(&inc),
    );
    // What was still open was cancelled, by name, with the incident.
    let (status, r) = api.command("bob", "approve R1", Some(&inc));
    assert_eq!(status, 409, "{r}");
    assert_eq!(
        api.request(&inc, "R1")["outcome"],
        "cancelled by carol: the incident was resolved"
    );
    let (status, r) = api.command(
        "alice",
        "quarantine pod payments/api-7f9c --reason x",
        Some(&inc),
    );
    assert_eq!(status, 409, "{r}");
    let timeline = api.ok("carol", "timeline", Some(&inc));
    assert!(
        timeline["message"]
            .as_str()
            .unwrap()
            .contains("Resolved: contained and cleaned"),
        "{timeline}"
    );
    let (_, v) = api.get("/api/v1/ledger/verify");
    assert_eq!(v["intact"], true, "{v}");
}

/// One raw exchange with its body read as JSON.
fn raw(addr: &str, request: &str) -> (u16, serde_json::Value) {
    let (status, body) = warroom_tests::http_raw(addr, request);
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

fn post_command(
    addr: &str,
    host: &str,
    extra: &str,
    content_type: &str,
) -> (u16, serde_json::Value) {
    let body = json!({"person": "alice", "text": "incident open \"cross-site\""}).to_string();
    raw(
        addr,
        &format!(
            "POST /api/v1/command HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn cross_site_and_rebinding_requests_are_refused_in_every_mode() {
    let (_s, server, api) = builtin();
    let addr = server.addr.as_str();
    let port = addr.rsplit(':').next().unwrap();
    // A page on another site, posting as a form would: not JSON.
    let (status, r) = post_command(addr, addr, "", "text/plain");
    assert_eq!(status, 415, "{r}");
    assert_eq!(r["ok"], false);
    let (status, r) = post_command(addr, addr, "", "application/x-www-form-urlencoded");
    assert_eq!(status, 415, "{r}");
    // A rebound DNS name pointing at loopback.
    let (status, r) = post_command(
        addr,
        &format!("attacker.example:{port}"),
        "",
        "application/json",
    );
    assert_eq!(status, 421, "{r}");
    let (status, _) = raw(
        addr,
        &format!(
            "GET /api/v1/incidents HTTP/1.1\r\nHost: rebind.example:{port}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 421, "reads too");
    // Another site's page with the right Host.
    let (status, r) = post_command(
        addr,
        addr,
        "Origin: http://evil.example\r\n",
        "application/json",
    );
    assert_eq!(status, 403, "{r}");
    assert!(r["message"].as_str().unwrap().contains("cross-site"), "{r}");
    let (status, _) = post_command(addr, addr, "Origin: null\r\n", "application/json");
    assert_eq!(status, 403);
    let (_, list) = api.get("/api/v1/incidents");
    assert_eq!(list["incidents"], json!([]), "nothing was recorded");
    // The console's own origin, and localhost, work.
    let (status, r) = post_command(
        addr,
        addr,
        &format!("Origin: http://{addr}\r\n"),
        "application/json; charset=utf-8",
    );
    assert_eq!(status, 200, "{r}");
    let (status, r) = post_command(addr, &format!("localhost:{port}"), "", "application/json");
    assert_eq!(status, 200, "{r}");
}

#[test]
fn drill_mode_refuses_to_listen_beyond_loopback() {
    let s = Scratch::new();
    let out = s.run(&["serve", "--listen", "0.0.0.0:0"]).expect_code(2);
    let err = out.stderr();
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 in drill mode"),
        "{err}"
    );
    assert!(err.contains("[[console.tokens]]"), "{err}");
    assert!(!s.path().join("warroom-data").exists(), "nothing started");
}

#[test]
fn a_reserved_label_is_refused_before_anyone_approves() {
    let (_s, _server, api) = builtin();
    let inc = api.open_incident("labels");
    let (status, r) = api.command(
        "alice",
        "label pod payments/api-7f9c warroom.io/quarantine=INC-x --reason x",
        Some(&inc),
    );
    assert_eq!(status, 400, "{r}");
    assert!(r["message"].as_str().unwrap().contains("reserved"), "{r}");
    let requests = api.incident(&inc)["incident"]["requests"].clone();
    assert_eq!(
        requests.as_array().map_or(0, Vec::len),
        0,
        "no request to approve: {requests}"
    );
}
