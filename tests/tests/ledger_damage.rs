//! Damage is never silence: a ledger crashed with acknowledged entries in its journal, then
//! damaged one bit at a time, is either named as damaged (exit 1) or verifies with every
//! acknowledged entry present; read-only commands never write to the data folder; changed
//! or deleted evidence is named; salvage copies what still verifies and says what was lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use warroom_tests::api::Api;
use warroom_tests::{Scratch, Server};

const NOTES_CHECKPOINTED: usize = 30;
const NOTES_IN_JOURNAL: usize = 15;

/// A drill server's ledger with evidence, a checkpoint, and acknowledged notes still only in
/// the journal when the server is killed with SIGKILL. Returns the scratch (its
/// `warroom-data` is the crashed ledger) and the heads every verify must find.
fn crashed_ledger() -> (Scratch, BTreeMap<String, (u64, String)>) {
    let s = Scratch::new();
    let mut server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("shell in payments api");
    let r = api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    for n in 0..NOTES_CHECKPOINTED {
        api.ok("alice", &format!("note checkpointed {n}"), Some(&inc));
    }
    // The idle checkpoint (1 s after the last write) moves these into sled's files: wait
    // for it to be done, however slow the disk.
    let checkpoints = |server: &Server| server.gauge("warroom_ledger_checkpoint_seconds_count");
    let before = checkpoints(&server);
    warroom_tests::wait_for("the idle checkpoint", 30, || {
        (checkpoints(&server) > before).then_some(())
    });
    for n in 0..NOTES_IN_JOURNAL {
        api.ok("bob", &format!("note journal only {n}"), Some(&inc));
    }
    let heads = heads_of(&api.get("/api/v1/incidents").1["incidents"], "id");
    assert!(heads[&inc].0 >= 40, "{heads:?}");
    // SIGKILL right after the last acknowledgement: no checkpoint, no destructors.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let _ = std::fs::remove_file(data(&s).join("serve.json"));
    (s, heads)
}

/// Incident id → (entries, chain head), from a list of objects naming the id under `id`.
fn heads_of(list: &Value, id: &str) -> BTreeMap<String, (u64, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i[id].as_str().unwrap().to_owned(),
                (
                    i["entries"].as_u64().unwrap(),
                    i["head"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

fn data(s: &Scratch) -> PathBuf {
    s.path().join("warroom-data")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, String> {
    files(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, hex::encode(Sha256::digest(&bytes)))
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn verify_json(s: &Scratch, dir: &Path) -> (i32, Value, String) {
    ledger_json(s, dir, &["verify"])
}

/// `warroom --data DIR --json ledger ARGS…`: exit code, JSON output (null if none), stderr.
fn ledger_json(s: &Scratch, dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut full = vec!["--data", dir.to_str().unwrap(), "--json", "ledger"];
    full.extend_from_slice(args);
    let out = s.run(&full);
    let v = serde_json::from_str(&out.stdout()).unwrap_or(Value::Null);
    (out.code(), v, out.stderr())
}

/// Last non-zero byte + 1: the part of a preallocated file that holds anything.
fn used_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|b| *b != 0)
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[test]
fn a_flipped_bit_anywhere_is_named_or_loses_nothing() {
    let (s, heads) = crashed_ledger();
    let pristine = data(&s);
    let (code, v, err) = verify_json(&s, &pristine);
    assert_eq!(code, 0, "the crashed ledger itself verifies: {v} {err}");
    let all = files(&pristine);
    let mut positions: Vec<(PathBuf, u64)> = Vec::new();
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        let used = used_len(&bytes).max(1) as u64;
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        // Most flips where the records are; a few in every other file.
        let count: u64 = match name.as_str() {
            "journal" => 140,
            "db" => 140,
            _ => 6,
        };
        for i in 0..count {
            positions.push((f.clone(), (i * used / count + i * 7) % used));
        }
    }
    assert!(positions.len() >= 300, "{} positions", positions.len());
    let mut named = 0;
    let mut harmless = 0;
    let mut repairs = 0;
    for (i, (file, at)) in positions.iter().enumerate() {
        let copy = s.path().join(format!("flip-{i}"));
        copy_dir(&pristine, &copy);
        let target = copy.join(file.strip_prefix(&pristine).unwrap());
        let mut bytes = std::fs::read(&target).unwrap();
        bytes[*at as usize] ^= 1 << (i % 8);
        std::fs::write(&target, &bytes).unwrap();
        let (code, v, err) = verify_json(&s, &copy);
        let place = format!("{} offset {at} bit {}", file.display(), i % 8);
        assert!(!err.contains("panicked"), "{place}: panic\n{err}");
        // Its answer (notes of repairs, damage) names the folder verified, never the private
        // copy it reads. (sled's own log lines on stderr name the copy it opened.)
        assert!(
            !v.to_string().contains("warroom-read-"),
            "{place}: names the private copy: {v}"
        );
        for note in v["repaired"].as_array().into_iter().flatten() {
            let note = note.as_str().unwrap_or_default();
            assert!(
                note.starts_with(&copy.join("journal").display().to_string()),
                "{place}: {note}"
            );
            repairs += 1;
        }
        match code {
            0 => {
                assert_eq!(v["intact"], true, "{place}: {v}");
                let got = heads_of(&v["heads"], "incident");
                assert_eq!(got, heads, "{place}: exit 0 must mean every entry is there");
                harmless += 1;
            }
            1 => {
                let text = format!("{v} {err}");
                assert!(
                    text.contains("damage")
                        || text.contains("does NOT verify")
                        || v["intact"] == false,
                    "{place}: exit 1 must name the damage: {text}"
                );
                named += 1;
            }
            other => panic!("{place}: exit {other}: {v} {err}"),
        }
        std::fs::remove_dir_all(&copy).unwrap();
    }
    eprintln!(
        "{named} flips named as damage, {harmless} with every entry intact ({repairs} repaired from a frame's second copy)"
    );
    assert!(named > 0 && harmless > 0 && repairs > 0);
}

#[test]
fn read_only_commands_never_write_to_the_data_folder() {
    let (s, heads) = crashed_ledger();
    let dir = data(&s);
    let before = fingerprint(&dir);
    let id = heads.keys().next().unwrap().clone();
    s.run(&["ledger", "verify"]).expect_code(0);
    s.run(&["ledger", "verify", "--skip-evidence"])
        .expect_code(0);
    s.run(&["--json", "ledger", "verify"]).expect_code(0);
    s.run(&["incident", "list"]).expect_code(0);
    s.run(&["incident", "show", &id]).expect_code(0);
    s.run(&["incident", "export", &id, "--format", "json"])
        .expect_code(0);
    let after = fingerprint(&dir);
    assert_eq!(before, after, "a read-only command changed the data folder");
    // The journal still holds the acknowledged notes for the next `serve` to replay.
    let out = s
        .run(&["--json", "incident", "show", &id])
        .expect_code(0)
        .stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["incident"]["entries"].as_u64(), Some(heads[&id].0));
}

#[test]
fn changed_or_deleted_evidence_is_named_with_both_digests() {
    let (s, heads) = crashed_ledger();
    let id = heads.keys().next().unwrap().clone();
    let out = s
        .run(&["--json", "incident", "show", &id])
        .expect_code(0)
        .stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    let evidence = v["evidence"].as_array().unwrap();
    let location = |name: &str| {
        evidence
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {evidence:?}"))
            .clone()
    };
    let spec = location("pod_spec.json");
    let events = location("events.json");
    for e in evidence {
        let loc = e["location"].as_str().unwrap();
        assert!(
            !loc.starts_with('/'),
            "evidence shows a store key, not a server path: {loc}"
        );
    }
    let evidence_dir = data(&s).join("evidence");
    let spec_path = evidence_dir.join(spec["location"].as_str().unwrap());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&spec_path).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "evidence files are private");
    let mut bytes = std::fs::read(&spec_path).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&spec_path, &bytes).unwrap();
    let actual = hex::encode(Sha256::digest(&bytes));
    std::fs::remove_file(evidence_dir.join(events["location"].as_str().unwrap())).unwrap();

    let out = s.run(&["ledger", "verify"]).expect_code(1);
    let err = out.stderr();
    for want in [
        spec["id"].as_str().unwrap(),
        spec["sha256"].as_str().unwrap(),
        &actual,
        events["id"].as_str().unwrap(),
        events["sha256"].as_str().unwrap(),
        &id,
    ] {
        assert!(err.contains(want), "{want} not named in:\n{err}");
    }
    assert!(!out.stdout().contains("intact"), "{}", out.stdout());
    // The quick check skips the bytes, and says so.
    let quick = s
        .run(&["ledger", "verify", "--skip-evidence"])
        .expect_code(0);
    assert!(
        quick.stdout().contains("not re-hashed"),
        "{}",
        quick.stdout()
    );
}

#[test]
fn a_damaged_journal_batch_stops_serve_and_salvage_keeps_what_verifies() {
    let (s, heads) = crashed_ledger();
    let dir = data(&s);
    let id = heads.keys().next().unwrap().clone();
    // Overwrite a stretch among the batches written since the checkpoint (they start right
    // after the 4 KiB header, about 1 KiB each): whole batches, with later batches intact.
    let journal = dir.join("journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    for b in &mut bytes[4096 + 4_000..4096 + 6_500] {
        *b = 0xAA;
    }
    std::fs::write(&journal, &bytes).unwrap();
    let before = fingerprint(&dir);

    let out = s.run(&["ledger", "verify"]).expect_code(1);
    assert!(
        out.stderr().contains("journal at offset"),
        "{}",
        out.stderr()
    );
    let serve = s.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(serve.code(), 0);
    assert!(serve.stderr().contains("damaged"), "{}", serve.stderr());

    let to = s.path().join("salvaged");
    let out = s.run(&["ledger", "salvage", "--to", to.to_str().unwrap()]);
    assert_eq!(out.code(), 1, "something was lost: {}", out.stderr());
    assert!(
        out.stderr().contains("are unreadable") || out.stderr().contains("fails its checksum"),
        "the journal's damage is named: {}",
        out.stderr()
    );
    // What the incident loses depends on what sled's own background flush (every 500 ms)
    // wrote before the kill: an entry it holds survives the journal's damage. Whatever was
    // lost, the incident is named with what was kept.
    let sled_alone = kept_by_sled_alone(&s, &dir, &id);
    let lost = out.stderr().contains(&format!("{id}: kept "));
    assert!(
        lost || out.stdout().contains(&format!("{id}: kept all")),
        "{}{}",
        out.stdout(),
        out.stderr()
    );
    assert_eq!(
        before,
        fingerprint(&dir),
        "salvage left the source untouched"
    );
    let out = s
        .run(&[
            "--data",
            to.to_str().unwrap(),
            "--json",
            "ledger",
            "verify",
            "--skip-evidence",
        ])
        .expect_code(0);
    let v: Value = serde_json::from_str(&out.stdout()).unwrap();
    let kept = v["heads"][0]["entries"].as_u64().unwrap();
    assert!(
        kept >= NOTES_CHECKPOINTED as u64 && kept >= sled_alone && kept <= heads[&id].0,
        "kept {kept} of {}; sled alone held {sled_alone}",
        heads[&id].0
    );
    assert_eq!(lost, kept < heads[&id].0, "kept {kept} of {}", heads[&id].0);
    // The salvaged ledger takes new writes.
    s.run(&[
        "--data",
        to.to_str().unwrap(),
        "incident",
        "note",
        &id,
        "after salvage",
    ])
    .expect_code(0);
}

/// Entries of `id` a salvage keeps from sled's files alone: a copy of `dir` whose journal
/// holds its header and no batch.
fn kept_by_sled_alone(s: &Scratch, dir: &Path, id: &str) -> u64 {
    let copy = s.path().join("sled-alone");
    copy_dir(dir, &copy);
    let journal = copy.join("journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[4096..].fill(0);
    std::fs::write(&journal, &bytes).unwrap();
    let to = s.path().join("sled-alone-salvaged");
    let (_, v, _) = ledger_json(s, &copy, &["salvage", "--to", to.to_str().unwrap()]);
    v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["incident"] == id)
        .and_then(|i| i["kept"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_folder_that_is_not_a_ledger_is_named_and_left_alone() {
    let s = Scratch::new();
    let missing = s.path().join("no-such-dir");
    for args in [vec!["ledger", "verify"], vec!["incident", "list"]] {
        let mut full = vec!["--data", missing.to_str().unwrap()];
        full.extend(args);
        let out = s.run(&full).expect_code(2);
        assert!(
            out.stderr().contains("not a warroom ledger"),
            "{}",
            out.stderr()
        );
    }
    assert!(!missing.exists(), "a read-only command created the folder");
}
