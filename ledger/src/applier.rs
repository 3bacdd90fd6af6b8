//! The second stage of a commit: apply a journalled batch to sled, publish it, answer it.
//!
//! Why a stage of its own: with many writers, the committer journals and syncs the next
//! batch (most of a commit's time) while this one is applied to sled on the apply thread,
//! on the other core. Each journalled batch takes a ticket, in journal order, and is applied
//! only in its turn, on the apply thread or by a committer that had nothing more to journal
//! and applies its batch itself (no thread hand-off for a lone writer). Whoever must see
//! every journalled batch applied (a checkpoint, a recovery, a base for the off-box copy, an
//! overlay trim) waits for the last ticket's turn.
//!
//! Guarantees: a batch is answered only after its journal record is synced and its keys are
//! in sled; batches are applied and answered in the order they were journalled.
//! Caveat: once a batch fails to apply, the batches journalled behind it are not applied and
//! are answered as failed; they are in the journal, so the recovery's replay applies them
//! (as for a batch whose sled write failed: never a lost acknowledgement, at worst a write
//! answered "failed" that the ledger holds).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::committer::{Done, apply_puts, mark_applied, refuse_writes, set_refused};
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
    /// Its turn: batches are applied in ticket order, which is journal order.
    pub ticket: u64,
    /// The journal batch holding its writes; `None` when no write in it had keys.
    pub seq: Option<u64>,
    pub replies: Vec<Reply>,
    pub planned: Vec<Result<(Done, Vec<Put>), LedgerError>>,
    /// Time spent planning, journalling and syncing it, for the commit statistics.
    pub journalled_in: Duration,
}

/// The apply stage: its state, and the turn it is at.
pub(crate) struct Stage {
    state: Mutex<Applier>,
    turn: Condvar,
}

/// The apply stage's state, behind its lock.
pub(crate) struct Applier {
    trees: Arc<Trees>,
    /// Set when a batch failed to apply: sled then refuses everything, so what follows is
    /// left to the recovery's replay.
    pub failed: Option<String>,
    /// The ticket whose turn it is.
    next: u64,
}

impl Stage {
    pub fn new(trees: Arc<Trees>) -> Arc<Stage> {
        Arc::new(Stage {
            state: Mutex::new(Applier {
                trees,
                failed: None,
                next: 0,
            }),
            turn: Condvar::new(),
        })
    }

    /// Wait until every ticket before `issued` is applied; the stage is then held, so
    /// nothing is applied until it is let go.
    pub fn drained(&self, issued: u64) -> MutexGuard<'_, Applier> {
        let mut a = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while a.next < issued {
            a = self.turn.wait(a).unwrap_or_else(|p| p.into_inner());
        }
        a
    }

    /// Apply a batch in its turn and return its answers.
    ///
    /// A panic while applying is caught: the turn still passes (else every later batch would
    /// wait forever), and writes are refused until recovery, since what the batch reached in
    /// sled is unknown. Its writers see the ledger closed.
    pub fn apply_in_turn(&self, batch: Journalled) -> Answers {
        let ticket = batch.ticket;
        let mut a = self.drained(ticket);
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.apply(batch)));
        a.next = ticket + 1;
        let answers = applied.unwrap_or_else(|_| {
            let reason = "a ledger write stopped half way (the applying thread panicked)";
            tracing::error!(dir = %a.trees.origin.display(), "{reason}; refusing writes until a checkpoint succeeds");
            let trees = a.trees.clone();
            set_refused(&trees, &mut a.failed, Some(reason.into()));
            Answers(Vec::new())
        });
        drop(a);
        self.turn.notify_all();
        answers
    }
}

/// The apply thread: applies, in turn, the batches a busy committer hands it.
pub(crate) fn run(stage: &Stage, batches: std::sync::mpsc::Receiver<Journalled>) {
    for batch in batches {
        stage.apply_in_turn(batch).send();
    }
}

impl Applier {
    /// Apply one journalled batch, publish its records and return its answers.
    fn apply(&mut self, batch: Journalled) -> Answers {
        let started = Instant::now();
        let trees = self.trees.clone();
        let outcome = match (&self.failed, batch.seq) {
            (Some(reason), _) => Err(reason.clone()),
            (None, None) => Ok(()),
            (None, Some(seq)) => apply_batch(&trees, seq, &batch.planned),
        };
        match &outcome {
            Ok(()) => publish(&trees, &batch.planned),
            Err(e) if self.failed.is_none() => refuse_writes(&trees, &mut self.failed, e),
            Err(_) => {}
        }
        if batch.seq.is_some() {
            trees
                .stats
                .commit
                .observe_duration(batch.journalled_in + started.elapsed());
            trees
                .stats
                .batch
                .observe(writes(&batch.planned).count() as f64);
        }
        answers(batch.replies, batch.planned, &outcome)
    }
}

/// A batch is durable and in sled: readers may see its records now, before anyone is
/// answered.
pub(crate) fn publish(trees: &Trees, planned: &[Result<(Done, Vec<Put>), LedgerError>]) {
    for (done, _) in planned.iter().flatten() {
        if let Done::Write(c) = done {
            trees.published.publish(c.incident.clone());
        }
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
