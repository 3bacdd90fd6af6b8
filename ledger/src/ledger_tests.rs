//! Behaviour of the ledger as a whole: write, read back, verify, tamper, export.

use std::sync::Arc;

use chrono::TimeZone;
use warroom_commands::{Actor, Event, IncidentStatus, ManualClock, Severity};

use crate::{Break, Ledger, LedgerError, NewEvidence, tamper, to_markdown, verify_export};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).unwrap(),
    ))
}

fn alice() -> Actor {
    "person:alice".parse().unwrap()
}

/// An incident with `notes` appended, in `ledger`.
fn incident_with_notes(ledger: &Ledger, notes: &[&str]) -> warroom_commands::IncidentId {
    let id = ledger
        .open_incident("t", Severity::Sev2, &alice())
        .wait()
        .unwrap()
        .incident
        .id;
    for text in notes {
        ledger
            .append(
                &id,
                &alice(),
                Event::Note {
                    text: text.to_string(),
                },
            )
            .wait()
            .unwrap();
    }
    id
}

#[test]
fn incidents_get_daily_ids_and_a_chained_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let a = ledger
        .open_incident("Shell in payments-api", Severity::Sev2, &alice())
        .wait()
        .unwrap();
    let b = ledger
        .open_incident("Crashloop", Severity::Sev4, &alice())
        .wait()
        .unwrap();
    assert_eq!(a.incident.id.as_str(), "INC-20261127-0001");
    assert_eq!(b.incident.id.as_str(), "INC-20261127-0002");
    let n = ledger
        .append(
            &a.incident.id,
            &alice(),
            Event::Note {
                text: "isolated".into(),
            },
        )
        .wait()
        .unwrap();
    assert_eq!(n.entry.seq, 1);
    assert_eq!(n.entry.prev_hash, a.entry.hash);
    let tl = ledger.timeline(&a.incident.id).unwrap();
    assert_eq!(tl.len(), 2);
    assert_eq!(ledger.incident(&a.incident.id).unwrap().head, n.entry.hash);
    let report = ledger.verify().unwrap();
    assert_eq!(
        (report.incidents, report.entries, report.failure),
        (2, 3, None)
    );
}

#[test]
fn writes_survive_reopening_and_the_day_counter_continues() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let id = {
        let ledger = Ledger::open(dir.path(), clock.clone()).unwrap();
        ledger
            .open_incident("first", Severity::Sev3, &alice())
            .wait()
            .unwrap()
            .incident
            .id
    };
    let ledger = Ledger::open(dir.path(), clock).unwrap();
    assert_eq!(ledger.incident(&id).unwrap().title, "first");
    let next = ledger
        .open_incident("second", Severity::Sev3, &alice())
        .wait()
        .unwrap();
    assert_eq!(next.incident.id.as_str(), "INC-20261127-0002");
}

#[test]
fn a_second_open_of_the_same_folder_gets_a_clear_locked_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Ledger::open(dir.path(), clock()).unwrap();
    match Ledger::open(dir.path(), clock()) {
        Err(LedgerError::Locked { .. }) => {}
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("opened a locked ledger twice"),
    }
    drop(_first);
    Ledger::open(dir.path(), clock()).expect("the folder is free again once closed");
}

#[test]
fn notes_to_unknown_incidents_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let ghost = "INC-20261127-0042".parse().unwrap();
    let err = ledger
        .append(&ghost, &alice(), Event::Note { text: "x".into() })
        .wait()
        .unwrap_err();
    assert!(matches!(err, LedgerError::NoSuchIncident(_)), "{err}");
    assert_eq!(ledger.verify().unwrap().entries, 0);
}

#[test]
fn a_stored_entry_changed_on_disk_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let id = incident_with_notes(
        &Ledger::open(dir.path(), clock()).unwrap(),
        &["one", "two", "three"],
    );
    tamper::rewrite_entry(dir.path(), &id, 2, |e| {
        e.data = serde_json::json!({"text": "TWO"})
    })
    .unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let failure = ledger
        .verify()
        .unwrap()
        .failure
        .expect("tampering must be found");
    assert_eq!((failure.incident.as_str(), failure.seq), (id.as_str(), 2));
    assert!(matches!(failure.reason, Break::Hash { .. }));
}

#[test]
fn a_rehashed_forgery_still_breaks_the_next_link() {
    let dir = tempfile::tempdir().unwrap();
    let id = incident_with_notes(&Ledger::open(dir.path(), clock()).unwrap(), &["one", "two"]);
    tamper::rewrite_entry(dir.path(), &id, 1, |e| {
        e.data = serde_json::json!({"text": "ONE"});
        e.hash = e.compute_hash().unwrap();
    })
    .unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let failure = ledger.verify().unwrap().failure.unwrap();
    assert_eq!(failure.seq, 2);
    assert!(matches!(failure.reason, Break::PrevHash { .. }));
}

#[test]
fn evidence_is_chained_and_exported_and_any_change_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let id = incident_with_notes(&ledger, &[]);
    let ev = ledger
        .record_evidence(
            &id,
            &alice(),
            NewEvidence {
                name: "payments/api-7f9c/pod.json".into(),
                sha256: "ab".repeat(32),
                size: 1234,
                location: "evidence/INC/pod.json".into(),
                approval: Some("REQ-1".into()),
            },
        )
        .wait()
        .unwrap();
    assert_eq!(ev.evidence.as_ref().unwrap().entry_seq, 1);
    ledger
        .append(
            &id,
            &alice(),
            Event::Resolved {
                summary: "contained".into(),
            },
        )
        .wait()
        .unwrap();
    assert_eq!(
        ledger.incident(&id).unwrap().status,
        IncidentStatus::Resolved
    );

    let export = ledger
        .export(&id, "2026-11-27T03:00:00.000000Z".into(), "cli:root".into())
        .unwrap();
    let text = serde_json::to_string_pretty(&export).unwrap();
    let ok = verify_export(&text).unwrap();
    assert_eq!((ok.entries, ok.evidence), (3, 1));

    // Change each field of each entry in turn: every change is caught and names the entry.
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    for seq in 0..3usize {
        for field in [
            "seq",
            "at",
            "actor",
            "kind",
            "data",
            "prev_hash",
            "hash",
            "incident",
        ] {
            let mut altered = doc.clone();
            let slot = &mut altered["entries"][seq][field];
            *slot = match slot {
                serde_json::Value::Number(n) => serde_json::json!(n.as_u64().unwrap() + 7),
                serde_json::Value::String(s) => serde_json::json!(format!("{s}x")),
                _ => serde_json::json!({"text": "forged"}),
            };
            match verify_export(&altered.to_string()) {
                Err(crate::ExportError::Tampered(e)) => {
                    assert!(
                        e.seq == seq as u64 || field == "seq",
                        "{field} of {seq}: named {}",
                        e.seq
                    )
                }
                other => panic!("{field} of entry {seq}: expected Tampered, got {other:?}"),
            }
        }
    }
    let mut altered = doc.clone();
    altered["evidence"][0]["sha256"] = serde_json::json!("cd".repeat(32));
    assert!(verify_export(&altered.to_string()).is_err());
    // Any field of the record, not only its digest; and a record left out is named too.
    for field in [
        "name",
        "location",
        "collected_by",
        "collected_at",
        "approval",
    ] {
        let mut altered = doc.clone();
        altered["evidence"][0][field] = serde_json::json!("forged");
        assert!(verify_export(&altered.to_string()).is_err(), "{field}");
    }
    let mut altered = doc.clone();
    altered["evidence"] = serde_json::json!([]);
    match verify_export(&altered.to_string()) {
        Err(crate::ExportError::Tampered(e)) => assert_eq!(e.seq, 1, "{e}"),
        other => panic!("an export without its evidence record: {other:?}"),
    }
    let mut altered = doc.clone();
    altered["incident"]["title"] = serde_json::json!("nothing happened");
    assert!(verify_export(&altered.to_string()).is_err());
    assert!(matches!(
        verify_export("{not json"),
        Err(crate::ExportError::Unreadable(_))
    ));

    let md = to_markdown(&export);
    assert!(
        md.contains("Resolved: contained") && md.contains(&"ab".repeat(32)),
        "{md}"
    );
}

#[test]
fn the_markdown_export_shows_markup_from_outside_as_text_never_as_html_or_links() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let id = ledger
        .open_incident(
            "<img src=x onerror=alert(document.domain)>",
            Severity::Sev1,
            &alice(),
        )
        .wait()
        .unwrap()
        .incident
        .id;
    for text in [
        "[click](javascript:alert(1)) ![i](http://x/p.png) <https://evil.example> `code` a\\|b",
        "two\nlines & <script>alert(1)</script>",
    ] {
        ledger
            .append(&id, &alice(), Event::Note { text: text.into() })
            .wait()
            .unwrap();
    }
    let export = ledger
        .export(&id, "2026-11-27T03:00:00.000000Z".into(), "cli:root".into())
        .unwrap();
    let md = to_markdown(&export);
    for raw in ["<img", "<script", "<https"] {
        assert!(!md.contains(raw), "{raw} is live in: {md}");
    }
    // No link or image: every `](` is an escaped bracket's.
    assert!(
        md.match_indices("](").all(|(i, _)| md[..i].ends_with('\\')),
        "a live link in: {md}"
    );
    assert!(
        md.contains("&lt;img src=x onerror=alert(document.domain)&gt;")
            && md.contains("\\[click\\](javascript:alert(1))")
            && md.contains("two<br>lines &amp; &lt;script&gt;"),
        "{md}"
    );
    // Each entry is still one row of four cells.
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| 1 ") || l.starts_with("| 2 "))
        .collect();
    assert_eq!(rows.len(), 2, "{md}");
    assert!(
        rows.iter().all(|r| r.matches(" | ").count() == 3),
        "{rows:#?}"
    );
}

#[test]
fn evidence_recorded_while_a_check_runs_is_never_named_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = std::sync::Arc::new(Ledger::open(dir.path(), clock()).unwrap());
    let id = incident_with_notes(&ledger, &["a note"]);
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (ledger, writing, id) = (ledger.clone(), writing.clone(), id.clone());
        std::thread::spawn(move || {
            for i in 0..400 {
                ledger
                    .record_evidence(
                        &id,
                        &alice(),
                        NewEvidence {
                            name: format!("a-{i}.txt"),
                            sha256: "ab".repeat(32),
                            size: 10,
                            location: format!("evidence/a-{i}.txt"),
                            approval: None,
                        },
                    )
                    .wait()
                    .unwrap();
            }
            writing.store(false, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let digest = |_: &str, _: &mut dyn FnMut(u64)| Ok(("ab".repeat(32), 10));
    let mut checks = 0;
    while writing.load(std::sync::atomic::Ordering::SeqCst) {
        let (_, problems) = ledger.check_evidence(&digest, &mut |_, _| {}).unwrap();
        assert!(problems.is_empty(), "after {checks} checks: {problems:#?}");
        checks += 1;
    }
    writer.join().unwrap();
    assert!(checks > 0);
}

#[test]
fn evidence_is_checked_from_the_chained_entries_not_from_the_records_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let ledger = Ledger::open(dir.path(), clock()).unwrap();
        let id = incident_with_notes(&ledger, &["a note"]);
        for name in ["pod.json", "logs.txt", "netstat.txt"] {
            ledger
                .record_evidence(
                    &id,
                    &alice(),
                    NewEvidence {
                        name: name.into(),
                        sha256: "ab".repeat(32),
                        size: 10,
                        location: format!("evidence/{name}"),
                        approval: None,
                    },
                )
                .wait()
                .unwrap();
        }
        id
    };
    // Entries 2, 3 and 4 recorded the three artifacts. Behind the ledger's back: one record
    // changed, one removed, one moved onto the note's entry (1).
    {
        let db = sled::open(dir.path().join("sled")).unwrap();
        let evidence = db.open_tree(crate::keys::EVIDENCE).unwrap();
        let key = |seq| crate::keys::evidence_key(&id, seq);
        let mut changed: crate::records::EvidenceRecord =
            serde_json::from_slice(&evidence.get(key(2)).unwrap().unwrap()).unwrap();
        changed.collected_by = "person:mallory".into();
        evidence
            .insert(key(2), serde_json::to_vec(&changed).unwrap())
            .unwrap();
        evidence.remove(key(3)).unwrap();
        // The removed record's entry is stored again spelled otherwise (the same JSON, other
        // spacing): the chain hashes the decoded entry, so it still passes, and the check
        // must still find the entry.
        let timeline = db.open_tree(crate::keys::TIMELINE).unwrap();
        let at = crate::keys::timeline_key(&id, 3);
        let stored = String::from_utf8(timeline.get(&at).unwrap().unwrap().to_vec()).unwrap();
        let respaced = stored.replace(
            r#""kind":"evidence.recorded""#,
            r#""kind": "evidence.recorded""#,
        );
        assert_ne!(respaced, stored);
        timeline.insert(&at, respaced.as_bytes()).unwrap();
        let mut moved: crate::records::EvidenceRecord =
            serde_json::from_slice(&evidence.remove(key(4)).unwrap().unwrap()).unwrap();
        moved.entry_seq = 1;
        evidence
            .insert(key(1), serde_json::to_vec(&moved).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let hashed = std::sync::Mutex::new(Vec::new());
    let digest = |location: &str, _: &mut dyn FnMut(u64)| {
        hashed.lock().unwrap().push(location.to_owned());
        Ok(("ab".repeat(32), 10))
    };
    let (checked, problems) = ledger.check_evidence(&digest, &mut |_, _| {}).unwrap();
    assert_eq!(checked, 3, "one per evidence entry");
    let said: Vec<(String, String)> = problems
        .iter()
        .map(|p| (p.name.clone(), p.problem.clone()))
        .collect();
    assert!(
        said.contains(&(
            "pod.json".into(),
            "the evidence record differs from its timeline entry 2".into()
        )) && said.contains(&(
            "logs.txt".into(),
            "timeline entry 3 recorded it, but its evidence record is missing".into()
        )) && said.iter().any(|(n, p)| n == "netstat.txt"
            && p == "timeline entry 4 recorded it, but its evidence record is missing")
            && said
                .iter()
                .any(|(n, p)| n == "netstat.txt" && p.starts_with("no timeline entry recorded it")),
        "{said:#?}"
    );
    // Every artifact the entries name was re-hashed, the one without a record too.
    let mut hashed = hashed.into_inner().unwrap();
    hashed.sort();
    assert_eq!(
        hashed,
        [
            "evidence/logs.txt",
            "evidence/netstat.txt",
            "evidence/pod.json"
        ]
    );
    // And an export of it says so, rather than "no evidence".
    let e = ledger
        .export(&id, "2026-11-27T03:00:00.000000Z".into(), "cli:root".into())
        .unwrap_err()
        .to_string();
    assert!(e.contains("its evidence record is missing"), "{e}");
    // Salvage carries over only records their entries recorded: the changed one and the
    // moved one are counted lost, not copied for the new ledger's verify to fail on.
    drop(ledger);
    let to = tempfile::tempdir().unwrap();
    let report = crate::salvage::salvage(dir.path(), &to.path().join("new"), clock()).unwrap();
    let mine = report
        .incidents
        .iter()
        .find(|i| i.incident == id.to_string())
        .unwrap();
    assert_eq!((mine.evidence_kept, mine.evidence_lost), (0, 2), "{mine:?}");
    assert!(!report.complete());
}

#[test]
fn sixteen_concurrent_writers_lose_nothing_and_keep_every_chain_intact() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), clock()).unwrap());
    let id = ledger
        .open_incident("shared", Severity::Sev2, &alice())
        .wait()
        .unwrap()
        .incident
        .id;
    let handles: Vec<_> = (0..16)
        .map(|w| {
            let (ledger, id) = (ledger.clone(), id.clone());
            std::thread::spawn(move || {
                for i in 0..20 {
                    let text = format!("writer {w} note {i}");
                    ledger
                        .append(&id, &alice(), Event::Note { text })
                        .wait()
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(ledger.incident(&id).unwrap().entries, 1 + 16 * 20);
    assert_eq!(ledger.verify().unwrap().failure, None);
}

/// Copy a live ledger's files: what the disk holds if the process died this instant.
fn crash_snapshot(from: &std::path::Path, to: &std::path::Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dest).unwrap();
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn acknowledged_writes_are_in_a_crash_snapshot_taken_right_after_the_reply() {
    let live = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(live.path(), clock()).unwrap();
    let id = incident_with_notes(&ledger, &[]);
    for i in 0..50 {
        ledger
            .append(
                &id,
                &alice(),
                Event::Note {
                    text: format!("n{i}"),
                },
            )
            .wait()
            .unwrap();
    }
    // No checkpoint has run (the committer waits a second for that): the last writes exist
    // only in the journal and sled's unflushed buffers.
    let crashed = tempfile::tempdir().unwrap();
    crash_snapshot(live.path(), crashed.path());
    let recovered = Ledger::open(crashed.path(), clock()).unwrap();
    let incident = recovered.incident(&id).unwrap();
    assert_eq!(incident.entries, 51);
    assert_eq!(recovered.verify().unwrap().failure, None);
}

#[test]
fn oversized_entries_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let id = incident_with_notes(&ledger, &[]);
    let text = "x".repeat(crate::committer::MAX_ENTRY_BYTES + 1);
    let err = ledger
        .append(&id, &alice(), Event::Note { text })
        .wait()
        .unwrap_err();
    assert!(matches!(err, LedgerError::TooLarge { .. }), "{err}");
    assert_eq!(ledger.incident(&id).unwrap().entries, 1);
}

#[test]
fn a_refused_open_does_not_use_up_an_incident_number() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let huge = "x".repeat(crate::committer::MAX_ENTRY_BYTES + 1);
    assert!(
        ledger
            .open_incident(&huge, Severity::Sev1, &alice())
            .wait()
            .is_err()
    );
    let next = ledger
        .open_incident("real", Severity::Sev1, &alice())
        .wait()
        .unwrap();
    assert_eq!(next.incident.id.as_str(), "INC-20261127-0001");
}

#[test]
fn a_delivery_key_is_claimed_once_across_reopens_and_pruned_after_a_week() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    {
        let ledger = Ledger::open(dir.path(), clock.clone()).unwrap();
        let claims: Vec<bool> = (0..3)
            .map(|_| ledger.claim("slack:event:Ev1").wait().unwrap())
            .collect();
        assert_eq!(claims, vec![true, false, false]);
        assert!(ledger.claim("slack:event:Ev2").wait().unwrap());
    }
    let ledger = Ledger::open(dir.path(), clock.clone()).unwrap();
    assert!(!ledger.claim("slack:event:Ev1").wait().unwrap());
    drop(ledger);
    clock.advance(chrono::TimeDelta::days(8));
    let ledger = Ledger::open(dir.path(), clock).unwrap();
    assert!(ledger.claim("slack:event:Ev1").wait().unwrap());
}

#[test]
fn concurrent_claims_of_one_key_yield_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), clock()).unwrap());
    let pending: Vec<_> = (0..16).map(|_| ledger.claim("slack:trigger:T1")).collect();
    let winners = pending
        .into_iter()
        .map(|p| p.wait().unwrap())
        .filter(|w| *w)
        .count();
    assert_eq!(winners, 1);
}

#[test]
fn one_open_incident_per_alert_fingerprint_however_many_deliveries_race() {
    use crate::AlertIncident;
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let pending: Vec<_> = (0..2000)
        .map(|i| {
            let fp = format!("fp-{}", i % 50);
            ledger.open_for_alert("storm", Severity::Sev2, &alice(), &fp, "storm-rule")
        })
        .collect();
    let opened = pending
        .into_iter()
        .map(|p| p.wait())
        .filter(|r| matches!(r, Ok(AlertIncident::Opened(_))))
        .count();
    assert_eq!(opened, 50);
    assert_eq!(ledger.incidents().unwrap().len(), 50);
    let first = ledger
        .incident_of_fingerprint("fp-7")
        .unwrap()
        .expect("open");
    // Resolving lets the fingerprint go; the next alert opens a new incident.
    ledger
        .append(
            &first.id,
            &alice(),
            Event::Resolved {
                summary: "done".into(),
            },
        )
        .wait()
        .unwrap();
    assert!(ledger.incident_of_fingerprint("fp-7").unwrap().is_none());
    match ledger
        .open_for_alert("again", Severity::Sev2, &alice(), "fp-7", "r")
        .wait()
        .unwrap()
    {
        AlertIncident::Opened(c) => assert_ne!(c.incident.id, first.id),
        AlertIncident::Existing(i) => panic!("joined resolved {}", i.id),
    }
    drop(ledger);
    // The mapping is durable.
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    match ledger
        .open_for_alert("x", Severity::Sev2, &alice(), "fp-3", "r")
        .wait()
        .unwrap()
    {
        AlertIncident::Existing(i) => assert_eq!(i.title, "storm"),
        AlertIncident::Opened(c) => panic!("opened a second incident {}", c.incident.id),
    }
}

#[test]
fn writes_beyond_the_journal_capacity_checkpoint_and_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), clock()).unwrap());
    let id = incident_with_notes(&ledger, &[]);
    // 64 writers × 12 entries of ~60 KB: about 46 MB through a 32 MiB journal.
    let text = "x".repeat(60_000);
    let handles: Vec<_> = (0..64)
        .map(|w| {
            let (ledger, id, text) = (ledger.clone(), id.clone(), text.clone());
            std::thread::spawn(move || {
                for i in 0..12 {
                    ledger
                        .append(
                            &id,
                            &alice(),
                            Event::Note {
                                text: format!("{w}/{i} {text}"),
                            },
                        )
                        .wait()
                        .unwrap_or_else(|e| panic!("writer {w} entry {i}: {e}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(ledger.write_refusal(), None);
    assert_eq!(ledger.incident(&id).unwrap().entries, 1 + 64 * 12);
    assert_eq!(ledger.verify().unwrap().failure, None);
    drop(ledger);
    let again = Ledger::open(dir.path(), clock()).unwrap();
    assert_eq!(again.incident(&id).unwrap().entries, 1 + 64 * 12);
}

#[test]
fn the_journal_holds_entries_not_incident_records() {
    // A record is rebuilt from its entries on replay, so a write's journal bytes do not
    // grow with its incident: the same note costs the same on a small and a big record.
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let small = incident_with_notes(&ledger, &[]);
    let big = incident_with_notes(&ledger, &[]);
    // Each page adds its people to the record: 300 pages of 20 people make it big.
    for i in 0..300 {
        let people = (0..20)
            .map(|p| format!("person-{i}-{p}").as_str().into())
            .collect();
        ledger
            .append(
                &big,
                &alice(),
                Event::Paged {
                    target: "everyone".into(),
                    people,
                    text: None,
                    step: None,
                    page: None,
                    deliveries: Vec::new(),
                    escalated: false,
                },
            )
            .wait()
            .unwrap();
    }
    assert!(
        serde_json::to_vec(&ledger.incident(&big).unwrap())
            .unwrap()
            .len()
            > 50_000
    );
    let journal = dir.path().join("journal");
    let used = |ledger: &Ledger, id: &warroom_commands::IncidentId| {
        let before = std::fs::read(&journal).unwrap();
        ledger
            .append(
                id,
                &alice(),
                Event::Note {
                    text: "same".into(),
                },
            )
            .wait()
            .unwrap();
        let after = std::fs::read(&journal).unwrap();
        before.iter().zip(&after).filter(|(a, b)| a != b).count()
    };
    let (a, b) = (used(&ledger, &small), used(&ledger, &big));
    assert!(
        b <= a + 64,
        "a note on the big incident journalled {b} bytes, on the small {a}"
    );
    // And the records replay to what they were.
    let want = ledger.incident(&big).unwrap();
    drop(ledger);
    let again = Ledger::open(dir.path(), clock()).unwrap();
    assert_eq!(again.incident(&big).unwrap(), want);
    assert_eq!(again.verify().unwrap().failure, None);
}

#[test]
fn salvage_refuses_a_ledger_a_process_has_open() {
    let dir = tempfile::tempdir().unwrap();
    let to = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    incident_with_notes(&ledger, &["written while salvage runs"]);
    // Its checkpoint could land between salvage's two reads: refused, nothing written.
    match crate::salvage::salvage(dir.path(), &to.path().join("new"), clock()) {
        Err(LedgerError::Locked { dir: named }) => assert_eq!(named, dir.path()),
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
    assert!(!to.path().join("new").exists());
    drop(ledger);
    crate::salvage::salvage(dir.path(), &to.path().join("new"), clock()).unwrap();
}

#[test]
fn an_incident_record_under_another_incidents_key_is_damage_not_a_hidden_incident() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let ledger = Ledger::open(dir.path(), clock()).unwrap();
        (
            incident_with_notes(&ledger, &["a"]),
            incident_with_notes(&ledger, &["b"]),
        )
    };
    {
        let db = sled::open(dir.path().join("sled")).unwrap();
        let incidents = db.open_tree(crate::keys::INCIDENTS).unwrap();
        let b_record = incidents.get(b.as_str().as_bytes()).unwrap().unwrap();
        incidents.insert(a.as_str().as_bytes(), b_record).unwrap();
        db.flush().unwrap();
    }
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let e = ledger.incidents().unwrap_err().to_string();
    assert!(
        e.contains(&format!("incident record {a}"))
            && e.contains(&format!("it holds the record of {b}")),
        "{e}"
    );
    assert!(ledger.verify().is_err());
}

#[test]
fn a_record_that_disagrees_with_its_timeline_names_every_part_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let ledger = Ledger::open(dir.path(), clock()).unwrap();
        let id = incident_with_notes(&ledger, &[]);
        ledger
            .append(
                &id,
                &Actor::System,
                Event::ChatChannel {
                    platform: "slack".into(),
                    channel: "C0INCIDENT".into(),
                    name: "inc-20261127-t".into(),
                },
            )
            .wait()
            .unwrap();
        id
    };
    {
        // The record says the incident lives in another channel than its timeline recorded.
        let db = sled::open(dir.path().join("sled")).unwrap();
        let incidents = db.open_tree(crate::keys::INCIDENTS).unwrap();
        let mut record: serde_json::Value =
            serde_json::from_slice(&incidents.get(id.as_str().as_bytes()).unwrap().unwrap())
                .unwrap();
        record["channels"]["slack"] = serde_json::json!(["C0ELSEWHERE", "inc-elsewhere"]);
        incidents
            .insert(id.as_str().as_bytes(), serde_json::to_vec(&record).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let ledger = Ledger::open(dir.path(), clock()).unwrap();
    let failure = ledger.verify().unwrap().failure.expect("named");
    let said = failure.reason.to_string();
    assert!(
        said.contains(r#"channels is `{"slack":["C0ELSEWHERE","inc-elsewhere"]}` but the timeline says `{"slack":["C0INCIDENT","inc-20261127-t"]}`"#),
        "{said}"
    );
}
