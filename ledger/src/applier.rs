//! The second stage of a commit: apply a journalled batch to sled, publish it, answer it.
//!
//! Why a stage of its own: with many writers, the next batch's journal write and
//! `fdatasync` (most of a commit's time) can run while this one is applied to sled, on the
//! other core. One lock orders the stage: a committer takes it before it lets go of the
//! journal, so batches are applied in journal order, and whoever must see every journalled
//! batch applied (a checkpoint, a recovery, a base for the off-box copy, an overlay trim)
//! takes it too.
//!
//! Guarantees: a batch is answered only after its journal record is synced and its keys are
//! in sled; batches are applied and answered in the order they were journalled.
//! Caveat: once a batch fails to apply, the batches journalled behind it are not applied and
//! are answered as failed; they are in the journal, so the recovery's replay applies them
//! (as for a batch whose sled write failed: never a lost acknowledgement, at worst a write
//! answered "failed" that the ledger holds).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::committer::{Done, apply_puts, mark_applied, set_refused};
use crate::error::LedgerError;
use crate::journal::Put;
use crate::store::Trees;

pub(crate) type Reply = oneshot::Sender<Result<Done, LedgerError>>;

/// A batch's answers, sent once the batch is durable and applied (or has failed).
pub(crate) struct Answers(pub Vec<(Reply, Result<Done, LedgerError>)>);

impl Answers {
    pub fn send(self) {
        for (reply, result) in self.0 {
            let _ = reply.send(result);
        }
    }
}

/// A batch that is journalled and synced (if it wrote anything), waiting to be applied.
pub(crate) struct Journalled {
    /// The journal batch holding its writes; `None` when no write in it had keys.
    pub seq: Option<u64>,
    pub replies: Vec<Reply>,
    pub planned: Vec<Result<(Done, Vec<Put>), LedgerError>>,
    /// Time spent planning, journalling and syncing it, for the commit statistics.
    pub journalled_in: Duration,
}

/// The apply stage's state, behind its lock.
pub(crate) struct Applier {
    trees: Arc<Trees>,
    /// Set when a batch failed to apply: sled then refuses everything, so what follows is
    /// left to the recovery's replay.
    pub failed: Option<String>,
}

impl Applier {
    pub fn new(trees: Arc<Trees>) -> Arc<Mutex<Applier>> {
        Arc::new(Mutex::new(Applier {
            trees,
            failed: None,
        }))
    }

    /// Take the stage; every batch journalled before is then applied. A holder that
    /// panicked mid-apply leaves sled in an unknown state: writes are refused until recovery.
    pub fn lock(stage: &Mutex<Applier>) -> MutexGuard<'_, Applier> {
        stage.lock().unwrap_or_else(|p| {
            let mut a = p.into_inner();
            if a.failed.is_none() {
                let reason = "a ledger write stopped half way (the applying thread panicked)";
                tracing::error!(dir = %a.trees.origin.display(), "{reason}; refusing writes until a checkpoint succeeds");
                let trees = a.trees.clone();
                set_refused(&trees, &mut a.failed, Some(reason.into()));
            }
            stage.clear_poison();
            a
        })
    }

    /// Apply one journalled batch, publish its records and return its answers.
    pub fn apply(&mut self, batch: Journalled) -> Answers {
        let started = Instant::now();
        let trees = self.trees.clone();
        let outcome = match (&self.failed, batch.seq) {
            (Some(reason), _) => Err(reason.clone()),
            (None, None) => Ok(()),
            (None, Some(seq)) => apply_batch(&trees, seq, &batch.planned),
        };
        match &outcome {
            Ok(()) => {
                // Durable and in sled: readers may see the records now, before anyone is
                // answered.
                for (done, _) in batch.planned.iter().flatten() {
                    if let Done::Write(c) = done {
                        trees.published.publish(c.incident.clone());
                    }
                }
            }
            Err(e) if self.failed.is_none() => {
                tracing::error!(error = %e, dir = %trees.origin.display(), "ledger write failed; refusing writes until a checkpoint succeeds");
                set_refused(&trees, &mut self.failed, Some(e.clone()));
            }
            Err(_) => {}
        }
        if batch.seq.is_some() {
            trees
                .stats
                .commit
                .observe_duration(batch.journalled_in + started.elapsed());
            trees.stats.batch.observe(writes(&batch.planned).count() as f64);
        }
        answers(batch.replies, batch.planned, &outcome)
    }
}

/// The keys of each planned write that has any, in order.
pub(crate) fn writes(
    planned: &[Result<(Done, Vec<Put>), LedgerError>],
) -> impl Iterator<Item = &[Put]> {
    planned
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|(_, puts)| puts.as_slice()))
        .filter(|puts| !puts.is_empty())
}

fn apply_batch(
    trees: &Trees,
    seq: u64,
    planned: &[Result<(Done, Vec<Put>), LedgerError>],
) -> Result<(), String> {
    for puts in writes(planned) {
        apply_puts(trees, puts).map_err(|e| e.to_string())?;
    }
    mark_applied(trees, seq).map_err(|e| e.to_string())
}

/// Each writer's answer: its planned outcome, or the batch's failure.
pub(crate) fn answers(
    replies: Vec<Reply>,
    planned: Vec<Result<(Done, Vec<Put>), LedgerError>>,
    outcome: &Result<(), String>,
) -> Answers {
    Answers(
        replies
            .into_iter()
            .zip(planned)
            .map(|(reply, result)| {
                let result = match outcome {
                    Ok(()) => result.map(|(done, _)| done),
                    Err(e) => Err(LedgerError::Durability(e.clone())),
                };
                (reply, result)
            })
            .collect(),
    )
}
