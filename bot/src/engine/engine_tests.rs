//! The engine with an injected clock: expiry without sleeping, and the console's view.

use std::sync::Arc;

use tokio::sync::broadcast;
use warroom_adapters::chat::Chat;
use warroom_adapters::chat::console::ConsoleChat;
use warroom_adapters::cluster::kubernetes::{CaptureSettings, KubeCluster};
use warroom_adapters::evidence::LocalEvidenceStore;
use warroom_commands::{Clock, IncidentId, ManualClock, PersonId};
use warroom_drill::{DrillServer, Scenario};
use warroom_ledger::Ledger;

use super::{Code, Engine};

struct Fixture {
    engine: Arc<Engine>,
    clock: Arc<ManualClock>,
    console: Arc<ConsoleChat>,
    _dir: tempfile::TempDir,
    _drill: warroom_drill::DrillHandle,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new("2026-11-27T02:00:00Z".parse().unwrap()));
    let drill = DrillServer::start(Scenario::payments(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (engine, console) = engine_over(dir.path(), clock.clone(), &drill.url());
    Fixture {
        engine,
        clock,
        console,
        _dir: dir,
        _drill: drill,
    }
}

fn p(id: &str) -> PersonId {
    id.into()
}

#[tokio::test]
async fn pending_requests_expire_when_the_clock_passes_their_ttl() {
    let f = fixture().await;
    let opened = f
        .engine
        .handle(&p("alice"), "incident open \"ttl\" --severity sev2", None)
        .await;
    let id: IncidentId = opened.incident.unwrap().parse().unwrap();
    let r = f
        .engine
        .handle(
            &p("alice"),
            "quarantine pod payments/api-7f9c --reason shell",
            Some(id.clone()),
        )
        .await;
    assert_eq!(r.status.as_deref(), Some("pending"), "{}", r.message);
    f.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(f.engine.sweep().await, 0);
    f.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(f.engine.sweep().await, 1);
    let late = f
        .engine
        .handle(&p("bob"), "approve R1", Some(id.clone()))
        .await;
    assert_eq!(late.code, Code::Conflict);
    assert_eq!(
        late.message,
        "R1 is expired; nothing more can be decided on it"
    );
    let card = f
        .console
        .messages(&id, None)
        .into_iter()
        .find(|m| m.request.as_deref() == Some("R1"))
        .unwrap();
    assert!(card.text.contains("status: expired"), "{}", card.text);
    assert!(
        !card.text.contains("[Approve]"),
        "an expired card offers no buttons"
    );
}

#[tokio::test]
async fn the_channel_is_named_by_the_plan_and_pages_reach_people_directly() {
    let f = fixture().await;
    let opened = f
        .engine
        .handle(
            &p("alice"),
            "incident open \"Shell in payments-api!\" --severity sev1",
            None,
        )
        .await;
    assert!(
        opened
            .message
            .contains("channel #inc-20261127-shell-in-payments-api"),
        "{}",
        opened.message
    );
    let id: IncidentId = opened.incident.unwrap().parse().unwrap();
    let (name, topic, members) = f.console.channel_info(&id).unwrap();
    assert_eq!(name, "inc-20261127-shell-in-payments-api");
    assert!(topic.contains("sev1"));
    assert!(members.contains(&p("carol")));
    // Only people who may act on an incident see its channel: frank (comms, scribe) follows
    // the stakeholder channel.
    assert!(members.contains(&p("alice")) && members.contains(&p("dave")));
    assert!(!members.contains(&p("frank")), "{members:?}");
    let paged = f
        .engine
        .handle(&p("alice"), "page carol need a commander", Some(id))
        .await;
    assert!(paged.ok, "{}", paged.message);
    assert!(
        f.console.direct_messages(&p("carol"))[0]
            .text
            .contains("need a commander (paged by alice)")
    );
}

/// The engine (and its console) over a ledger folder — a new one, or one reopened as after
/// a restart — with the drill cluster at `drill_url` as `prod-eu`.
fn engine_over(
    dir: &std::path::Path,
    clock: Arc<ManualClock>,
    drill_url: &str,
) -> (Arc<Engine>, Arc<ConsoleChat>) {
    let dyn_clock: Arc<dyn Clock> = clock;
    let ledger = Arc::new(Ledger::open(dir, dyn_clock.clone()).unwrap());
    let console = Arc::new(ConsoleChat::new(
        dyn_clock.clone(),
        broadcast::channel(64).0,
    ));
    let store = Arc::new(LocalEvidenceStore::new(dir.join("evidence")));
    let mut kube = KubeCluster::new(
        store,
        CaptureSettings {
            collect: Vec::new(),
            max_log_bytes: 1 << 20,
        },
    );
    let client = KubeCluster::client_for_url(drill_url).unwrap();
    kube.add(
        "prod-eu",
        client,
        drill_url.to_owned(),
        warroom_config::NetworkPolicyEngine::Calico,
    );
    let chats: Vec<Arc<dyn Chat>> = vec![console.clone()];
    let engine = Engine::new(
        Arc::new(warroom_config::builtin()),
        ledger,
        chats,
        Arc::new(kube),
        dyn_clock,
        Arc::new(|_: Option<&IncidentId>| {}),
        Vec::new(),
    );
    (engine, console)
}

/// A ledger folder, a clock at 10:00 UTC on a Friday and a drill cluster: the engine over
/// them can be dropped and built again, as across a restart.
struct AlertWorld {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    drill: warroom_drill::DrillHandle,
}

impl AlertWorld {
    async fn new() -> AlertWorld {
        AlertWorld {
            dir: tempfile::tempdir().unwrap(),
            clock: Arc::new(ManualClock::new("2026-11-27T10:00:00Z".parse().unwrap())),
            drill: DrillServer::start(Scenario::payments(), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap(),
        }
    }

    fn engine(&self) -> Arc<Engine> {
        engine_over(self.dir.path(), self.clock.clone(), &self.drill.url()).0
    }
}

fn egress_alert() -> warroom_commands::alert::Alert {
    let body = br#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"UnexpectedEgressTraffic","severity":"critical","namespace":"payments","pod":"api-7f9c"},"annotations":{"summary":"api-7f9c talks to 203.0.113.9:4444"}}]}"#;
    warroom_commands::alert::parse_alertmanager(body)
        .unwrap()
        .remove(0)
}

fn steps(engine: &Engine, id: &IncidentId) -> Vec<(u64, u64)> {
    engine
        .ledger
        .timeline(id)
        .unwrap()
        .iter()
        .filter(|e| e.kind == "page.sent")
        .map(|e| {
            (
                e.data["step"]["round"].as_u64().unwrap(),
                e.data["step"]["tier"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn escalation_pages_the_next_tier_only_without_an_ack_and_survives_a_restart() {
    let w = AlertWorld::new().await;
    let clock = w.clock.clone();
    let relay = Some("10.1.2.3".parse().unwrap());
    let engine = w.engine();
    let out = engine.alert(egress_alert(), relay).await.unwrap();
    assert_eq!((out.result, out.paged), ("opened", true));
    let id: IncidentId = out.incident.unwrap().parse().unwrap();
    assert_eq!(steps(&engine, &id), vec![(0, 0)], "tier 1 at once");
    // security-incident: tier 1 waits 5 minutes for an acknowledgement.
    clock.advance(chrono::TimeDelta::seconds(4 * 60));
    assert_eq!(engine.escalate_due().await, 0);
    clock.advance(chrono::TimeDelta::seconds(60));
    assert_eq!(engine.escalate_due().await, 1);
    assert_eq!(engine.escalate_due().await, 0, "a step is paged once");
    assert_eq!(steps(&engine, &id), vec![(0, 0), (0, 1)]);

    // warroom stops; tier 2's ten minutes pass while it is down.
    drop(engine);
    clock.advance(chrono::TimeDelta::seconds(11 * 60));
    let engine = w.engine();
    engine.recover().await.unwrap();
    // The step that fell due goes out once when warroom is back: the policy starts round 2.
    assert_eq!(engine.escalate_due().await, 1);
    assert_eq!(engine.escalate_due().await, 0);
    assert_eq!(steps(&engine, &id), vec![(0, 0), (0, 1), (1, 0)]);

    // alice (security tier 1) acknowledges: nothing more is paged, however long it waits.
    let acked = engine.handle(&p("alice"), "ack", Some(id.clone())).await;
    assert!(acked.ok, "{}", acked.message);
    clock.advance(chrono::TimeDelta::seconds(3600));
    assert_eq!(engine.escalate_due().await, 0);
    assert_eq!(steps(&engine, &id).len(), 3);
    // A repeat of the alert joins the incident and pages nobody.
    let again = engine.alert(egress_alert(), relay).await.unwrap();
    assert_eq!((again.result, again.paged), ("repeat", false));
    assert_eq!(again.incident.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn an_escalation_with_no_acknowledgement_ends_after_its_repeats() {
    let w = AlertWorld::new().await;
    let clock = w.clock.clone();
    let engine = w.engine();
    let out = engine
        .alert(egress_alert(), Some("10.1.2.3".parse().unwrap()))
        .await
        .unwrap();
    let id: IncidentId = out.incident.unwrap().parse().unwrap();
    // Two tiers, repeat = 3: eight steps in all, then nothing more.
    for _ in 0..20 {
        clock.advance(chrono::TimeDelta::seconds(10 * 60));
        engine.escalate_due().await;
    }
    let all = steps(&engine, &id);
    assert_eq!(all.len(), 8, "{all:?}");
    assert_eq!(all.last(), Some(&(3, 1)));
}

#[tokio::test]
async fn incidents_without_a_commander_or_a_status_update_are_reminded_a_few_times() {
    let f = fixture().await;
    let opened = f
        .engine
        .handle(&p("alice"), "incident open \"Egress from api\"", None)
        .await;
    let id: IncidentId = opened.incident.unwrap().parse().unwrap();
    let reminders = |kind: &str| {
        f.console
            .messages(&id, None)
            .iter()
            .filter(|m| m.text.contains(kind))
            .count()
    };
    assert_eq!(f.engine.nudge_due().await, 0, "nothing due at once");
    f.clock.advance(chrono::TimeDelta::minutes(5));
    assert_eq!(f.engine.nudge_due().await, 1);
    assert_eq!(f.engine.nudge_due().await, 0, "not again right away");
    assert_eq!(reminders("has no commander yet"), 1);
    // Hours pass: at most three commander reminders; status reminders every 30 minutes, at
    // most three for one missed update.
    for _ in 0..24 {
        f.clock.advance(chrono::TimeDelta::minutes(10));
        f.engine.nudge_due().await;
    }
    assert_eq!(reminders("has no commander yet"), 3);
    assert_eq!(reminders("No status update"), 3);
    // A commander and a status update end the reminders until the next update is overdue.
    f.engine
        .handle(&p("carol"), "role commander @carol", Some(id.clone()))
        .await;
    f.engine
        .handle(
            &p("carol"),
            "status-update contained; watching egress",
            Some(id.clone()),
        )
        .await;
    f.clock.advance(chrono::TimeDelta::minutes(29));
    assert_eq!(f.engine.nudge_due().await, 0);
    f.clock.advance(chrono::TimeDelta::minutes(1));
    assert_eq!(f.engine.nudge_due().await, 1);
    assert_eq!(reminders("No status update"), 4);
    assert_eq!(reminders("has no commander yet"), 3);
}

#[tokio::test]
async fn an_events_v2_acknowledge_stops_the_escalation_like_pagerduty() {
    let w = AlertWorld::new().await;
    let clock = w.clock.clone();
    // The plan's generic rule wants the GuardDuty relay network and a finding type.
    let relay = Some("10.20.0.7".parse().unwrap());
    let engine = w.engine();
    let event = |action: &str| {
        let body = format!(
            r#"{{"routing_key":"k","event_action":"{action}","dedup_key":"gd-1","payload":{{"summary":"crypto mining on i-0abc","source":"guardduty","severity":"critical","custom_details":{{}}}}}}"#
        );
        let (_, mut alert) = warroom_commands::alert::parse_events_v2(body.as_bytes()).unwrap();
        alert.fields.insert(
            "finding_type".into(),
            "CryptoCurrency:EC2/BitcoinTool.B!DNS".into(),
        );
        alert
    };
    let opened = engine.alert(event("trigger"), relay).await.unwrap();
    assert_eq!((opened.result, opened.paged), ("opened", true));
    let id: IncidentId = opened.incident.unwrap().parse().unwrap();
    // As senders send it: no payload, only the dedup key.
    let (_, ack) = warroom_commands::alert::parse_events_v2(
        br#"{"routing_key":"k","event_action":"acknowledge","dedup_key":"gd-1"}"#,
    )
    .unwrap();
    let acked = engine.alert(ack, relay).await.unwrap();
    assert_eq!(acked.result, "acknowledged");
    clock.advance(chrono::TimeDelta::hours(2));
    assert_eq!(engine.escalate_due().await, 0);
    assert_eq!(steps(&engine, &id).len(), 1);
    assert!(
        engine
            .ledger
            .timeline(&id)
            .unwrap()
            .iter()
            .any(|e| e.kind == "alert.acknowledged")
    );
}

#[tokio::test]
async fn a_flapping_alert_pages_again_a_resolved_incident_lets_it_open_anew_and_acks_win_races() {
    let w = AlertWorld::new().await;
    let relay = Some("10.1.2.3".parse().unwrap());
    let engine = w.engine();
    let resolved = || {
        let mut a = egress_alert();
        a.status = warroom_commands::alert::AlertStatus::Resolved;
        a
    };
    let first = engine.alert(egress_alert(), relay).await.unwrap();
    let id: IncidentId = first.incident.unwrap().parse().unwrap();
    // Ends at its source (redelivered twice: recorded once), then fires again unacknowledged.
    assert_eq!(
        engine.alert(resolved(), relay).await.unwrap().result,
        "resolved"
    );
    assert_eq!(
        engine.alert(resolved(), relay).await.unwrap().result,
        "repeat"
    );
    assert_eq!(
        engine
            .ledger
            .timeline(&id)
            .unwrap()
            .iter()
            .filter(|e| e.kind == "alert.resolved")
            .count(),
        1
    );
    let again = engine.alert(egress_alert(), relay).await.unwrap();
    assert_eq!((again.result, again.paged), ("refired", true));
    assert_eq!(steps(&engine, &id), vec![(0, 0), (1, 0)]);
    // The new round's alert is in the timeline, before its page.
    let kinds: Vec<String> = engine
        .ledger
        .timeline(&id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    let received: Vec<usize> = (0..kinds.len())
        .filter(|i| kinds[*i] == "alert.received")
        .collect();
    assert_eq!(received.len(), 2, "{kinds:?}");
    assert_eq!(kinds[received[1] + 1], "page.sent", "{kinds:?}");

    // An acknowledgement wins over a step computed before it.
    let incident = engine.ledger.incident(&id).unwrap();
    assert!(engine.handle(&p("alice"), "ack", Some(id.clone())).await.ok);
    let policy = warroom_config::PolicyId::from("security-incident");
    assert!(!engine.page_policy(&incident, &policy, 1, 1).await);
    assert_eq!(steps(&engine, &id).len(), 2);

    // Resolved by a person: the same alert opens a new incident.
    let done = engine
        .handle(
            &p("carol"),
            "incident resolve --confirm contained",
            Some(id.clone()),
        )
        .await;
    assert!(done.ok, "{}", done.message);
    let next = engine.alert(egress_alert(), relay).await.unwrap();
    assert_eq!(next.result, "opened");
    assert_ne!(next.incident.as_deref(), Some(id.as_str()));
}

/// An incident written for the egress alert as warroom writes it (its opening entry naming
/// `rule`), with nothing paged: warroom died right after.
async fn opened_unpaged(engine: &Engine, rule: &str) -> IncidentId {
    let fp = format!("alertmanager:{}", egress_alert().fingerprint);
    let opened = engine
        .ledger
        .open_for_alert(
            "api-7f9c talks to 203.0.113.9:4444",
            warroom_config::Severity::Sev2,
            &warroom_commands::Actor::System,
            &fp,
            rule,
        )
        .await
        .unwrap();
    let warroom_ledger::AlertIncident::Opened(c) = opened else {
        panic!("a new incident");
    };
    c.incident.id.clone()
}

#[tokio::test]
async fn an_alert_incident_recorded_but_killed_before_its_first_page_is_paged_after_the_restart() {
    let w = AlertWorld::new().await;
    let relay = Some("10.1.2.3".parse().unwrap());
    let engine = w.engine();
    let id = opened_unpaged(&engine, "unexpected-egress").await;
    drop(engine);
    // Back up: the first page goes out, once.
    let engine = w.engine();
    engine.recover().await.unwrap();
    assert_eq!(engine.page_unpaged_alerts().await, 1);
    assert_eq!(steps(&engine, &id), vec![(0, 0)]);
    assert_eq!(engine.page_unpaged_alerts().await, 0, "paged once");
    // Alertmanager's repeat of the alert joins it and pages nobody more.
    let again = engine.alert(egress_alert(), relay).await.unwrap();
    assert_eq!((again.result, again.paged), ("repeat", false));
    assert_eq!(steps(&engine, &id), vec![(0, 0)]);
}

#[tokio::test]
async fn a_senders_repeat_of_an_alert_never_paged_pages_it() {
    let w = AlertWorld::new().await;
    let relay = Some("10.1.2.3".parse().unwrap());
    let engine = w.engine();
    // Opened by a version that did not name the rule: only the sender's repeat can tell.
    let id = opened_unpaged(&engine, "").await;
    assert_eq!(engine.page_unpaged_alerts().await, 0, "no rule to page by");
    let again = engine.alert(egress_alert(), relay).await.unwrap();
    assert_eq!((again.result, again.paged), ("opened", true));
    assert_eq!(steps(&engine, &id), vec![(0, 0)]);
}

#[tokio::test]
async fn a_channel_two_incidents_recorded_routes_commands_to_neither() {
    let f = fixture().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let opened = f
            .engine
            .handle(&p("alice"), "incident open \"Pod is crash looping\"", None)
            .await;
        ids.push(opened.incident.unwrap().parse::<IncidentId>().unwrap());
    }
    let record = |id: &IncidentId, channel: &str| {
        let event = warroom_commands::Event::ChatChannel {
            platform: "slack".into(),
            channel: channel.into(),
            name: "inc-20261127-pod-is-crash-looping".into(),
        };
        f.engine
            .ledger
            .append(id, &warroom_commands::Actor::System, event)
    };
    // One holder: the channel is that incident's.
    record(&ids[0], "C0SHARED").await.unwrap();
    assert_eq!(
        f.engine.incident_of_channel("slack", "C0SHARED"),
        Some(ids[0].clone())
    );
    // Recorded by a second incident too (a ledger from before channel names were made
    // unique): neither is guessed.
    record(&ids[1], "C0SHARED").await.unwrap();
    assert_eq!(f.engine.incident_of_channel("slack", "C0SHARED"), None);
    assert_eq!(f.engine.incident_of_channel("slack", "C0OTHER"), None);
}

/// A pod `name` in `payments` with no controller, made through the API server; its uid.
fn bare_pod(drill_url: &str, name: &str) -> String {
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "payments", "labels": { "app": "db" } },
        "spec": { "containers": [{ "name": "db", "image": "postgres:16" }] }
    });
    let mut answer = ureq::post(&format!("{drill_url}/api/v1/namespaces/payments/pods"))
        .header("content-type", "application/json")
        .send(pod.to_string())
        .unwrap();
    let made: serde_json::Value = answer.body_mut().read_json().unwrap();
    made["metadata"]["uid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_write_to_a_pod_replaced_since_it_was_approved_changes_nothing() {
    use warroom_adapters::cluster::Execution;
    let f = fixture().await;
    let url = f._drill.url();
    let first = tokio::task::spawn_blocking({
        let url = url.clone();
        move || bare_pod(&url, "db-0")
    })
    .await
    .unwrap();
    let target = warroom_commands::command::Target::pod("payments", "db-0");
    let approved = f.engine.cluster.resolve("prod-eu", &target).await.unwrap();
    assert_eq!(approved.uid.as_deref(), Some(first.as_str()));
    // Deleted and made again under the same name (a StatefulSet does this) after the check.
    let second = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            ureq::delete(&format!(
                "{url}/api/v1/namespaces/payments/pods/db-0?gracePeriodSeconds=0"
            ))
            .call()
            .unwrap();
            bare_pod(&url, "db-0")
        }
    })
    .await
    .unwrap();
    assert_ne!(first, second);
    for action in [
        warroom_config::ActionName::Label,
        warroom_config::ActionName::Quarantine,
    ] {
        let ex = Execution {
            incident: "INC-20261127-0001".parse().unwrap(),
            request: "R1".into(),
            action,
            resolved: approved.clone(),
            params: Default::default(),
            reason: Some("shell".into()),
            requested_by: p("alice"),
            approvers: vec![p("bob")],
            allow_dns: false,
            investigation_labels: Default::default(),
            progress: None,
            undoes: None,
            acts_on: None,
        };
        let refused = f.engine.cluster.execute(&ex).await.unwrap_err().to_string();
        assert!(
            refused.contains("no longer the one approved")
                && refused.contains("nothing was changed"),
            "{action}: {refused}"
        );
    }
    let labels = tokio::task::spawn_blocking(move || {
        let mut answer = ureq::get(&format!("{url}/api/v1/namespaces/payments/pods/db-0"))
            .call()
            .unwrap();
        let pod: serde_json::Value = answer.body_mut().read_json().unwrap();
        pod["metadata"]["labels"].clone()
    })
    .await
    .unwrap();
    assert_eq!(
        labels,
        serde_json::json!({ "app": "db" }),
        "the new pod is untouched"
    );
}
