//! Who commits a write (the waiting writer's own thread, or a committer thread), and batches
//! journalled while the one before is still applied.

use std::sync::Arc;
use std::time::{Duration, Instant};

use warroom_commands::{Actor, Event, IncidentId, Severity, SystemClock};

use crate::{AlertIncident, Ledger};

fn alice() -> Actor {
    "person:alice".parse().unwrap()
}

fn note(text: String) -> Event {
    Event::Note { text }
}

fn opened(ledger: &Ledger) -> IncidentId {
    ledger
        .open_incident("t", Severity::Sev2, &alice())
        .wait()
        .unwrap()
        .incident
        .id
}

/// Poll `done` for up to five seconds.
fn within_five_seconds(mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn a_write_neither_waited_for_nor_awaited_is_still_made() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let id = opened(&ledger);
    drop(ledger.append(&id, &alice(), note("fire and forget".into())));
    assert!(within_five_seconds(|| ledger
        .incident(&id)
        .unwrap()
        .entries
        == 2));
    let timeline = ledger.timeline(&id).unwrap();
    assert_eq!(timeline[1].data["text"], "fire and forget");
}

#[test]
fn waiting_and_awaiting_writers_together_land_each_write_once_in_each_writers_order() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), Arc::new(SystemClock)).unwrap());
    let id = opened(&ledger);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let (ledger, id) = (ledger.clone(), id.clone());
            runtime.spawn(async move {
                for i in 0..40 {
                    let text = format!("awaiting {w} {i}");
                    ledger.append(&id, &alice(), note(text)).await.unwrap();
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..8)
        .map(|w| {
            let (ledger, id) = (ledger.clone(), id.clone());
            std::thread::spawn(move || {
                for i in 0..40 {
                    let text = format!("waiting {w} {i}");
                    ledger.append(&id, &alice(), note(text)).wait().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in tasks {
        runtime.block_on(t).unwrap();
    }
    let timeline = ledger.timeline(&id).unwrap();
    assert_eq!(timeline.len(), 1 + 16 * 40);
    // Each writer's notes appear once each, in the order it wrote them.
    let mut next = std::collections::HashMap::<String, u32>::new();
    for entry in &timeline[1..] {
        let text = entry.data["text"].as_str().unwrap();
        let (writer, i) = text.rsplit_once(' ').unwrap();
        let want = next.entry(writer.to_owned()).or_default();
        assert_eq!(i.parse::<u32>().unwrap(), *want, "{text}");
        *want += 1;
    }
    assert_eq!(next.len(), 16);
    assert!(next.values().all(|n| *n == 40));
    assert_eq!(ledger.verify().unwrap().failure, None);
}

#[test]
fn a_journal_written_by_waiting_writers_alone_is_still_checkpointed_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let id = opened(&ledger);
    // A checkpoint writes a new header (the next epoch) at the journal's start.
    let header = || std::fs::read(dir.path().join("journal")).unwrap()[..512].to_vec();
    assert!(within_five_seconds(|| {
        let before = header();
        std::thread::sleep(Duration::from_millis(1200));
        before == header()
    }));
    let before = header();
    for i in 0..3 {
        ledger
            .append(&id, &alice(), note(format!("n{i}")))
            .wait()
            .unwrap();
    }
    assert!(within_five_seconds(|| header() != before));
}

/// With many writers, one batch is synced while the one before it is applied: an answer must
/// still mean the write is readable, a fingerprint must still open one incident, and a
/// reopened ledger must hold exactly what was answered.
#[test]
fn while_batches_overlap_an_answered_write_is_readable_at_once_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), Arc::new(SystemClock)).unwrap());
    let writers: Vec<_> = (0..12)
        .map(|w| {
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                let id = opened(&ledger);
                let mut alert_incidents = std::collections::HashSet::new();
                for i in 0..60 {
                    let text = format!("writer {w} note {i}");
                    let done = ledger.append(&id, &alice(), note(text.clone())).wait();
                    let entry = done.unwrap().entry;
                    // Readable the moment it is answered: record and timeline.
                    assert_eq!(ledger.incident(&id).unwrap().entries, entry.seq + 1);
                    let timeline = ledger.timeline(&id).unwrap();
                    assert_eq!(timeline.last().unwrap().data["text"], text.as_str());
                    let alert = ledger
                        .open_for_alert("disk", Severity::Sev2, &alice(), "fp-shared", "Disk")
                        .wait()
                        .unwrap();
                    let alert_id = match alert {
                        AlertIncident::Opened(c) => c.incident.id,
                        AlertIncident::Existing(i) => i.id,
                    };
                    assert!(ledger.incident(&alert_id).is_ok(), "{alert_id} unreadable");
                    alert_incidents.insert(alert_id);
                }
                (id, alert_incidents)
            })
        })
        .collect();
    let mut alert_incidents = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for w in writers {
        let (id, seen) = w.join().unwrap();
        ids.push(id);
        alert_incidents.extend(seen);
    }
    assert_eq!(alert_incidents.len(), 1, "one fingerprint, one incident");
    drop(Arc::into_inner(ledger).expect("writers are done"));
    let ledger = Ledger::open(dir.path(), Arc::new(SystemClock)).unwrap();
    for id in &ids {
        assert_eq!(ledger.timeline(id).unwrap().len(), 61, "{id}");
    }
    assert_eq!(ledger.verify().unwrap().failure, None);
}

/// A quarantine request for the suspect pod, numbered by the writer, as the engine sends it.
fn quarantine_spec() -> warroom_commands::RequestSpec {
    use warroom_commands::command::Target;
    use warroom_commands::request::binding;
    use warroom_config::ActionName;
    let target = Target::pod("payments", "api-7f9c");
    let params = std::collections::BTreeMap::new();
    warroom_commands::RequestSpec {
        request: String::new(),
        action: ActionName::Quarantine,
        risk: ActionName::Quarantine.risk(),
        cluster: "prod-eu".into(),
        binding: binding(
            ActionName::Quarantine,
            "prod-eu",
            &target,
            Some("uid-1"),
            &params,
            "plan-1",
        ),
        target,
        uid: Some("uid-1".into()),
        params,
        reason: Some("shell".into()),
        override_reason: None,
        plan_version: "plan-1".into(),
        approvals_needed: 1,
        expires_at: "2999-01-01T00:00:00Z".parse().unwrap(),
        execute_within_secs: 300,
        plan_of_change: None,
        acts_on: None,
        notes: Vec::new(),
    }
}

#[test]
fn two_asks_for_the_same_action_sent_at_once_open_one_request() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let id = opened(&ledger);
    // Both queued before either is answered: the engine's own look passed for both.
    let asks: Vec<_> = (0..2)
        .map(|_| {
            ledger.append(
                &id,
                &alice(),
                Event::RequestOpened(Box::new(quarantine_spec())),
            )
        })
        .collect();
    let outcomes: Vec<_> = asks.into_iter().map(|p| p.wait()).collect();
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0].as_ref().err());
    let refused = outcomes[1].as_ref().err().map(ToString::to_string);
    assert_eq!(
        refused.as_deref(),
        Some(
            "R1 (pending) already asks for this: the same action on the same target; decide on R1 instead"
        )
    );
    assert_eq!(ledger.incident(&id).unwrap().requests.len(), 1);
}
