//! Paging as an on-call lead tests it before trusting it: warroom as a child process, a
//! PagerDuty Events API stand-in, a webhook receiver and a real SMTP server (aiosmtpd) on
//! loopback. Deliveries survive SIGKILL at any point (at least once, the same key on every
//! repeat), retries honour `Retry-After` and give up loudly, reminders survive a restart,
//! and every page says what fired, where, and how to acknowledge.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom_tests::api::{Api, plan_with};
use warroom_tests::fake_slack::FakeSlack;
use warroom_tests::pager_standin::{PagerStandIn, Received, SmtpSink, paging_changes};
use warroom_tests::{Scratch, Server, wait_for as wait};

const AM_TOKEN: &str = "am-test-token";
const PD: &str = "/v2/enqueue";
const HOOK: &str = "/page";

const RULE: &str = r#"[[alerts.rules]]
name = "payments-api-down"
source = "alertmanager"
match = { alertname = "PaymentsApiDown", namespace = "payments" }
severity = "sev2"
page = "primary-oncall"

[[alerts.rules]]
name = "ssh-from-outside-after-hours""#;

struct Setup {
    escalate_after: &'static str,
    retry_for: &'static str,
    smtp_delay: Duration,
    status_every: Option<&'static str>,
    /// primary-oncall's `repeat` (2 in the example plan).
    repeat: u32,
    /// A Slack Web API stand-in's base URL: Slack in http mode against it.
    slack: Option<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            escalate_after: "1h",
            retry_for: "10m",
            smtp_delay: Duration::ZERO,
            status_every: None,
            repeat: 2,
            slack: None,
        }
    }
}

struct World {
    s: Scratch,
    pd: PagerStandIn,
    smtp: SmtpSink,
    server: Server,
    api: Api,
}

fn start(setup: Setup) -> World {
    let s = Scratch::new();
    let pd = PagerStandIn::start();
    let smtp = SmtpSink::start(s.path(), setup.smtp_delay);
    let root = pd.root.clone();
    let mut replacements = vec![
        ("drill = false", "drill = true".to_owned()),
        ("notify = false", "notify = true".to_owned()),
        (
            "[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
            RULE.to_owned(),
        ),
        (
            "retry_for = \"10m\"",
            format!("retry_for = \"{}\"", setup.retry_for),
        ),
        // primary-oncall's tier 2 triggers its own PagerDuty service.
        (
            "notify = [\"person:erin\", \"team:incident-command\"]",
            "notify = [\"person:erin\", \"team:incident-command\"]\npagerduty_routing_key = { env = \"PD_TIER2_KEY\" }".to_owned(),
        ),
        (
            "listen = \"127.0.0.1:8686\"",
            "listen = \"127.0.0.1:8686\"\npublic_url = \"https://warroom.northwind.example/\""
                .to_owned(),
        ),
    ];
    if let Some(base) = &setup.slack {
        replacements.push((
            "signing_secret = { file = \"/run/secrets/slack-signing-secret\" }",
            "signing_secret = { env = \"SLACK_SIGNING_SECRET\" }".to_owned(),
        ));
        replacements.push((
            "# api_base_url = \"https://slack.com/api\"",
            format!("api_base_url = \"{base}\""),
        ));
    }
    if let Some(every) = setup.status_every {
        replacements.push((
            "status_update_every = \"30m\"",
            format!("status_update_every = \"{every}\""),
        ));
    }
    replacements.extend(paging_changes(&root, smtp.port));
    let refs: Vec<(&str, &str)> = replacements.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let plan = plan_with(&refs)
        .replacen("repeat = 2", &format!("repeat = {}", setup.repeat), 1)
        .replace(
            "escalate_after = \"5m\"",
            &format!("escalate_after = \"{}\"", setup.escalate_after),
        )
        .replace(
            "escalate_after = \"10m\"",
            &format!("escalate_after = \"{}\"", setup.escalate_after),
        );
    s.write("plan.toml", &plan);
    let server = serve(&s);
    let api = Api::new(&server.addr);
    World {
        s,
        pd,
        smtp,
        server,
        api,
    }
}

fn serve(s: &Scratch) -> Server {
    let file = s.path().join("plan.toml");
    Server::start_with_env(
        s,
        &["--config", file.to_str().unwrap()],
        &[
            ("PAGERDUTY_ROUTING_KEY", "pd-key"),
            ("PD_TIER2_KEY", "pd-tier2-key"),
            ("WARROOM_ALERTMANAGER_TOKEN", AM_TOKEN),
            // Used only when the plan points Slack at a stand-in.
            ("SLACK_BOT_TOKEN", "xoxb-test-token"),
            ("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5"),
            ("WARROOM_SLACK_SEND_INTERVAL_MS", "10"),
        ],
    )
}

/// SIGKILL (or stop) warroom and start it again on the same data folder.
fn restart(w: &mut World, kill: bool) {
    if kill {
        let _ = w.server.child.kill();
    } else {
        // SIGTERM: a clean stop.
        unsafe {
            libc::kill(w.server.child.id() as i32, libc::SIGTERM);
        }
    }
    let _ = w.server.child.wait();
    w.server = serve(&w.s);
    w.api = Api::new(&w.server.addr);
}

/// An Alertmanager webhook (v4) for PaymentsApiDown on `pod`, as Alertmanager posts it.
fn fire(w: &World, pod: &str) -> String {
    let body = json!({
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": format!("{{}}:{{alertname=\"PaymentsApiDown\",pod=\"{pod}\"}}"),
        "alerts": [{
            "status": "firing",
            "labels": {
                "alertname": "PaymentsApiDown", "namespace": "payments", "pod": pod,
                "cluster": "prod-eu", "node": "ip-10-0-3-7", "image": "ghcr.io/northwind/payments-api:1.42.0"
            },
            "annotations": {
                "summary": format!("payments api down on {pod}"),
                "description": "5xx ratio above 20% for 5 minutes",
                "runbook_url": "https://runbooks.northwind.example/payments-api-down"
            },
            "startsAt": "2026-12-01T01:58:00Z",
        }],
    });
    warroom_tests::post_alertmanager(&w.server.addr, AM_TOKEN, &body)
}

fn outbox(w: &World, id: &str) -> BTreeMap<String, Value> {
    w.api.incident(id)["incident"]["outbox"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn timeline(w: &World, id: &str) -> Vec<Value> {
    w.api.incident(id)["timeline"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn received_keys(w: &World) -> BTreeMap<&'static str, Vec<String>> {
    warroom_tests::pager_standin::received_keys(&w.pd, &w.smtp)
}

#[test]
fn every_owed_delivery_arrives_at_least_once_after_kills_in_the_middle_of_deliveries() {
    let mut w = start(Setup {
        escalate_after: "5s",
        repeat: 5,
        smtp_delay: Duration::from_millis(300),
        ..Setup::default()
    });
    // Every receiver answers late, so a kill lands while deliveries wait for their answer.
    w.pd.delay(PD, Duration::from_millis(300));
    w.pd.delay(HOOK, Duration::from_millis(300));
    // Two incidents, escalating side by side.
    let ids = [fire(&w, "api-7f9c"), fire(&w, "api-8a1b")];
    let arrivals = |w: &World| w.pd.count() + w.smtp.messages().len();
    let mut kills = 0;
    let started = Instant::now();
    while kills < 24 {
        let seen = arrivals(&w);
        // The next request to reach any receiver, then a kill 0–600 ms into its delivery:
        // before the answer, as it is answered, after warroom recorded it.
        let deadline = Instant::now() + Duration::from_secs(15);
        while arrivals(&w) == seen && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if arrivals(&w) == seen {
            break; // the escalations ran out: nothing more is sent
        }
        std::thread::sleep(Duration::from_millis(150 * (kills % 5)));
        restart(&mut w, true);
        kills += 1;
    }
    eprintln!("{kills} kills in {:.1} s", started.elapsed().as_secs_f64());
    assert!(kills >= 20, "only {kills} kills landed in deliveries");
    // Paging stops; everything the pages owed settles.
    w.api.ok("alice", "ack all", None);
    let installation = w.pd.received(PD)[0].body["dedup_key"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let settled: Vec<BTreeMap<String, Value>> = ids
        .iter()
        .map(|id| {
            wait("every delivery settled", 90, || {
                let o = outbox(&w, id);
                o.values()
                    .all(|i| i["state"] == "delivered" || i["state"] == "failed")
                    .then_some(o)
            })
        })
        .collect();
    // What the receivers got, once nothing is in flight any more.
    let received = received_keys(&w);
    let mut repeats: BTreeMap<String, usize> = BTreeMap::new();
    let mut owed = BTreeSet::new();
    for (id, settled) in ids.iter().zip(settled) {
        let pages: Vec<&Value> = settled.values().filter(|i| i["kind"] == "page").collect();
        let steps: BTreeSet<&str> = pages.iter().filter_map(|i| i["page"].as_str()).collect();
        assert!(
            steps.len() >= 2,
            "the escalation went past tier 1: {steps:?}"
        );
        // What each channel knows a delivery by, as the timeline recorded it.
        let receipts: BTreeMap<String, String> = timeline(&w, id)
            .iter()
            .filter(|e| e["kind"] == "page.delivered")
            .map(|e| {
                let receipt = e["data"]["receipt"].as_str().unwrap_or_default();
                let key = receipt.split_whitespace().nth(1).unwrap_or_default();
                (
                    e["data"]["delivery"].as_str().unwrap().to_owned(),
                    key.to_owned(),
                )
            })
            .collect();
        // A page the last restart resumed may be withdrawn by `ack all` before its first
        // attempt: settled as not sent, with why, and owed to nobody.
        let withdrawn = |item: &Value| {
            item["state"] == "failed"
                && item["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("not sent:"))
        };
        for (delivery, item) in &settled {
            if item["kind"] != "page" || withdrawn(item) {
                continue;
            }
            assert_eq!(item["state"], "delivered", "{delivery}: {item}");
            let channel = item["delivery"]["channel"].as_str().unwrap();
            let key = &receipts[delivery];
            assert!(
                key.contains(&installation) && key.contains(id.as_str()),
                "{delivery}: {key}"
            );
            let got = received[channel].iter().filter(|k| *k == key).count();
            assert!(
                got >= 1,
                "{delivery} is recorded delivered but {channel} never got {key}"
            );
            *repeats.entry(channel.to_owned()).or_default() += got - 1;
            owed.insert(key.clone());
        }
        // Every step's deliveries: PagerDuty once per step, e-mail and webhook per person.
        for page in &steps {
            let of_page: Vec<&&Value> = pages.iter().filter(|i| i["page"] == *page).collect();
            assert_eq!(
                of_page
                    .iter()
                    .filter(|i| i["delivery"]["channel"] == "pagerduty")
                    .count(),
                1
            );
            assert!(of_page.len() >= 7, "{page}: {of_page:?}");
        }
        // The timeline says it per delivery: one page.delivered each.
        let delivered = timeline(&w, id)
            .iter()
            .filter(|e| e["kind"] == "page.delivered")
            .count();
        assert_eq!(
            delivered,
            settled.values().filter(|i| !withdrawn(i)).count(),
            "one page.delivered per delivery"
        );
    }
    // Nothing arrived that the timeline does not owe: every key received is one delivery's.
    for (channel, keys) in &received {
        for k in keys {
            assert!(owed.contains(k), "{channel} got {k}, which no page owed");
        }
    }
    // Repeats carry the key of the first, so each receiver can fold them; counted here.
    eprintln!(
        "repeats after kills (same key, folded by the receiver): {repeats:?}; distinct PagerDuty alerts: {}",
        received["pagerduty"].iter().collect::<BTreeSet<_>>().len()
    );
    drop(w.server);
    let verify =
        w.s.run(&["--config", "plan.toml", "ledger", "verify"])
            .expect_code(0);
    assert!(
        verify
            .stdout()
            .contains(&format!("installation {installation}")),
        "{}",
        verify.stdout()
    );
}

#[test]
fn retries_honour_retry_after_and_a_channel_failing_for_the_window_is_said_while_others_deliver() {
    let w = start(Setup {
        retry_for: "20s",
        ..Setup::default()
    });
    // PagerDuty: 429 asking for 1 s, then 500 ×3, then accepted.
    w.pd.script(PD, &[(429, Some(1)), (500, None), (500, None), (500, None)]);
    // The webhook is down for the whole window.
    w.pd.always(HOOK, Some(503));
    let t0 = Instant::now();
    let id = fire(&w, "api-1");
    // E-mail is not held up by either: all three people have it within a second or two.
    let mails = wait("the e-mails", 10, || {
        let m = w.smtp.messages();
        (m.len() >= 3).then_some(m)
    });
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "e-mail waited for other channels: {:?}",
        t0.elapsed()
    );
    assert_eq!(mails.len(), 3);
    let deadline = Instant::now() + Duration::from_secs(25);
    let accepted = loop {
        if let Some(a) = w.pd.accepted(PD).into_iter().next() {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "PagerDuty never accepted: {:?}; timeline {:?}",
            w.pd.received(PD)
                .iter()
                .map(|r| (r.status, r.at - t0))
                .collect::<Vec<_>>(),
            w.api.kinds(&id)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let tries = w.pd.received(PD);
    assert_eq!(tries.len(), 5, "429, 500, 500, 500, then 202");
    let gap = tries[1].at - tries[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured: {gap:?}"
    );
    assert_eq!(
        tries
            .iter()
            .map(|r| r.body["dedup_key"].to_string())
            .collect::<BTreeSet<_>>()
            .len(),
        1,
        "every attempt carries the same dedup_key"
    );
    assert_eq!(accepted.body["event_action"], "trigger");
    assert_eq!(w.pd.accepted(PD).len(), 1, "delivered once");
    // The webhook never took it: after the window, failed entries, a message, a metric.
    // The webhook may give up before PagerDuty's last try, so PagerDuty's `page.delivered`
    // can land just after the mock answered: wait for both.
    let record = w.api.wait_until(
        &id,
        "the webhook deliveries to fail and PagerDuty's to be settled",
        |i| {
            let failed = i["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "page.failed")
                .count();
            let pd_settled = i["incident"]["outbox"]
                .as_object()
                .unwrap()
                .iter()
                .any(|(k, v)| {
                    k.contains("/pagerduty/") && v["state"] != "owed" && v["state"] != "retrying"
                });
            // The notice is posted just after the failure is recorded.
            let said = i["messages"]
                .to_string()
                .contains("webhook did not reach alice");
            failed == 3 && pd_settled && said
        },
    );
    let kinds: Vec<&str> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    let pd_delivery = record["incident"]["outbox"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.contains("/pagerduty/"))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(pd_delivery["state"], "delivered");
    assert_eq!(pd_delivery["attempts"], 5);
    assert!(kinds.contains(&"page.retrying"), "{kinds:?}");
    let failed: Vec<&Value> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "page.failed")
        .collect();
    for f in &failed {
        assert!(
            f["data"]["delivery"]
                .as_str()
                .unwrap()
                .contains("/webhook/")
        );
        assert!(
            f["data"]["error"]
                .as_str()
                .unwrap()
                .contains("answered 503"),
            "{f}"
        );
    }
    let hooks = w.pd.received(HOOK);
    assert!(hooks.len() >= 6, "the webhook was retried: {}", hooks.len());
    let said = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .find(|t| t.contains("webhook did not reach alice"))
        .unwrap_or_else(|| panic!("no failure message in the channel: {record}"))
        .to_owned();
    assert!(said.contains("tier 1"), "{said}");
    assert!(said.contains("answered 503"), "{said}");
    assert!(said.contains("alice was paged by e-mail only"), "{said}");
    let (_, metrics) = w.server.get("/metrics");
    assert!(
        metrics.contains("warroom_page_deliveries_total{channel=\"webhook\",result=\"failed\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "warroom_page_deliveries_total{channel=\"pagerduty\",result=\"delivered\"} 1"
        ),
        "{metrics}"
    );
}

#[test]
fn pages_say_what_fired_where_and_how_to_acknowledge_and_are_followed_up() {
    let w = start(Setup {
        escalate_after: "5s",
        ..Setup::default()
    });
    let id = fire(&w, "api-7f9c");
    let link = format!("https://warroom.northwind.example/#/{id}");
    // PagerDuty: the incident link, the runbook, where it fired.
    let trigger = wait("the trigger", 10, || w.pd.accepted(PD).into_iter().next()).body;
    assert_eq!(trigger["client"], "warroom");
    assert_eq!(trigger["client_url"], link.as_str());
    assert_eq!(trigger["links"][0]["href"], link.as_str());
    assert_eq!(
        trigger["links"][1]["href"],
        "https://runbooks.northwind.example/payments-api-down"
    );
    let details = &trigger["payload"]["custom_details"];
    assert_eq!(details["rule"], "payments-api-down");
    assert_eq!(details["source"], "alertmanager");
    assert_eq!(details["cluster"], "prod-eu");
    assert_eq!(details["namespace"], "payments");
    assert_eq!(details["pod"], "api-7f9c");
    assert_eq!(details["node"], "ip-10-0-3-7");
    assert_eq!(details["image"], "ghcr.io/northwind/payments-api:1.42.0");
    assert_eq!(details["description"], "5xx ratio above 20% for 5 minutes");
    assert!(
        details["acknowledge"]
            .as_str()
            .unwrap()
            .contains(&format!("`ack {id}`"))
    );
    assert_eq!(trigger["payload"]["source"], "api-7f9c");
    assert!(
        trigger["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("PAGE {id} sev2: payments api down on api-7f9c"))
    );
    // E-mail: the same facts, the channel by name and how to acknowledge.
    let mail = wait("alice's e-mail", 10, || {
        w.smtp
            .messages()
            .into_iter()
            .find(|m| m["to"][0] == "alice@northwind.example")
    });
    let body = mail["body"].as_str().unwrap();
    for needle in [
        format!("You are paged for {id} (sev2): payments api down on api-7f9c"),
        "Step: primary-oncall tier 1 (round 1)".into(),
        "Fired: rule `payments-api-down` from alertmanager".into(),
        "cluster=prod-eu".into(),
        "image=ghcr.io/northwind/payments-api:1.42.0".into(),
        "namespace=payments".into(),
        "node=ip-10-0-3-7".into(),
        "pod=api-7f9c".into(),
        "What: 5xx ratio above 20% for 5 minutes".into(),
        "Runbook: https://runbooks.northwind.example/payments-api-down".into(),
        format!("Incident: {link}"),
        "Channel: #inc-".into(),
        "reply `ack` in #inc-".into(),
        format!("run `ack {id}`"),
    ] {
        assert!(body.contains(&needle), "no `{needle}` in:\n{body}");
    }
    // Webhook: fields and a text an SMS gateway can forward.
    let hook = wait("alice's webhook", 10, || {
        w.pd.accepted(HOOK)
            .into_iter()
            .find(|r| r.body["person"]["id"] == "alice")
    });
    assert_eq!(hook.body["event"], "page");
    assert_eq!(hook.body["link"], link.as_str());
    assert_eq!(hook.body["location"]["pod"], "api-7f9c");
    assert_eq!(hook.body["rule"], "payments-api-down");
    assert!(
        hook.body["text"]
            .as_str()
            .unwrap()
            .contains("Acknowledge: ")
    );
    assert_eq!(
        hook.headers["idempotency-key"],
        hook.body["key"].as_str().unwrap()
    );
    // Tier 2 five seconds later: its own PagerDuty alert (dedup key), not folded into tier 1's.
    wait("tier 2's trigger", 15, || {
        (w.pd.accepted(PD).len() >= 2).then_some(())
    });
    let triggers = w.pd.accepted(PD);
    assert_ne!(triggers[0].body["dedup_key"], triggers[1].body["dedup_key"]);
    // Each tier to its own PagerDuty service.
    assert_eq!(triggers[0].body["routing_key"], "pd-key");
    assert_eq!(triggers[1].body["routing_key"], "pd-tier2-key");
    assert!(
        triggers[1].body["payload"]["custom_details"]["step"]
            .as_str()
            .unwrap()
            .contains("tier 2")
    );
    // erin acknowledges (outside the channel: her only open page).
    let acked = w.api.ok("erin", "ack", None);
    assert_eq!(acked["message"], format!("acknowledged: {id}"));
    // Follow-ups: PagerDuty acknowledges both alerts; alice's mail gets a reply in the thread.
    let acks = wait("PagerDuty acknowledgements", 10, || {
        let a: Vec<Value> =
            w.pd.accepted(PD)
                .into_iter()
                .filter(|r| r.body["event_action"] == "acknowledge")
                .map(|r| r.body["dedup_key"].clone())
                .collect();
        (a.len() >= 2).then_some(a)
    });
    assert!(acks.contains(&triggers[0].body["dedup_key"]));
    assert!(acks.contains(&triggers[1].body["dedup_key"]));
    let tier2_ack =
        w.pd.accepted(PD)
            .into_iter()
            .find(|r| {
                r.body["event_action"] == "acknowledge"
                    && r.body["dedup_key"] == triggers[1].body["dedup_key"]
            })
            .unwrap();
    assert_eq!(
        tier2_ack.body["routing_key"], "pd-tier2-key",
        "a follow-up goes to the service its page triggered"
    );
    let reply = wait("alice's follow-up", 10, || {
        w.smtp
            .messages()
            .into_iter()
            .find(|m| m["to"][0] == "alice@northwind.example" && !m["in_reply_to"].is_null())
    });
    assert_eq!(reply["in_reply_to"], mail["message_id"]);
    assert!(reply["subject"].as_str().unwrap().starts_with("Re: "));
    assert!(
        reply["body"]
            .as_str()
            .unwrap()
            .contains("was acknowledged by erin"),
        "{reply}"
    );
    // erin herself is not told what she did.
    assert!(
        !w.smtp
            .messages()
            .iter()
            .any(|m| m["to"][0] == "erin@northwind.example" && !m["in_reply_to"].is_null())
    );
    // Resolve: PagerDuty resolves both alerts, the webhook hears it.
    w.api
        .ok("carol", "incident resolve rolled back 1.42.0", Some(&id));
    wait("PagerDuty resolves", 10, || {
        (w.pd
            .accepted(PD)
            .iter()
            .filter(|r| r.body["event_action"] == "resolve")
            .count()
            >= 2)
            .then_some(())
    });
    let resolved = wait("the webhook's resolve", 10, || {
        w.pd.accepted(HOOK)
            .into_iter()
            .find(|r| r.body["event"] == "resolve" && r.body["person"]["id"] == "alice")
    });
    assert!(
        resolved.body["text"]
            .as_str()
            .unwrap()
            .contains("rolled back 1.42.0"),
        "{:?}",
        resolved.body
    );
    // The timeline names each step's page and the follow-ups.
    let t = timeline(&w, &id);
    let describe: Vec<&str> = t.iter().filter_map(|e| e["describe"].as_str()).collect();
    assert!(
        describe
            .iter()
            .any(|d| d.starts_with("Page P1: paged policy:primary-oncall")
                && d.contains("step primary-oncall tier 1 (round 1)")),
        "{describe:#?}"
    );
    assert!(t.iter().any(|e| e["kind"] == "page.follow_up"));
}

#[test]
fn ack_scopes_an_exhausted_escalation_and_reminders_across_a_restart() {
    let fake = FakeSlack::start();
    fake.add_channel("C0STAKEHOLDERS", "incidents");
    let mut w = start(Setup {
        escalate_after: "1s",
        status_every: Some("6s"),
        slack: Some(fake.base.clone()),
        ..Setup::default()
    });
    // Two incidents page bob (platform, tier 1): a bare `ack` outside both is refused.
    let a = fire(&w, "api-1");
    let b = fire(&w, "api-2");
    w.api.wait_until(&b, "the page", |i| {
        i["incident"]["unacknowledged"]
            .as_array()
            .is_some_and(|u| !u.is_empty())
    });
    let (status, refused) = w.api.command("bob", "ack", None);
    assert_eq!(status, 400, "{refused}");
    let text = refused["message"].as_str().unwrap();
    assert!(text.contains("bob has 2 open pages"), "{text}");
    assert!(text.contains(&a) && text.contains(&b), "{text}");
    assert!(text.contains("`ack all`"), "{text}");
    assert!(
        !w.api.incident(&a)["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "page.acknowledged")
    );
    // `ack INC-…` names one; `ack all` says it in words.
    let one = w.api.ok("bob", &format!("ack {a}"), None);
    assert_eq!(one["message"], format!("acknowledged: {a}"));
    // Nobody acknowledges b for the whole policy (2 tiers, repeat 2: six steps, 1 s each).
    // Recorded, then said: wait for both.
    let exhausted = w.api.wait_until(&b, "the escalation to run out", |i| {
        i["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "escalation.exhausted")
            && i["messages"]
                .to_string()
                .contains(&format!("Nobody acknowledged {b}"))
    });
    assert_eq!(
        exhausted["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "page.sent")
            .count(),
        6
    );
    assert!(
        exhausted["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["text"].as_str())
            .any(|t| t.contains(&format!("Nobody acknowledged {b}"))
                && t.contains("ran out after 3 round(s)")),
        "{exhausted}"
    );
    // The stakeholder channel hears it too.
    wait("the stakeholder channel to hear it", 10, || {
        fake.calls_to("chat.postMessage").into_iter().find(|body| {
            body.contains("C0STAKEHOLDERS") && body.contains(&format!("Nobody acknowledged {b}"))
        })
    });
    let all = w.api.ok("bob", "ack all", None);
    assert!(
        all["message"] == format!("acknowledged: {b}")
            || all["message"]
                .as_str()
                .unwrap()
                .starts_with("acknowledged all"),
        "{all}"
    );
    // The escalation ran out, yet the alerts its pages opened on PagerDuty are still open:
    // the acknowledgement follows up every one of them.
    let opened_for_b = |action: &str| -> BTreeSet<String> {
        w.pd.accepted(PD)
            .into_iter()
            .filter(|r| r.body["event_action"] == action)
            .filter_map(|r| r.body["dedup_key"].as_str().map(str::to_owned))
            .filter(|k| k.contains(&b))
            .collect()
    };
    let triggered = opened_for_b("trigger");
    assert!(!triggered.is_empty(), "b's pages reached PagerDuty");
    wait(
        "PagerDuty to hear every exhausted page acknowledged",
        10,
        || (opened_for_b("acknowledge") == triggered).then_some(()),
    );
    // Reminders: a new incident's status-update reminder (every 6 s) comes once per 6 s; a
    // clean restart right after one does not repeat it, and the count goes on from the ledger.
    let c = w.api.open_incident("reminded");
    let reminders = |w: &World| {
        w.api.incident(&c)["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "reminder.sent")
            .count()
    };
    wait("the first reminder", 20, || {
        (reminders(&w) >= 1).then_some(())
    });
    restart(&mut w, false);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(reminders(&w), 1, "a restart repeated a reminder");
    wait("the reminders to go on after the restart", 40, || {
        (reminders(&w) >= 3).then_some(())
    });
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(reminders(&w), 3, "three reminders, no more");
    let said: Vec<String> = w.api.incident(&c)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .filter(|t| t.contains("No status update"))
        .map(str::to_owned)
        .collect();
    // The console keeps this run's messages: the two reminders after the restart.
    assert_eq!(said.len(), 2, "{said:?}");
}

#[test]
fn a_slack_page_cut_by_a_kill_is_found_in_the_conversation_and_not_posted_twice() {
    let fake = FakeSlack::start();
    // Slack posts the page at once but answers late: warroom is killed before it hears.
    fake.delay_pages(Duration::from_millis(1500));
    let mut w = start(Setup {
        slack: Some(fake.base.clone()),
        ..Setup::default()
    });
    let id = w.api.open_incident("lookup before posting again");
    w.api.ok("alice", "page bob wake up", Some(&id));
    let page_posts = |fake: &FakeSlack| {
        fake.calls_to("chat.postMessage")
            .into_iter()
            .filter(|b| b.contains("warroom_page"))
            .collect::<Vec<_>>()
    };
    wait("the page DM to reach Slack", 10, || {
        (!page_posts(&fake).is_empty()).then_some(())
    });
    restart(&mut w, true);
    let record = w.api.wait_until(&id, "the Slack delivery settled", |i| {
        i["incident"]["outbox"]["P1/slack/bob"]["state"] == "delivered"
    });
    // Found by its key in the conversation: posted once, the e-mail and webhook sent too.
    let posts = page_posts(&fake);
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert!(posts[0].contains(&format!("/{id}/P1/bob")), "{}", posts[0]);
    assert!(
        fake.calls_to("conversations.history")
            .iter()
            .any(|b| b.contains("include_all_metadata=true") && b.contains("D0DIRECT")),
        "warroom looked in the conversation first"
    );
    for needle in [
        "Acknowledge",
        "wake up (paged by alice)",
        &format!("https://warroom.northwind.example/#/{id}"),
        "Channel: #inc-",
    ] {
        assert!(posts[0].contains(needle), "no `{needle}` in {}", posts[0]);
    }
    let outbox = &record["incident"]["outbox"];
    assert_eq!(outbox["P1/slack/bob"]["delivery"]["person"], "bob");
    wait("bob's e-mail and webhook", 10, || {
        let o = outbox_of(&w, &id);
        (o["P1/email/bob"]["state"] == "delivered" && o["P1/webhook/bob"]["state"] == "delivered")
            .then_some(())
    });
}

fn outbox_of(w: &World, id: &str) -> Value {
    w.api.incident(id)["incident"]["outbox"].clone()
}

#[test]
fn a_receiver_that_never_answers_is_given_up_on_after_its_window_while_the_others_deliver() {
    let w = start(Setup {
        retry_for: "15s",
        ..Setup::default()
    });
    // The webhook receiver takes the connection and never answers.
    w.pd.delay(HOOK, Duration::from_secs(120));
    let started = Instant::now();
    let id = fire(&w, "api-7f9c");
    // PagerDuty and e-mail are not held up by it.
    wait("PagerDuty and e-mail to deliver", 15, || {
        (!w.pd.accepted(PD).is_empty() && !w.smtp.messages().is_empty()).then_some(())
    });
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    // Each webhook delivery: no answer within 10 s, tried again, then failed once the
    // window passed — said in the timeline, never left pending.
    let failed = wait("the webhook deliveries to fail", 60, || {
        let t = timeline(&w, &id);
        let failed: Vec<Value> = t
            .into_iter()
            .filter(|e| e["kind"] == "page.failed")
            .collect();
        (failed.len() == 3).then_some(failed)
    });
    for f in &failed {
        let error = f["data"]["error"].as_str().unwrap();
        assert!(
            error.contains("no answer from") && error.contains("within 10 s"),
            "{f}"
        );
    }
    let o = outbox(&w, &id);
    assert!(
        o.values()
            .all(|d| d["state"] == "delivered" || d["state"] == "failed"),
        "{o:?}"
    );
}

#[test]
fn a_page_still_retrying_when_acknowledged_is_withdrawn_and_never_sent_after_the_ack() {
    let w = start(Setup {
        retry_for: "60s",
        ..Setup::default()
    });
    // PagerDuty refuses the first trigger and asks for 4 s; it would take the next one.
    w.pd.script(PD, &[(429, Some(4))]);
    let id = fire(&w, "api-1");
    wait("PagerDuty's first try", 10, || {
        (!w.pd.received(PD).is_empty()).then_some(())
    });
    // While it waits, bob (paged by e-mail too) acknowledges.
    let acked = w.api.ok("bob", &format!("ack {id}"), None);
    assert_eq!(acked["message"], format!("acknowledged: {id}"));
    let record = w
        .api
        .wait_until(&id, "the PagerDuty page to be settled", |i| {
            i["incident"]["outbox"]
                .as_object()
                .unwrap()
                .iter()
                .any(|(k, v)| {
                    k.contains("/pagerduty/") && v["kind"] == "page" && v["state"] == "failed"
                })
        });
    let page = record["incident"]["outbox"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, v)| k.contains("/pagerduty/") && v["kind"] == "page")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        page["error"]
            .as_str()
            .unwrap()
            .contains("not sent: the page was acknowledged before pagerduty took it"),
        "{page}"
    );
    // Past the Retry-After: the trigger was never sent again, so no PagerDuty alert is left
    // open that nothing would close.
    std::thread::sleep(Duration::from_secs(5));
    let triggers: Vec<Received> =
        w.pd.received(PD)
            .into_iter()
            .filter(|r| r.body["event_action"] == "trigger")
            .collect();
    assert_eq!(triggers.len(), 1, "only the refused first try");
    // Withdrawn is not a failure anyone must act on: nothing said in the channel.
    assert!(
        !record["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["text"].as_str())
            .any(|t| t.contains("did not reach")),
        "{record}"
    );
}

#[test]
fn an_alert_that_ends_after_its_escalation_ran_out_unanswered_pages_again_when_it_fires_again() {
    // Two tiers, once through, a second each: nobody answers and it runs out at once.
    let w = start(Setup {
        escalate_after: "1s",
        repeat: 0,
        ..Setup::default()
    });
    let send = |status: &str| {
        let body = warroom_tests::alertmanager_body(
            status,
            json!({
                "alertname": "PaymentsApiDown", "namespace": "payments", "pod": "api-3",
                "cluster": "prod-eu", "node": "ip-10-0-3-7", "image": "ghcr.io/northwind/payments-api:1.42.0"
            }),
            "payments api down on api-3",
        );
        let (code, r) = w
            .api
            .post_json("/alerts/alertmanager", Some(AM_TOKEN), &body);
        assert_eq!(code, 200, "{r}");
        r["alerts"][0].clone()
    };
    let id = fire(&w, "api-3");
    w.api.wait_until(&id, "the escalation to run out", |i| {
        i["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "escalation.exhausted")
    });
    let sent = |w: &World| {
        timeline(w, &id)
            .iter()
            .filter(|e| e["kind"] == "page.sent")
            .count()
    };
    let before = sent(&w);
    let ended = send("resolved");
    assert_eq!(ended["result"], "resolved", "{ended}");
    // It fires again and still nobody has answered: paging starts a new round, as it does
    // when the alert ends while paging goes on.
    let again = send("firing");
    assert_eq!(again["result"], "refired", "{again}");
    assert_eq!(again["paged"], true, "{again}");
    assert!(sent(&w) > before, "a new page was recorded");
}
