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
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let ledger = Arc::new(Ledger::open(dir.path(), dyn_clock.clone()).unwrap());
    let console = Arc::new(ConsoleChat::new(
        dyn_clock.clone(),
        broadcast::channel(64).0,
    ));
    let chats: Vec<Arc<dyn Chat>> = vec![console.clone()];
    let drill = DrillServer::start(Scenario::payments(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let store = Arc::new(LocalEvidenceStore::new(dir.path().join("evidence")));
    let mut kube = KubeCluster::new(
        store,
        CaptureSettings {
            collect: Vec::new(),
            max_log_bytes: 1 << 20,
        },
    );
    let client = KubeCluster::client_for_url(&drill.url()).unwrap();
    kube.add(
        "prod-eu",
        client,
        drill.url(),
        warroom_config::NetworkPolicyEngine::Calico,
    );
    let cluster = Arc::new(kube);
    let engine = Engine::new(
        Arc::new(warroom_config::builtin()),
        ledger,
        chats,
        cluster,
        dyn_clock,
        Arc::new(|_: Option<&IncidentId>| {}),
        Vec::new(),
    );
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
    let paged = f
        .engine
        .handle(&p("alice"), "page carol need a commander", Some(id))
        .await;
    assert!(paged.ok, "{}", paged.message);
    assert!(
        f.console.direct_messages(&p("carol"))[0]
            .text
            .contains("You are paged by alice")
    );
}
