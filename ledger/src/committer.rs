//! The single writer: applies writes in arrival order and makes each batch durable at once.
//!
//! Guarantees: a write's reply is sent only after the batch holding it was flushed by sled
//! *and* `fdatasync`ed; writes are applied in the order they were submitted; every write is
//! one sled transaction, so a crash leaves either all of it or none of it.
//! Assumes: this process is the only writer (sled's file lock enforces it).
//! Caveat: sled 0.34 flushes with `sync_file_range` on Linux, which neither flushes the
//! device's write cache nor persists file-size changes; the extra `fdatasync` on sled's log
//! file is what makes an acknowledged write survive power loss, not only `kill -9`.
//! If a flush fails the ledger refuses all further writes: after a failed fsync the kernel
//! may have dropped the dirty pages, so nothing later could be promised.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::SubsecRound;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use tokio::sync::oneshot;
use warroom_commands::clock::timestamp;
use warroom_commands::{Actor, Clock, Event, Incident, IncidentId, Severity};

use crate::canonical::to_canonical;
use crate::chain::{Entry, GENESIS, link_hash};
use crate::error::LedgerError;
use crate::keys;
use crate::records::{EvidenceRecord, NewEvidence};
use crate::store::{Ledger, Trees, read_incident};

/// Most writes folded into one flush; bounds the latency a write adds to its batch-mates.
const MAX_BATCH: usize = 512;

pub(crate) enum Op {
    Open {
        title: String,
        severity: Severity,
        actor: Actor,
    },
    Append {
        incident: IncidentId,
        actor: Actor,
        event: Event,
    },
    Evidence {
        incident: IncidentId,
        actor: Actor,
        evidence: NewEvidence,
    },
}

/// What a durable write returns.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The incident record after the write.
    pub incident: Incident,
    /// The timeline entry the write appended.
    pub entry: Entry,
    /// Set when the write recorded evidence.
    pub evidence: Option<EvidenceRecord>,
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Committed, LedgerError>>,
}

pub(crate) struct Committer {
    tx: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    pub fn start(trees: Arc<Trees>, clock: Arc<dyn Clock>) -> Result<Committer, LedgerError> {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("ledger-committer".into())
            .spawn(move || run(&trees, clock.as_ref(), rx))
            .map_err(|e| LedgerError::Storage {
                dir: Default::default(),
                message: format!("cannot start the committer thread: {e}"),
            })?;
        Ok(Committer {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    fn submit(&self, op: Op) -> Pending {
        let (reply, rx) = oneshot::channel();
        let sent = self
            .tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|tx| tx.send(Job { op, reply }).is_ok())
            .unwrap_or(false);
        Pending { rx, sent }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish the writes already queued.
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

/// A write on its way to disk: `.wait()` blocks, `.await` does not.
pub struct Pending {
    rx: oneshot::Receiver<Result<Committed, LedgerError>>,
    sent: bool,
}

impl Pending {
    /// Block until the write is durable. Do not call from inside an async task: await it.
    pub fn wait(self) -> Result<Committed, LedgerError> {
        if !self.sent {
            return Err(LedgerError::Closed);
        }
        self.rx.blocking_recv().unwrap_or(Err(LedgerError::Closed))
    }
}

impl std::future::IntoFuture for Pending {
    type Output = Result<Committed, LedgerError>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if !self.sent {
                return Err(LedgerError::Closed);
            }
            self.rx.await.unwrap_or(Err(LedgerError::Closed))
        })
    }
}

impl Ledger {
    /// Open an incident: allocates its id and writes its first timeline entry.
    pub fn open_incident(&self, title: &str, severity: Severity, actor: &Actor) -> Pending {
        self.committer.submit(Op::Open {
            title: title.to_string(),
            severity,
            actor: actor.clone(),
        })
    }

    /// Append one event to an incident's timeline.
    pub fn append(&self, incident: &IncidentId, actor: &Actor, event: Event) -> Pending {
        self.committer.submit(Op::Append {
            incident: incident.clone(),
            actor: actor.clone(),
            event,
        })
    }

    /// Record an artifact already stored in the evidence store: an evidence record plus an
    /// `evidence.recorded` entry carrying its digest, written together.
    pub fn record_evidence(
        &self,
        incident: &IncidentId,
        actor: &Actor,
        evidence: NewEvidence,
    ) -> Pending {
        self.committer.submit(Op::Evidence {
            incident: incident.clone(),
            actor: actor.clone(),
            evidence,
        })
    }
}

fn run(trees: &Trees, clock: &dyn Clock, rx: Receiver<Job>) {
    let failed = AtomicBool::new(false);
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if failed.load(Ordering::Relaxed) {
            for job in batch {
                let _ = job.reply.send(Err(LedgerError::Durability(
                    "an earlier flush failed".into(),
                )));
            }
            continue;
        }
        let results: Vec<_> = batch
            .iter()
            .map(|job| apply(trees, clock, &job.op))
            .collect();
        let synced = if results.iter().any(Result::is_ok) {
            sync(trees)
        } else {
            Ok(())
        };
        if let Err(e) = &synced {
            tracing::error!(error = %e, dir = %trees.dir.display(), "ledger flush failed; refusing further writes");
            failed.store(true, Ordering::Relaxed);
        }
        for (job, result) in batch.into_iter().zip(results) {
            let result = match &synced {
                Ok(()) => result,
                Err(e) => Err(LedgerError::Durability(e.to_string())),
            };
            let _ = job.reply.send(result);
        }
    }
}

fn sync(trees: &Trees) -> Result<(), String> {
    trees.db.flush().map_err(|e| e.to_string())?;
    trees.log_file.sync_data().map_err(|e| e.to_string())
}

fn apply(trees: &Trees, clock: &dyn Clock, op: &Op) -> Result<Committed, LedgerError> {
    // The ledger keeps microseconds; truncate once so records and entries agree exactly.
    let now = clock.now().trunc_subsecs(6);
    match op {
        Op::Open {
            title,
            severity,
            actor,
        } => {
            let day = now.format("%Y%m%d").to_string();
            let counter_key = keys::day_counter_key(&day);
            let counter = match trees.meta.get(&counter_key).map_err(|e| trees.storage(e))? {
                Some(v) => <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| LedgerError::Corrupt {
                        what: format!("incident counter for {day}"),
                        reason: "not 4 bytes".into(),
                    })?,
                None => 0,
            } + 1;
            let id = IncidentId::new(now.date_naive(), counter);
            let mut incident = Incident::opened(id, title.clone(), *severity, now, actor.clone());
            let event = Event::IncidentOpened {
                title: title.clone(),
                severity: *severity,
            };
            let entry = next_entry(&incident, actor, &event, &timestamp(now))?;
            incident.apply(&event, &entry.hash);
            commit(trees, &incident, &entry, None, Some((counter_key, counter)))?;
            Ok(Committed {
                incident,
                entry,
                evidence: None,
            })
        }
        Op::Append {
            incident,
            actor,
            event,
        } => {
            let mut record = read_incident(trees, incident)?
                .ok_or_else(|| LedgerError::NoSuchIncident(incident.clone()))?;
            let entry = next_entry(&record, actor, event, &timestamp(now))?;
            record.apply(event, &entry.hash);
            commit(trees, &record, &entry, None, None)?;
            Ok(Committed {
                incident: record,
                entry,
                evidence: None,
            })
        }
        Op::Evidence {
            incident,
            actor,
            evidence,
        } => {
            let mut record = read_incident(trees, incident)?
                .ok_or_else(|| LedgerError::NoSuchIncident(incident.clone()))?;
            let seq = record.entries;
            let id = format!("{incident}-E{seq}");
            let event = Event::EvidenceRecorded {
                evidence_id: id.clone(),
                name: evidence.name.clone(),
                sha256: evidence.sha256.clone(),
                size: evidence.size,
                location: evidence.location.clone(),
                approval: evidence.approval.clone(),
            };
            let at = timestamp(now);
            let entry = next_entry(&record, actor, &event, &at)?;
            record.apply(&event, &entry.hash);
            let ev = EvidenceRecord {
                id,
                incident: incident.clone(),
                name: evidence.name.clone(),
                sha256: evidence.sha256.clone(),
                size: evidence.size,
                location: evidence.location.clone(),
                collected_by: actor.to_string(),
                collected_at: at,
                approval: evidence.approval.clone(),
                entry_seq: seq,
            };
            commit(trees, &record, &entry, Some(&ev), None)?;
            Ok(Committed {
                incident: record,
                entry,
                evidence: Some(ev),
            })
        }
    }
}

fn next_entry(
    incident: &Incident,
    actor: &Actor,
    event: &Event,
    at: &str,
) -> Result<Entry, LedgerError> {
    let (kind, data) = event.to_parts();
    let prev_hash = if incident.entries == 0 {
        GENESIS.to_string()
    } else {
        incident.head.clone()
    };
    let mut entry = Entry {
        incident: incident.id.clone(),
        seq: incident.entries,
        at: at.to_string(),
        actor: actor.to_string(),
        kind,
        data,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = link_hash(&entry.prev_hash, &to_canonical(&entry.body())?);
    Ok(entry)
}

/// Write the incident record, the entry (and evidence, and the day counter) atomically.
fn commit(
    trees: &Trees,
    incident: &Incident,
    entry: &Entry,
    evidence: Option<&EvidenceRecord>,
    counter: Option<(Vec<u8>, u32)>,
) -> Result<(), LedgerError> {
    let record = json(incident);
    let entry_bytes = json(entry);
    let evidence_bytes = evidence.map(json);
    let entry_key = keys::timeline_key(&incident.id, entry.seq);
    (
        &trees.incidents,
        &trees.timeline,
        &trees.evidence,
        &trees.meta,
    )
        .transaction(|(incidents, timeline, ev_tree, meta)| {
            incidents.insert(incident.id.as_str(), record.as_slice())?;
            timeline.insert(entry_key.as_slice(), entry_bytes.as_slice())?;
            if let Some(bytes) = &evidence_bytes {
                ev_tree.insert(
                    keys::evidence_key(&incident.id, entry.seq),
                    bytes.as_slice(),
                )?;
            }
            if let Some((key, value)) = &counter {
                meta.insert(key.as_slice(), &value.to_be_bytes())?;
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        })
        .map_err(|e: TransactionError<()>| trees.storage(format!("{e:?}")))
}

/// The ledger's own record types are plain data: serialising them cannot fail.
fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}
