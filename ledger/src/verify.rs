//! `ledger verify`: recompute every stored chain, check every record against its timeline,
//! and re-hash the evidence bytes.
//!
//! Right while a server writes: each incident record is read first and only the entries it
//! counts are checked (entries are written before the record that counts them, and never
//! change); an entry beyond the record, or without one, is damage only if it still is after
//! the record is read again.

use std::collections::BTreeSet;
use warroom_commands::{Incident, IncidentId};

use crate::chain::{Break, ChainError, Entry};
use crate::error::LedgerError;
use crate::keys;
use crate::records::{EvidenceRecord, Recorded};
use crate::replay::{check_record, replay};
use crate::store::{Ledger, decode, read_incident};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub incidents: u64,
    pub entries: u64,
    /// The first entry that does not verify, in incident order; `None` when all are intact.
    pub failure: Option<ChainError>,
    /// Every verified incident's entry count and chain head, so a caller can compare them
    /// with what it knew before.
    pub heads: Vec<ChainHead>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainHead {
    pub incident: String,
    pub entries: u64,
    pub head: String,
}

/// A stored artifact that no longer matches what the ledger recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EvidenceProblem {
    pub evidence: String,
    pub incident: String,
    pub name: String,
    pub location: String,
    pub expected_sha256: String,
    /// The artifact's SHA-256 now, or `None` when it could not be read.
    pub actual_sha256: Option<String>,
    /// What is wrong, in words.
    pub problem: String,
}

impl EvidenceProblem {
    /// A problem with a stored record itself (its artifact is not re-hashed for it).
    fn of_record(r: &EvidenceRecord, problem: String) -> Self {
        EvidenceProblem {
            evidence: r.id.clone(),
            incident: r.incident.to_string(),
            name: r.name.clone(),
            location: r.location.clone(),
            expected_sha256: r.sha256.clone(),
            actual_sha256: None,
            problem,
        }
    }
}

/// How to re-hash an artifact: the evidence store reads the recorded location and answers
/// its SHA-256 (hex) and size, reporting bytes read as it goes.
pub type DigestArtifact<'a> =
    &'a dyn Fn(&str, &mut dyn FnMut(u64)) -> std::io::Result<(String, u64)>;

impl Ledger {
    /// Recompute every incident's hash chain and check each incident record against its
    /// timeline. Stops at the first bad entry and names it.
    pub fn verify(&self) -> Result<VerifyReport, LedgerError> {
        let mut report = VerifyReport {
            incidents: 0,
            entries: 0,
            failure: None,
            heads: Vec::new(),
        };
        let mut known = BTreeSet::new();
        for incident in self.incidents()? {
            report.incidents += 1;
            known.insert(incident.id.to_string());
            let (incident, entries) = match self.consistent_timeline(incident)? {
                Ok(found) => found,
                Err(failure) => {
                    report.failure = Some(failure);
                    return Ok(report);
                }
            };
            report.entries += entries.len() as u64;
            if let Err(failure) = replay(&incident.id, &entries)
                .and_then(|replayed| check_record(&incident, &replayed))
            {
                report.failure = Some(failure);
                return Ok(report);
            }
            report.heads.push(ChainHead {
                incident: incident.id.to_string(),
                entries: incident.entries,
                head: incident.head.clone(),
            });
        }
        // Entries whose incident record is gone are as suspicious as altered ones.
        for kv in self.trees.h()?.timeline.iter() {
            let (k, _) = kv.map_err(|e| self.trees.storage(e))?;
            let id = k.splitn(2, |b| *b == b'/').next().unwrap_or_default();
            let id = String::from_utf8_lossy(id).into_owned();
            if known.contains(&id) {
                continue;
            }
            // An incident opened since the list was read has its record by now.
            let opened_since = id
                .parse::<IncidentId>()
                .ok()
                .map(|parsed| read_incident(&self.trees, &parsed))
                .transpose()?
                .flatten()
                .is_some();
            if !opened_since {
                report.failure = Some(ChainError {
                    incident: id,
                    seq: seq_of(&k),
                    reason: Break::Unreadable("timeline entry without an incident record".into()),
                });
                break;
            }
            known.insert(id);
        }
        Ok(report)
    }

    /// The record and exactly the entries it counts, read so that concurrent writes cannot
    /// make them disagree: only keys below the record's count are read (a write stores its
    /// entry before its record is published, and entries never change), so a busy incident
    /// costs one scan. In a private copy nothing is in flight, so an entry beyond the record
    /// is damage there.
    pub(crate) fn consistent_timeline(
        &self,
        incident: Incident,
    ) -> Result<Result<(Incident, Vec<Entry>), ChainError>, LedgerError> {
        let id = &incident.id;
        let entries = match self.raw_timeline(id, 0..incident.entries)? {
            Ok(entries) => entries,
            Err(failure) => return Ok(Err(failure)),
        };
        if entries.len() as u64 != incident.entries {
            return Ok(Err(ChainError {
                incident: id.to_string(),
                seq: entries.len() as u64,
                reason: Break::Record(format!(
                    "the record counts {} entries but the timeline holds {}",
                    incident.entries,
                    entries.len()
                )),
            }));
        }
        if self.trees.dir != self.trees.origin {
            let beyond = self.raw_timeline(id, incident.entries..u64::MAX)?;
            let extra = beyond.map_or(1, |b| b.len());
            if extra > 0 {
                return Ok(Err(ChainError {
                    incident: id.to_string(),
                    seq: incident.entries,
                    reason: Break::Record(format!(
                        "the timeline holds {extra} entries beyond the {} its record counts",
                        incident.entries
                    )),
                }));
            }
        }
        Ok(Ok((incident, entries)))
    }

    /// The entry that recorded `r`, when the incident's record counts it now: evidence
    /// written after a check read the incident list.
    fn counted_since(
        &self,
        r: &EvidenceRecord,
    ) -> Result<Option<(Entry, Recorded, Option<EvidenceRecord>)>, LedgerError> {
        let Some(fresh) = read_incident(&self.trees, &r.incident)? else {
            return Ok(None);
        };
        if r.entry_seq >= fresh.entries {
            return Ok(None);
        }
        let key = keys::timeline_key(&r.incident, r.entry_seq);
        let Some(v) = self
            .trees
            .h()?
            .timeline
            .get(&key)
            .map_err(|e| self.trees.storage(e))?
        else {
            return Ok(None);
        };
        let entry: Entry = decode("entry", &v)?;
        Ok(Recorded::of(&entry).map(|recorded| (entry, recorded, Some(r.clone()))))
    }

    /// Re-hash every artifact the timeline recorded and compare it with the digest its entry
    /// holds. The chained entries are the witnesses: each must have exactly one evidence
    /// record that repeats it field for field, under its own key, and a record no entry
    /// recorded is named too. The artifact re-hashed is the one at the location the entry
    /// gives, so a record pointed at a pristine copy hides nothing. `progress` is called with
    /// (bytes done, bytes in all) as it goes.
    ///
    /// Right beside a running server: the incident records are read first, then the
    /// evidence, then only the entries those records count (an entry and its evidence record
    /// are applied before the record that counts them is published).
    pub fn check_evidence(
        &self,
        digest: DigestArtifact<'_>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(u64, Vec<EvidenceProblem>), LedgerError> {
        let incidents = self.incidents()?;
        let mut problems = Vec::new();
        let mut records: std::collections::BTreeMap<Vec<u8>, EvidenceRecord> =
            std::collections::BTreeMap::new();
        for kv in self.trees.h()?.evidence.iter() {
            let (k, v) = kv.map_err(|e| self.trees.storage(e))?;
            let r: EvidenceRecord =
                decode(&format!("evidence {}", String::from_utf8_lossy(&k)), &v)?;
            if k.as_ref() != keys::evidence_key(&r.incident, r.entry_seq).as_slice() {
                problems.push(EvidenceProblem::of_record(
                    &r,
                    format!(
                        "stored under key {}, not under its own entry {}",
                        String::from_utf8_lossy(&k),
                        r.entry_seq
                    ),
                ));
            }
            records.insert(k.to_vec(), r);
        }
        let mut witnesses: Vec<(Entry, Recorded, Option<EvidenceRecord>)> = Vec::new();
        for incident in &incidents {
            let range = keys::timeline_key(&incident.id, 0)
                ..keys::timeline_key(&incident.id, incident.entries);
            for kv in self.trees.h()?.timeline.range(range) {
                let (k, v) = kv.map_err(|e| self.trees.storage(e))?;
                // Every entry is decoded again, never picked by its stored bytes: the chain
                // hashes the decoded entry, so the same entry spelled with other spacing or
                // escapes would pass the chain and slip past a byte filter.
                let entry: Entry = decode("entry", &v)?;
                let Some(recorded) = Recorded::of(&entry) else {
                    continue;
                };
                let record = records.remove(&keys::evidence_key(&incident.id, seq_of(&k)));
                witnesses.push((entry, recorded, record));
            }
        }
        // Records no counted entry recorded: invented, or moved off their entry — or written
        // beside a running server after the incident list was read (the entry and its record
        // land before the record that counts them is published). Those are counted now, and
        // checked like the rest.
        for (_, r) in std::mem::take(&mut records) {
            if let Some(witness) = self.counted_since(&r)? {
                witnesses.push(witness);
                continue;
            }
            problems.push(EvidenceProblem::of_record(
                &r,
                format!(
                    "no timeline entry recorded it (entry {} is not its evidence.recorded)",
                    r.entry_seq
                ),
            ));
        }
        let total: u64 = witnesses.iter().map(|(_, w, _)| w.size).sum();
        let mut done = 0u64;
        for (entry, w, record) in &witnesses {
            let problem = |actual: Option<String>, problem: String| EvidenceProblem {
                evidence: w.id.clone(),
                incident: entry.incident.to_string(),
                name: w.name.clone(),
                location: w.location.clone(),
                expected_sha256: w.sha256.clone(),
                actual_sha256: actual,
                problem,
            };
            match record {
                None => problems.push(problem(
                    None,
                    format!(
                        "timeline entry {} recorded it, but its evidence record is missing",
                        entry.seq
                    ),
                )),
                Some(r) if !r.matches(entry) => problems.push(problem(
                    None,
                    format!(
                        "the evidence record differs from its timeline entry {}",
                        entry.seq
                    ),
                )),
                Some(_) => {}
            }
            match digest(&w.location, &mut |n| progress(done + n, total)) {
                Ok((sha, bytes)) if sha == w.sha256 && bytes == w.size => {}
                Ok((sha, bytes)) => problems.push(problem(
                    Some(sha),
                    format!("changed: {bytes} bytes now, {} recorded", w.size),
                )),
                Err(e) => problems.push(problem(None, format!("missing or unreadable: {e}"))),
            }
            done += w.size;
            progress(done, total);
        }
        Ok((witnesses.len() as u64, problems))
    }

    /// The stored entries numbered within `seqs`, naming the first that cannot be decoded.
    fn raw_timeline(
        &self,
        id: &IncidentId,
        seqs: std::ops::Range<u64>,
    ) -> Result<Result<Vec<Entry>, ChainError>, LedgerError> {
        let mut out = Vec::new();
        let range = keys::timeline_key(id, seqs.start)..keys::timeline_key(id, seqs.end);
        for kv in self.trees.h()?.timeline.range(range) {
            let (k, v) = kv.map_err(|e| self.trees.storage(e))?;
            match decode::<Entry>("entry", &v) {
                Ok(e) => out.push(e),
                Err(e) => {
                    return Ok(Err(ChainError {
                        incident: id.to_string(),
                        seq: seq_of(&k),
                        reason: Break::Unreadable(e.to_string()),
                    }));
                }
            }
        }
        Ok(Ok(out))
    }
}

fn seq_of(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .and_then(|start| <[u8; 8]>::try_from(&key[start..]).ok())
        .map(u64::from_be_bytes)
        .unwrap_or_default()
}
