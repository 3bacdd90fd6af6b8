//! `ledger salvage`: copy every entry that still verifies from a damaged ledger into a new
//! one, and say exactly what was lost.
//!
//! Guarantees: the damaged folder is only read (its files are copied aside first, and sled
//! and the journal are opened on the copy); the new ledger holds, per incident, the longest
//! prefix of its timeline whose chain verifies, the incident record rebuilt from that prefix,
//! the evidence records that prefix vouches for, and the day counters, fingerprints and
//! delivery claims that could be read; every write to it is durable when this returns.
//! Assumes: `to` is a new or empty folder. Caveats: entries after the first break in a chain
//! are not copied even if they are intact on their own (they could not be verified);
//! evidence bytes stay where they are (the records point at them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use warroom_commands::{Clock, Incident, IncidentId};

use crate::chain::Entry;
use crate::error::LedgerError;
use crate::journal::{self, Put, TreeId};
use crate::keys;
use crate::records::EvidenceRecord;
use crate::replay::replay;
use crate::store::{Ledger, create_private_dir};

/// What salvage kept and lost.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SalvageReport {
    pub incidents: Vec<SalvagedIncident>,
    /// Damage found outside any one incident (an unreadable journal batch, sled unreadable).
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SalvagedIncident {
    pub incident: String,
    /// Entries copied (a verified prefix of the timeline).
    pub kept: u64,
    /// Entries the damaged ledger knew of (its record's count or its highest entry + 1).
    pub known: u64,
    pub evidence_kept: u64,
    pub evidence_lost: u64,
    /// Why the copy stops where it does, when it lost anything.
    pub lost: Option<String>,
}

impl SalvageReport {
    /// Whether everything the damaged ledger knew of was copied.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
            && self
                .incidents
                .iter()
                .all(|i| i.lost.is_none() && i.evidence_lost == 0)
    }
}

/// Every key/value of the damaged ledger that could be read, tree by tree.
#[derive(Default)]
pub(crate) struct Salvaged {
    trees: BTreeMap<u8, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Salvaged {
    fn tree(&self, t: TreeId) -> impl Iterator<Item = (&Vec<u8>, &Vec<u8>)> {
        self.trees.get(&(t as u8)).into_iter().flatten()
    }
    pub(crate) fn put(&mut self, p: &Put) {
        self.trees
            .entry(p.tree as u8)
            .or_default()
            .insert(p.key.clone(), p.value.clone());
    }
}

pub fn salvage(
    from: &Path,
    to: &Path,
    clock: Arc<dyn Clock>,
) -> Result<SalvageReport, LedgerError> {
    let folder = |dir: &Path| {
        let dir = dir.to_path_buf();
        move |source| LedgerError::Folder { dir, source }
    };
    if !from.join("journal").is_file() && !from.join("sled").is_dir() {
        return Err(LedgerError::NotALedger {
            dir: from.to_path_buf(),
        });
    }
    require_empty(to, "salvage")?;
    let mut report = SalvageReport::default();
    let copy = tempfile::Builder::new()
        .prefix("warroom-salvage-")
        .tempdir()
        .map_err(folder(from))?;
    let mut found = Salvaged::default();
    {
        // Held across both reads, as a read-only open does: a server writing meanwhile could
        // checkpoint between them and take its newest batches out of both copies.
        let _lock = match crate::store::SledLock::try_take(&from.join("sled").join("db")) {
            Ok(lock) => lock,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(LedgerError::Locked {
                    dir: from.to_path_buf(),
                });
            }
            Err(e) => return Err(folder(from)(e)),
        };
        read_sled(from, copy.path(), &mut found, &mut report)?;
        read_journal(from, &mut found, &mut report);
    }
    rebuild(&found, to, clock, report)
}

/// Refuse a folder that holds files: a rebuilt ledger goes into a new or empty one.
pub(crate) fn require_empty(to: &Path, what: &str) -> Result<(), LedgerError> {
    let taken = to.exists()
        && std::fs::read_dir(to)
            .map_err(|source| LedgerError::Folder {
                dir: to.to_path_buf(),
                source,
            })?
            .next()
            .is_some();
    if taken {
        return Err(LedgerError::Folder {
            dir: to.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{what} writes into a new or empty folder; this one has files"),
            ),
        });
    }
    Ok(())
}

/// A new ledger in `to` from the key/values `found`: per incident the verified prefix of its
/// timeline, its record rebuilt from it, the evidence records it vouches for, and the
/// counters, fingerprints and delivery claims.
pub(crate) fn rebuild(
    found: &Salvaged,
    to: &Path,
    clock: Arc<dyn Clock>,
    mut report: SalvageReport,
) -> Result<SalvageReport, LedgerError> {
    let folder = |dir: &Path| {
        let dir = dir.to_path_buf();
        move |source| LedgerError::Folder { dir, source }
    };

    // Timelines by incident, then the verified prefix of each.
    let mut timelines: BTreeMap<String, BTreeMap<u64, Vec<u8>>> = BTreeMap::new();
    for (k, v) in found.tree(TreeId::Timeline) {
        let Some(slash) = k.iter().position(|b| *b == b'/') else {
            continue;
        };
        let id = String::from_utf8_lossy(&k[..slash]).into_owned();
        let seq = <[u8; 8]>::try_from(&k[slash + 1..])
            .map(u64::from_be_bytes)
            .unwrap_or(u64::MAX);
        timelines.entry(id).or_default().insert(seq, v.clone());
    }
    let records: BTreeMap<String, Option<Incident>> = found
        .tree(TreeId::Incidents)
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                serde_json::from_slice(v).ok(),
            )
        })
        .collect();
    let ids: BTreeSet<String> = timelines.keys().chain(records.keys()).cloned().collect();
    let evidence: Vec<EvidenceRecord> = found
        .tree(TreeId::Evidence)
        .filter_map(|(_, v)| serde_json::from_slice(v).ok())
        .collect();
    let evidence_unreadable = found
        .tree(TreeId::Evidence)
        .filter(|(_, v)| serde_json::from_slice::<EvidenceRecord>(v).is_err())
        .count();
    if evidence_unreadable > 0 {
        report.problems.push(format!(
            "{evidence_unreadable} evidence records could not be read"
        ));
    }

    create_private_dir(to).map_err(folder(to))?;
    let mut ledger = Ledger::open(to, clock)?;
    // The same installation: keys it sent outside stay recognisable.
    if let Some((_, id)) = found
        .tree(TreeId::Meta)
        .find(|(k, _)| k.as_slice() == keys::INSTALLATION_KEY)
    {
        let id = String::from_utf8_lossy(id).into_owned();
        crate::store::set_installation(&ledger.trees, &id)?;
        ledger.installation = id;
    }
    let mut kept_ids = BTreeSet::new();
    for id in ids {
        let empty = BTreeMap::new();
        let stored = timelines.get(&id).unwrap_or(&empty);
        let record = records.get(&id).cloned().flatten();
        let known = stored
            .keys()
            .next_back()
            .map(|s| s.saturating_add(1))
            .unwrap_or(0)
            .max(record.as_ref().map(|r| r.entries).unwrap_or(0));
        let Ok(parsed) = id.parse::<IncidentId>() else {
            report.problems.push(format!(
                "records under the unreadable incident id `{id}` were dropped"
            ));
            continue;
        };
        let (entries, lost) = verified_prefix(&parsed, stored, known);
        let rebuilt = if entries.is_empty() {
            None
        } else {
            replay(&parsed, &entries).ok()
        };
        let Some(rebuilt) = rebuilt else {
            report.incidents.push(SalvagedIncident {
                incident: id.clone(),
                kept: 0,
                known,
                evidence_kept: 0,
                evidence_lost: evidence.iter().filter(|e| e.incident == parsed).count() as u64,
                lost: Some(lost.unwrap_or_else(|| "no entry of it verifies".into())),
            });
            continue;
        };
        let kept = entries.len() as u64;
        let mut puts: Vec<Put> = entries
            .iter()
            .map(|e| Put {
                tree: TreeId::Timeline,
                key: keys::timeline_key(&parsed, e.seq),
                value: serde_json::to_vec(e).unwrap_or_default(),
            })
            .collect();
        let (ours, theirs): (Vec<_>, Vec<_>) = evidence
            .iter()
            .filter(|e| e.incident == parsed)
            // Kept only when the verified entry it names recorded exactly it: a record
            // changed, moved or invented beside the chain is counted lost, not carried over
            // for the salvaged ledger's verify to fail on.
            .partition(|e| {
                e.entry_seq < kept
                    && entries
                        .get(e.entry_seq as usize)
                        .is_some_and(|entry| e.matches(entry))
            });
        for e in &ours {
            puts.push(Put {
                tree: TreeId::Evidence,
                key: keys::evidence_key(&parsed, e.entry_seq),
                value: serde_json::to_vec(e).unwrap_or_default(),
            });
        }
        puts.push(Put {
            tree: TreeId::Incidents,
            key: id.as_bytes().to_vec(),
            value: serde_json::to_vec(&rebuilt).unwrap_or_default(),
        });
        ledger.import(puts).wait()?;
        kept_ids.insert(id.clone());
        report.incidents.push(SalvagedIncident {
            incident: id,
            kept,
            known,
            evidence_kept: ours.len() as u64,
            evidence_lost: theirs.len() as u64,
            lost,
        });
    }
    // Counters keep new incident ids from reusing salvaged ones; fingerprints and delivery
    // claims keep alerts and retried deliveries from acting twice.
    let mut rest: Vec<Put> = Vec::new();
    for (k, v) in found.tree(TreeId::Meta) {
        if k.starts_with(b"counter/") {
            rest.push(Put {
                tree: TreeId::Meta,
                key: k.clone(),
                value: v.clone(),
            });
        }
    }
    for (k, v) in found.tree(TreeId::Fingerprints) {
        let owner: Option<String> = serde_json::from_slice(v).ok();
        if owner.is_some_and(|o| kept_ids.contains(&o)) {
            rest.push(Put {
                tree: TreeId::Fingerprints,
                key: k.clone(),
                value: v.clone(),
            });
        }
    }
    for (k, v) in found.tree(TreeId::Idempotency) {
        rest.push(Put {
            tree: TreeId::Idempotency,
            key: k.clone(),
            value: v.clone(),
        });
    }
    for chunk in rest.chunks(1024) {
        ledger.import(chunk.to_vec()).wait()?;
    }
    Ok(report)
}

/// The longest run of entries from seq 0 whose chain and transitions verify.
fn verified_prefix(
    id: &IncidentId,
    stored: &BTreeMap<u64, Vec<u8>>,
    known: u64,
) -> (Vec<Entry>, Option<String>) {
    let mut entries = Vec::new();
    let mut lost = None;
    for seq in 0..known {
        match stored.get(&seq) {
            None => {
                lost = Some(format!("entry {seq} is missing"));
                break;
            }
            Some(bytes) => match serde_json::from_slice::<Entry>(bytes) {
                Ok(e) => entries.push(e),
                Err(e) => {
                    lost = Some(format!("entry {seq} is unreadable: {e}"));
                    break;
                }
            },
        }
    }
    if let Err(e) = replay(id, &entries) {
        entries.truncate(e.seq as usize);
        lost = Some(format!("entry {}: {}", e.seq, e.reason));
    }
    if lost.is_none() && (entries.len() as u64) < known {
        lost = Some(format!("entries {}..{} are missing", entries.len(), known));
    }
    (entries, lost)
}

/// Everything sled still returns, read from a copy of its files.
fn read_sled(
    from: &Path,
    scratch: &Path,
    found: &mut Salvaged,
    report: &mut SalvageReport,
) -> Result<(), LedgerError> {
    let src = from.join("sled");
    if !src.is_dir() {
        report.problems.push("the sled folder is missing".into());
        return Ok(());
    }
    let dst: PathBuf = scratch.join("sled");
    crate::store::copy_tree(&src, &dst).map_err(|source| LedgerError::Folder {
        dir: from.to_path_buf(),
        source,
    })?;
    // sled may panic on damaged files; that is damage to report, not a crash.
    let read = std::panic::catch_unwind(|| -> Result<(Salvaged, usize), String> {
        let db = sled::Config::new()
            .path(&dst)
            .flush_every_ms(None)
            .open()
            .map_err(|e| e.to_string())?;
        let mut out = Salvaged::default();
        let names = [
            (keys::INCIDENTS, TreeId::Incidents),
            (keys::TIMELINE, TreeId::Timeline),
            (keys::EVIDENCE, TreeId::Evidence),
            (keys::META, TreeId::Meta),
            (keys::IDEMPOTENCY, TreeId::Idempotency),
            (keys::FINGERPRINTS, TreeId::Fingerprints),
        ];
        let mut skipped = 0usize;
        for (name, tree) in names {
            let t = db.open_tree(name).map_err(|e| e.to_string())?;
            for kv in t.iter() {
                match kv {
                    Ok((k, v)) => out.put(&Put {
                        tree,
                        key: k.to_vec(),
                        value: v.to_vec(),
                    }),
                    Err(_) => skipped += 1,
                }
            }
        }
        Ok((out, skipped))
    });
    match read {
        Ok(Ok((out, skipped))) => {
            *found = out;
            if skipped > 0 {
                report
                    .problems
                    .push(format!("sled: {skipped} records could not be read"));
            }
        }
        Ok(Err(e)) => report.problems.push(format!("sled: {e}")),
        Err(panic) => report.problems.push(format!(
            "sled cannot read its files ({}); only the journal's batches were recovered",
            crate::panic_message(&panic)
        )),
    }
    Ok(())
}

/// Every journal batch that still checks out, in order, applied over what sled gave.
fn read_journal(from: &Path, found: &mut Salvaged, report: &mut SalvageReport) {
    let path = from.join("journal");
    match std::fs::read(&path) {
        Ok(data) => {
            let (batches, problems) = journal::salvage_frames(&path, &data);
            report.problems.extend(problems);
            for batch in batches {
                for puts in &batch.ops {
                    for p in puts {
                        found.put(p);
                    }
                }
            }
        }
        Err(e) => report
            .problems
            .push(format!("{}: cannot be read: {e}", path.display())),
    }
}
