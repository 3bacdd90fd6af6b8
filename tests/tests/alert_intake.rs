//! From alert to page with real peers: Prometheus Alertmanager (Debian's
//! `prometheus-alertmanager`) posts its webhook to warroom; pages go to a local PagerDuty
//! Events API stand-in, a webhook receiver and a real SMTP server on loopback (aiosmtpd).
//! Falco and Events API v2 bodies, bad credentials, malformed and oversized bodies too.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom_tests::api::{Api, plan_with};
use warroom_tests::fake_slack::FakeSlack;
use warroom_tests::pager_standin::paging_changes;
use warroom_tests::{Peer, Scratch, Server, wait_for_port};

const AM_TOKEN: &str = "am-test-token";
const FALCO_HMAC: &str = "falco-test-hmac";
const ROUTING_KEY: &str = "R0UT1NGKEY";

struct World {
    s: Scratch,
    server: Server,
    api: Api,
    /// Records PagerDuty (`v2/enqueue`) and webhook (`page`) calls.
    receivers: FakeSlack,
    smtp_log: std::path::PathBuf,
    _smtp: Peer,
}

const TEST_RULE: &str = r#"[[alerts.rules]]
name = "payments-api-down"
source = "alertmanager"
match = { alertname = "PaymentsApiDown", namespace = "payments" }
severity = "sev2"
page = "primary-oncall"
propose = ["capture"]
allow_from = ["127.0.0.1/32"]

[[alerts.rules]]
name = "orders-db-down"
source = "generic"
match = { source = "orders-db-.*" }
severity = "sev2"
page = "primary-oncall"
allow_from = ["127.0.0.1/32"]

[[alerts.rules]]
name = "ssh-from-outside-after-hours""#;

fn start() -> World {
    let s = Scratch::new();
    let receivers = FakeSlack::start();
    let root = receivers.base.trim_end_matches("/api").to_owned();
    let smtp_port = warroom_tests::free_port();
    let smtp_log = s.path().join("smtp.log");
    let smtp = Command::new("/usr/bin/python3")
        .args([
            "-u",
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{smtp_port}"),
        ])
        .stdout(std::fs::File::create(&smtp_log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd (python3-aiosmtpd) must be installed: scripts/test.sh installs it");
    wait_for_port(smtp_port);
    let mut changes = vec![
        ("drill = false", "drill = true".to_owned()),
        ("notify = false", "notify = true".to_owned()),
        (
            "[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
            TEST_RULE.to_owned(),
        ),
    ];
    changes.extend(paging_changes(&root, smtp_port));
    let refs: Vec<(&str, &str)> = changes.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let plan = plan_with(&refs);
    s.write("plan.toml", &plan);
    let server = serve(&s);
    let api = Api::new(&server.addr);
    World {
        s,
        server,
        api,
        receivers,
        smtp_log,
        _smtp: Peer(smtp),
    }
}

/// `warroom serve` on the scratch folder's plan.toml, with the intake and pager secrets.
fn serve(s: &Scratch) -> Server {
    let file = s.path().join("plan.toml");
    Server::start_with_env(
        s,
        &["--config", file.to_str().unwrap()],
        &[
            ("PAGERDUTY_ROUTING_KEY", "pd-key"),
            ("WARROOM_ALERTMANAGER_TOKEN", AM_TOKEN),
            ("WARROOM_FALCO_HMAC", FALCO_HMAC),
            ("WARROOM_FALCO_TOKEN", "falco-token"),
            ("WARROOM_EVENTS_ROUTING_KEY", ROUTING_KEY),
        ],
    )
}

fn wait<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn incidents(api: &Api) -> Vec<Value> {
    api.get("/api/v1/incidents").1["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn start_alertmanager(w: &World) -> (Peer, String) {
    let port = warroom_tests::free_port();
    let config = w.s.write(
        "alertmanager.yml",
        &format!(
            r#"route:
  receiver: warroom
  group_by: ["alertname", "namespace"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: warroom
    webhook_configs:
      - url: "http://{}/alerts/alertmanager"
        send_resolved: true
        http_config:
          authorization:
            credentials: "{AM_TOKEN}"
"#,
            w.server.addr
        ),
    );
    let child = Command::new("prometheus-alertmanager")
        .args([
            &format!("--config.file={}", config.display()),
            &format!("--storage.path={}", w.s.path().join("am-data").display()),
            &format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=",
            "--log.level=warn",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-alertmanager must be installed: scripts/test.sh installs it");
    wait_for_port(port);
    (Peer(child), format!("http://127.0.0.1:{port}"))
}

fn post_alerts(am: &str, alerts: &Value) {
    let resp = warroom_tests::agent()
        .post(&format!("{am}/api/v2/alerts"))
        .header("content-type", "application/json")
        .send(alerts.to_string())
        .expect("Alertmanager takes the alerts");
    assert_eq!(resp.status().as_u16(), 200);
}

fn rfc3339(offset_secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + offset_secs;
    // Alertmanager takes RFC 3339; built by hand to keep the test crate small.
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{now}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn alertmanager_opens_one_incident_pages_everywhere_and_resolves_the_loop() {
    let w = start();
    let (_am, am) = start_alertmanager(&w);
    let alert = |ends: Option<String>| {
        let mut a = json!({
            "labels": { "alertname": "PaymentsApiDown", "namespace": "payments", "pod": "api-7f9c", "severity": "critical" },
            "annotations": { "summary": "payments api is down" },
            "startsAt": rfc3339(-60)
        });
        if let Some(e) = ends {
            a["endsAt"] = json!(e);
        }
        json!([a])
    };
    post_alerts(&am, &alert(None));
    post_alerts(&am, &alert(None));
    let incident = wait("the incident", || incidents(&w.api).into_iter().next());
    let id = incident["id"].as_str().unwrap().to_owned();
    // Fired twice, grouped and redelivered by Alertmanager: one incident.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(incidents(&w.api).len(), 1);
    let record = w
        .api
        .wait_until(&id, "alert and page in the timeline", |i| {
            let kinds: Vec<&str> = i["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["kind"].as_str())
                .collect();
            kinds.contains(&"alert.received") && kinds.contains(&"page.sent")
        });
    let page = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "page.sent")
        .unwrap();
    assert_eq!(page["data"]["step"]["policy"], "primary-oncall");
    assert_eq!(page["data"]["step"]["tier"], 0);
    assert_eq!(page["actor"], "warroom");
    assert_eq!(record["incident"]["severity"], "sev2");
    // The rule proposes `capture` for the pod the alert names: a pending request warroom
    // asked for, which two people must approve before it runs.
    let proposal = w.api.wait_until(&id, "the proposed capture", |i| {
        i["incident"]["requests"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    let r1 = &proposal["incident"]["requests"][0];
    assert_eq!(r1["requested_by"], "warroom");
    assert_eq!(r1["spec"]["action"], "capture");
    assert_eq!(r1["spec"]["target"]["namespace"], "payments");
    assert_eq!(r1["spec"]["target"]["name"], "api-7f9c");
    assert_eq!(r1["status"], "pending");
    assert_eq!(r1["spec"]["approvals_needed"], 2);
    let first = w.api.ok("alice", "approve R1", Some(&id));
    assert_eq!(first["status"], "pending", "{first}");
    let second = w.api.ok("bob", "approve R1", Some(&id));
    assert_eq!(second["status"], "executed", "{second}");
    // PagerDuty got a trigger keyed by the incident; the webhook and the mail server a page.
    let trigger = wait("PagerDuty trigger", || {
        w.receivers
            .calls_to("v2/enqueue")
            .into_iter()
            .find(|b| b.contains("\"trigger\""))
    });
    let trigger: Value = serde_json::from_str(&trigger).unwrap();
    // One PagerDuty alert per step, keyed by installation, incident and page.
    assert!(
        trigger["dedup_key"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{id}/P1")),
        "{trigger}"
    );
    assert_eq!(trigger["routing_key"], "pd-key");
    assert_eq!(trigger["payload"]["severity"], "error");
    let hook = wait("webhook page", || {
        w.receivers.calls_to("page").into_iter().next()
    });
    assert!(
        hook.contains("\"event\":\"page\"") && hook.contains(&id),
        "{hook}"
    );
    let mail = wait("mail", || {
        let mut text = String::new();
        std::fs::File::open(&w.smtp_log)
            .ok()?
            .read_to_string(&mut text)
            .ok()?;
        // Each person's e-mail goes out on its own: wait for alice's.
        (text.contains(&format!("[warroom] PAGE {id}")) && text.contains("alice@northwind.example"))
            .then_some(text)
    });
    assert!(mail.contains("alice@northwind.example"), "{mail}");
    // Resolved at the source: recorded, announced, PagerDuty resolved.
    post_alerts(&am, &alert(Some(rfc3339(-1))));
    w.api.wait_until(&id, "alert.resolved", |i| {
        i["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "alert.resolved")
    });
    wait("PagerDuty resolve", || {
        w.receivers
            .calls_to("v2/enqueue")
            .into_iter()
            .find(|b| b.contains("\"resolve\"") && b.contains(&id))
    });
    assert_eq!(w.api.count(&id, "page.sent"), 1, "no second page");
}

fn post(w: &World, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut req = warroom_tests::agent()
        .post(&format!("http://{}{path}", w.server.addr))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = match req.send(body.to_owned()) {
        Ok(r) => r,
        // An oversized body may be refused before it is all sent.
        Err(e) => return (0, Value::String(e.to_string())),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn falco_and_events_v2_bodies_are_judged_by_the_rules_and_bad_requests_record_nothing() {
    let w = start();
    let falco = std::fs::read_to_string(
        warroom_tests::repo_root().join("commands/src/alert/fixtures/terminal-shell.json"),
    )
    .unwrap();
    // Unauthenticated, wrong token, wrong HMAC: 401, nothing recorded.
    assert_eq!(post(&w, "/alerts/falco", &[], &falco).0, 401);
    assert_eq!(
        post(
            &w,
            "/alerts/falco",
            &[("authorization", "Bearer nope")],
            &falco
        )
        .0,
        401
    );
    let now = warroom_tests::unix_now().to_string();
    let signed = |secret: &str, ts: &str, body: &str| {
        format!(
            "sha256={}",
            warroom_tests::hmac_sha256_hex(secret, format!("{ts}.{body}").as_bytes())
        )
    };
    let bad_sig = signed("other", &now, &falco);
    assert_eq!(
        post(
            &w,
            "/alerts/falco",
            &[
                ("x-warroom-signature", &bad_sig),
                ("x-warroom-timestamp", &now)
            ],
            &falco
        )
        .0,
        401
    );
    // Signed right, but ten minutes old (a replay): refused too.
    let old = (now.parse::<i64>().unwrap() - 600).to_string();
    let replayed = signed(FALCO_HMAC, &old, &falco);
    let (status, body) = post(
        &w,
        "/alerts/falco",
        &[
            ("x-warroom-signature", &replayed),
            ("x-warroom-timestamp", &old),
        ],
        &falco,
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("X-Warroom-Timestamp"),
        "{body}"
    );
    // Malformed and oversized: 400 naming the field, 413.
    let sig = |b: &str| signed(FALCO_HMAC, &now, b);
    let broken = r#"{"rule":"x","priority":"loud"}"#;
    let (status, body) = post(
        &w,
        "/alerts/falco",
        &[
            ("x-warroom-signature", &sig(broken)),
            ("x-warroom-timestamp", &now),
        ],
        broken,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("priority"),
        "{body}"
    );
    let huge = format!(
        r#"{{"rule":"x","priority":"Notice","output":"{}"}}"#,
        "a".repeat(1024 * 1024 + 1024)
    );
    let refused = (0..5).find_map(|_| {
        let (status, body) = post(
            &w,
            "/alerts/falco",
            &[
                ("x-warroom-signature", &sig(&huge)),
                ("x-warroom-timestamp", &now),
            ],
            &huge,
        );
        (status != 0).then_some((status, body))
    });
    let (status, body) = refused.expect("an answer to the oversized body");
    assert_eq!(status, 413, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("1024 KiB"),
        "{body}"
    );
    let (_, am) = post(
        &w,
        "/alerts/alertmanager",
        &[("authorization", "Bearer wrong")],
        "{}",
    );
    assert!(
        am["message"]
            .as_str()
            .unwrap()
            .contains("not authenticated"),
        "{am}"
    );
    assert!(incidents(&w.api).is_empty(), "nothing recorded");

    // A real Falco sample, signed: no rule of the plan meets it (a pod in `default`):
    // recorded and counted, not paged.
    let (status, body) = post(
        &w,
        "/alerts/falco",
        &[
            ("x-warroom-signature", &sig(&falco)),
            ("x-warroom-timestamp", &now),
        ],
        &falco,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alerts"][0]["result"], "not_actionable");
    let (_, counts) = w.api.get("/api/v1/alerts");
    assert_eq!(counts["counts"]["not_actionable"], 1);
    assert_eq!(
        counts["not_actionable"][0]["fields"]["k8s.pod.name"],
        "kubecon"
    );
    // The same shell in a payments pod meets `falco-shell-in-container`: one incident, paged;
    // the same event again is a repeat of it.
    let payments = falco
        .replace(
            "\"k8s.ns.name\":\"default\"",
            "\"k8s.ns.name\":\"payments\"",
        )
        .replace(
            "\"k8s.pod.name\":\"kubecon\"",
            "\"k8s.pod.name\":\"api-7f9c\"",
        );
    assert_ne!(payments, falco);
    let (status, first) = post(
        &w,
        "/alerts/falco",
        &[("authorization", "Bearer falco-token")],
        &payments,
    );
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["alerts"][0]["result"], "opened", "{first}");
    assert_eq!(first["alerts"][0]["rule"], "falco-shell-in-container");
    assert_eq!(first["alerts"][0]["paged"], true);
    let (_, again) = post(
        &w,
        "/alerts/falco",
        &[
            ("x-warroom-signature", &sig(&payments)),
            ("x-warroom-timestamp", &now),
        ],
        &payments,
    );
    assert_eq!(again["alerts"][0]["result"], "repeat", "{again}");
    assert_eq!(
        again["alerts"][0]["incident"],
        first["alerts"][0]["incident"]
    );
    let opened = incidents(&w.api);
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["severity"], "sev1");
    // capture, checkpoint and quarantine of that pod are proposed; `label` needs a value
    // only a person can choose, so it is not.
    let inc = opened[0]["id"].as_str().unwrap();
    let record = w.api.wait_until(inc, "three proposals", |i| {
        i["incident"]["requests"]
            .as_array()
            .is_some_and(|r| r.len() == 3)
    });
    let actions: Vec<&str> = record["incident"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["spec"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["capture", "checkpoint", "quarantine"]);

    // Events API v2: a documented trigger with our routing key is accepted as PagerDuty
    // would; no rule of the plan meets it, so it is recorded, not paged.
    let trigger = std::fs::read_to_string(
        warroom_tests::repo_root().join("commands/src/alert/fixtures/trigger.json"),
    )
    .unwrap();
    let (status, _) = post(&w, "/alerts/events/v2", &[], &trigger);
    assert_eq!(status, 401, "routing key samplekeyhere is not ours");
    let ours = trigger.replace(
        "\"routing_key\": \"samplekeyhere\"",
        &format!("\"routing_key\": \"{ROUTING_KEY}\""),
    );
    let (status, body) = post(&w, "/alerts/events/v2", &[], &ours);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["dedup_key"], "samplekeyhere");
    let (status, body) = post(
        &w,
        "/alerts/events/v2",
        &[],
        &format!(r#"{{"routing_key":"{ROUTING_KEY}","event_action":"explode"}}"#),
    );
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("event_action"),
        "{body}"
    );
    assert_eq!(
        incidents(&w.api).len(),
        1,
        "only the payments shell opened one"
    );
    let (_, metrics) = w.server.get("/metrics");
    assert!(
        metrics.contains("warroom_alerts_malformed_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("warroom_alerts_total{result=\"not_actionable\"} 2"),
        "{metrics}"
    );
}

/// The World's server again, on the same ledger, after a stop.
fn restart(w: &mut World) {
    let _ = w.server.child.kill();
    let _ = w.server.child.wait();
    w.server = serve(&w.s);
    w.api = Api::new(&w.server.addr);
}

#[test]
fn a_replayed_signed_alert_does_nothing_after_a_resolve_or_a_restart() {
    let mut w = start();
    let falco = std::fs::read_to_string(
        warroom_tests::repo_root().join("commands/src/alert/fixtures/terminal-shell.json"),
    )
    .unwrap()
    .replace(
        "\"k8s.ns.name\":\"default\"",
        "\"k8s.ns.name\":\"payments\"",
    );
    let now = warroom_tests::unix_now().to_string();
    let sig = format!(
        "sha256={}",
        warroom_tests::hmac_sha256_hex(FALCO_HMAC, format!("{now}.{falco}").as_bytes())
    );
    let signed = [
        ("x-warroom-signature", sig.as_str()),
        ("x-warroom-timestamp", now.as_str()),
    ];
    let (status, first) = post(&w, "/alerts/falco", &signed, &falco);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["alerts"][0]["result"], "opened", "{first}");
    let inc = first["alerts"][0]["incident"].as_str().unwrap().to_owned();
    w.api.ok("alice", "incident resolve contained", Some(&inc));
    let pages = w.api.count(&inc, "page.sent");
    // The byte-identical request again, inside its five minutes: answered, not acted on.
    let (status, again) = post(&w, "/alerts/falco", &signed, &falco);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["already_received"], true, "{again}");
    assert_eq!(incidents(&w.api).len(), 1, "no second incident");
    assert_eq!(w.api.count(&inc, "page.sent"), pages, "no second page");
    // The claim is durable: a restart does not make the replay new.
    restart(&mut w);
    let (status, again) = post(&w, "/alerts/falco", &signed, &falco);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["already_received"], true, "{again}");
    assert_eq!(
        incidents(&w.api).len(),
        1,
        "no second incident after a restart"
    );
    // A new delivery of the same event, signed anew, is a new alert (the incident is
    // resolved, so it opens another).
    let later = (now.parse::<i64>().unwrap() + 1).to_string();
    let resigned = format!(
        "sha256={}",
        warroom_tests::hmac_sha256_hex(FALCO_HMAC, format!("{later}.{falco}").as_bytes())
    );
    let (status, fresh) = post(
        &w,
        "/alerts/falco",
        &[
            ("x-warroom-signature", &resigned),
            ("x-warroom-timestamp", &later),
        ],
        &falco,
    );
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(fresh["alerts"][0]["result"], "opened", "{fresh}");
}

#[test]
fn a_signed_request_that_was_refused_is_judged_again_when_sent_again() {
    let w = start();
    // Signed correctly, but not a Falco event: refused with what is wrong. The sender may
    // fix nothing and send it again (a retrying forwarder does): it is told the same, not
    // "already received", since nothing of it was recorded.
    let body = r#"{"output":"A shell was spawned","priority":"Warning"}"#;
    let now = warroom_tests::unix_now().to_string();
    let sig = format!(
        "sha256={}",
        warroom_tests::hmac_sha256_hex(FALCO_HMAC, format!("{now}.{body}").as_bytes())
    );
    let signed = [
        ("x-warroom-signature", sig.as_str()),
        ("x-warroom-timestamp", now.as_str()),
    ];
    for attempt in ["first", "second"] {
        let (status, answer) = post(&w, "/alerts/falco", &signed, body);
        assert_eq!(status, 400, "{attempt}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("malformed alert:")),
            "{attempt}: {answer}"
        );
    }
    assert!(incidents(&w.api).is_empty());
}

#[test]
fn only_a_sender_the_rule_takes_may_end_or_acknowledge_and_a_repeated_acknowledge_is_one() {
    let w = start();
    let other: std::net::Ipv4Addr = "127.0.0.2".parse().unwrap();
    let am = |status: &str| {
        warroom_tests::alertmanager_body(
            status,
            json!({ "alertname": "PaymentsApiDown", "namespace": "payments" }),
            "payments api down",
        )
    };
    let bearer = format!("Bearer {AM_TOKEN}");
    let (status, fired) = post(
        &w,
        "/alerts/alertmanager",
        &[("authorization", &bearer)],
        &am("firing"),
    );
    assert_eq!(status, 200, "{fired}");
    assert_eq!(fired["alerts"][0]["paged"], true, "{fired}");
    let inc = fired["alerts"][0]["incident"].as_str().unwrap().to_owned();
    let kinds = |kind: &str| {
        w.api.incident(&inc)["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .count()
    };

    // The same token from an address outside the rule's allow_from: a firing from there
    // would not be taken, so its end is not either, and paging goes on.
    let (status, r) = warroom_tests::post_from(
        other,
        &w.server.addr,
        "/alerts/alertmanager",
        &[("authorization", &bearer)],
        &am("resolved"),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["alerts"][0]["result"], "not_actionable", "{r}");
    assert_eq!(kinds("alert.resolved"), 0);
    assert_eq!(
        w.api.incident(&inc)["incident"]["escalation"]["stopped"],
        false
    );
    // The real sender's end is recorded, not mistaken for a repeat of the refused one.
    let (_, r) = post(
        &w,
        "/alerts/alertmanager",
        &[("authorization", &bearer)],
        &am("resolved"),
    );
    assert_eq!(r["alerts"][0]["result"], "resolved", "{r}");
    assert_eq!(kinds("alert.resolved"), 1);

    // Events v2: an acknowledge from outside allow_from is refused the same way; from the
    // sender, one is recorded and posted, and its repeats are answered as repeats.
    let trigger = json!({
        "routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "orders-db-1",
        "payload": { "summary": "orders db down", "source": "orders-db-1", "severity": "critical" },
    })
    .to_string();
    let (status, r) = post(&w, "/alerts/events/v2", &[], &trigger);
    assert_eq!(status, 202, "{r}");
    let db = wait("the orders-db incident", || {
        incidents(&w.api)
            .into_iter()
            .find(|i| i["title"] == "orders db down")
            .and_then(|i| i["id"].as_str().map(str::to_owned))
    });
    let ack = json!({ "routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "orders-db-1" })
        .to_string();
    let (status, r) =
        warroom_tests::post_from(other, &w.server.addr, "/alerts/events/v2", &[], &ack);
    assert_eq!(status, 202, "{r}");
    let db_kinds = |kind: &str| {
        w.api.incident(&db)["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .count()
    };
    assert_eq!(db_kinds("alert.acknowledged"), 0);
    for _ in 0..20 {
        let (status, r) = post(&w, "/alerts/events/v2", &[], &ack);
        assert_eq!(status, 202, "{r}");
    }
    assert_eq!(db_kinds("alert.acknowledged"), 1);
    let said = w.api.incident(&db)["messages"].to_string();
    assert_eq!(
        said.matches("was acknowledged at its source").count(),
        1,
        "{said}"
    );
}
