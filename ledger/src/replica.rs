//! The committer's side of the off-box copy (see [`crate::segment`]): each journal batch, as
//! written, is handed to whoever ships segments, and a base (every key/value) is taken
//! between batches when the shipper asks for one.
//!
//! Guarantees: a batch is handed over only after it is durable in the journal, in batch
//! order; a base is consistent (taken by the only writer, between batches) and names the last
//! batch it includes. Caveat: the hand-over never blocks the committer — when the shipper
//! falls behind by more than the channel holds, batches are dropped and the shipper sees the
//! gap in the numbers and asks for a base instead, so the copy is whole again after it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::journal::{Put, TreeId};
use crate::store::{Ledger, Trees};

/// What the committer hands to the shipper.
#[derive(Debug)]
pub enum Shipment {
    /// One journal batch's writes.
    Batch { batch: u64, puts: Vec<Put> },
    /// Every key/value after journal batch `batch`.
    Base { batch: u64, puts: Vec<Put> },
}

pub struct Sink {
    tx: Mutex<Option<SyncSender<Shipment>>>,
    want_base: AtomicBool,
    /// The last journal batch the copy holds.
    copied: tokio::sync::watch::Sender<u64>,
}

impl Default for Sink {
    fn default() -> Self {
        Sink {
            tx: Mutex::default(),
            want_base: AtomicBool::default(),
            copied: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Sink {
    fn send(&self, s: Shipment) {
        let mut tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = tx.as_ref() {
            match t.try_send(s) {
                // Full: the shipper sees the gap and asks for a base.
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => *tx = None,
            }
        }
    }

    pub(crate) fn batch<P: AsRef<[Put]>>(&self, batch: u64, ops: &[P]) {
        if self.tx.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            return;
        }
        let puts = ops
            .iter()
            .flat_map(|o| o.as_ref().iter().cloned())
            .collect();
        self.send(Shipment::Batch { batch, puts });
    }

    /// Whether the off-box copy asked for a base (see `base_if_asked`).
    pub(crate) fn base_asked(&self) -> bool {
        self.want_base.load(Ordering::Acquire)
    }

    pub(crate) fn base_if_asked(&self, trees: &Trees, last_batch: u64) {
        if !self.want_base.swap(false, Ordering::AcqRel) {
            return;
        }
        let Ok(h) = trees.h() else {
            self.want_base.store(true, Ordering::Release);
            return;
        };
        let mut puts = Vec::new();
        for (tree, t) in [
            (TreeId::Timeline, &h.timeline),
            (TreeId::Evidence, &h.evidence),
            (TreeId::Meta, &h.meta),
            (TreeId::Idempotency, &h.idempotency),
            (TreeId::Fingerprints, &h.fingerprints),
        ] {
            for kv in t.iter() {
                // A base claims every key: one it could not read fails the base (asked for
                // again at the next batch), never a base that quietly lacks it.
                let Ok((k, v)) = kv else {
                    tracing::warn!(tree = ?tree, "a key could not be read for the off-box base; trying again later");
                    self.want_base.store(true, Ordering::Release);
                    return;
                };
                let p = Put {
                    tree,
                    key: k.to_vec(),
                    value: v.to_vec(),
                };
                if crate::segment::base_worthy(&p) {
                    puts.push(p);
                }
            }
        }
        self.send(Shipment::Base {
            batch: last_batch,
            puts,
        });
    }
}

impl Ledger {
    /// Start handing written batches to an off-box copy: at most `capacity` wait in the
    /// channel. Call once; a second call replaces the first receiver.
    pub fn replicate(&self, capacity: usize) -> Receiver<Shipment> {
        let (tx, rx) = sync_channel(capacity);
        *self
            .trees
            .replica
            .tx
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    /// The copy holds every batch up to `batch`.
    pub fn mark_copied(&self, batch: u64) {
        self.trees.replica.copied.send_replace(batch);
    }

    /// Follows the last batch the copy holds.
    pub fn copied(&self) -> tokio::sync::watch::Receiver<u64> {
        self.trees.replica.copied.subscribe()
    }

    /// Ask for a base: it arrives on the channel after the batches already written.
    pub fn request_base(&self) {
        self.trees.replica.want_base.store(true, Ordering::Release);
        // An empty import writes nothing; it wakes an idle committer to take the base.
        drop(self.import(Vec::new()));
    }
}
