//! The single writer: applies writes in arrival order and makes each batch durable at once.
//!
//! One writer at a time holds the committer's state: the committer thread, or a caller
//! blocked in `Pending::wait` that found no one else writing. The second saves a lone
//! writer two thread hand-offs per write (on a 2-core VM, a fifth of its time); async
//! callers and everyone who finds the state taken leave their writes to whoever holds it.
//!
//! A commit has two stages: plan, journal and sync (holding the state), then apply to sled
//! and answer (see `applier`, in journal order). With writes still queued, the committer
//! thread hands the second stage to the apply thread and journals the next batch at once,
//! so the disk syncs one batch while the other core applies the one before; a lone writer
//! does both itself.
//!
//! Guarantees: a write's reply is sent only after the batch holding it is in the journal,
//! `fdatasync`ed (see `journal`) and applied, so it survives `kill -9` and power loss and is
//! readable at once; writes are applied
//! in submission order; each write's keys are one journal record, so after a crash replay
//! restores all of a write or none of it.
//! Assumes: this process is the only writer (sled's file lock and the in-process claim
//! enforce it).
//! Caveats: readers see a batch only after it is durable. If a journal write, a sled insert
//! or a checkpoint fails, the ledger refuses all further writes: after a failed fsync the
//! kernel may have dropped dirty pages, so nothing later could be promised.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use chrono::SubsecRound;
use tokio::sync::oneshot;
use warroom_commands::clock::timestamp;
use warroom_commands::{Actor, Clock, Event, Incident, IncidentId, Severity};

use crate::applier::{Answers, Applier, Journalled, Stage as ApplyStage, writes};
use crate::canonical::to_canonical;
use crate::chain::{Entry, GENESIS, link_hash};
use crate::error::LedgerError;
use crate::journal::{CAPACITY, Journal, Put, TreeId};
use crate::keys;
use crate::records::{EvidenceRecord, NewEvidence};
use crate::store::{Ledger, Trees, read_incident};

/// Most writes folded into one sync; with the entry size limit it also bounds a batch's bytes
/// well below the journal's capacity.
const MAX_BATCH: usize = 128;
/// Largest canonical entry body: artifacts go to the evidence store, not the timeline.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;
/// A journal with records is checkpointed after this long without writes.
const IDLE_CHECKPOINT: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) enum Op {
    Open {
        title: String,
        severity: Severity,
        actor: Actor,
        /// Set when an alert opens it: an open incident already holding this fingerprint is
        /// returned instead, and a new one takes the fingerprint in the same write.
        fingerprint: Option<String>,
        /// The alert rule that opens it, recorded in the opening entry.
        rule: Option<String>,
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
    Claim {
        key: String,
    },
    /// Raw writes of already verified records (salvage into a new ledger).
    Import {
        puts: Vec<Put>,
    },
}

/// What the committer did for one operation.
pub enum Done {
    Write(Box<Committed>),
    /// `true` when the key was new and is now durably claimed.
    Claim(bool),
    /// An alert's fingerprint already belongs to this open incident; nothing was written.
    Existing(Box<Incident>),
}

/// What opening an incident for an alert did.
#[derive(Debug, Clone)]
pub enum AlertIncident {
    Opened(Box<Committed>),
    /// The fingerprint's incident is still open: the alert joins it.
    Existing(Box<Incident>),
}

impl Outcome for AlertIncident {
    fn from_done(done: Done) -> Result<Self, LedgerError> {
        match done {
            Done::Write(c) => Ok(AlertIncident::Opened(c)),
            Done::Existing(i) => Ok(AlertIncident::Existing(i)),
            Done::Claim(_) => Err(LedgerError::Closed),
        }
    }
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
    reply: oneshot::Sender<Result<Done, LedgerError>>,
}

/// Writes waiting for a committer, in submission order.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Set when the background thread is asked to commit what is queued.
    posted: bool,
    /// Set when the ledger closes: nothing more is queued.
    closed: bool,
}

/// What became of the state after `commit_next`.
enum Next<'a> {
    /// Nothing was queued: the state is handed back.
    Empty(MutexGuard<'a, State>),
    /// A batch went to the apply thread and more are queued: the state is still held.
    Leading(MutexGuard<'a, State>),
    /// A batch was committed and answered; the state was let go.
    Done,
}

/// What the committer's holders and the writers share.
struct Inner {
    queue: Mutex<Queue>,
    posted: Condvar,
    /// The committer's state: whoever holds it is the single writer.
    state: Mutex<State>,
}

impl Inner {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ask the background thread to commit what is queued.
    fn post(&self) {
        self.queue().posted = true;
        self.posted.notify_one();
    }

    /// The state, once no one else writes. A holder that panicked mid-batch leaves the
    /// state poisoned: writes are then refused until a checkpoint succeeds (see `recover`),
    /// since what that batch reached is unknown.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| {
            let mut state = p.into_inner();
            state.poisoned();
            self.state.clear_poison();
            state
        })
    }

    fn try_lock(&self) -> Option<MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(state) => Some(state),
            Err(std::sync::TryLockError::WouldBlock) => None,
            Err(std::sync::TryLockError::Poisoned(p)) => {
                let mut state = p.into_inner();
                state.poisoned();
                self.state.clear_poison();
                Some(state)
            }
        }
    }

    /// Commit one batch from the head of the queue with the state `state` holds.
    ///
    /// The batch is planned, journalled and synced holding the state. Then, when `lead` is
    /// set and more writes are queued, the batch goes to the apply thread and the state is
    /// kept to journal the next one at once; otherwise the state is let go (what is queued
    /// is posted to the committer thread) and this thread applies the batch in its turn and
    /// answers it.
    fn commit_next<'a>(&'a self, mut state: MutexGuard<'a, State>, lead: bool) -> Next<'a> {
        let batch: Vec<Job> = {
            let mut q = self.queue();
            let n = q.jobs.len().min(MAX_BATCH);
            q.jobs.drain(..n).collect()
        };
        if batch.is_empty() {
            return Next::Empty(state);
        }
        match state.commit(batch) {
            Step::Answered(answers) => {
                drop(state);
                self.post_leftovers();
                answers.send();
            }
            Step::Journalled(batch) => {
                let batch = if lead && !self.queue().jobs.is_empty() {
                    match state.hand_off(batch) {
                        None => return Next::Leading(state),
                        Some(batch) => batch,
                    }
                } else {
                    batch
                };
                let apply = state.apply.clone();
                drop(state);
                self.post_leftovers();
                apply.apply_in_turn(batch).send();
            }
        }
        Next::Done
    }

    /// Writes queued by writers that found the state taken are the committer threads' now.
    fn post_leftovers(&self) {
        if !self.queue().jobs.is_empty() {
            self.post();
        }
    }
}

pub(crate) struct Committer {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Committer {
    pub fn start(
        trees: Arc<Trees>,
        clock: Arc<dyn Clock>,
        journal: Journal,
    ) -> Result<Committer, LedgerError> {
        let dir = trees.dir.clone();
        let (to_apply, batches) = channel();
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            posted: Condvar::new(),
            state: Mutex::new(State::new(trees, clock, journal, to_apply)),
        });
        let committer = Committer {
            inner,
            threads: Mutex::new(Vec::new()),
        };
        let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(body)
                .map_err(|e| LedgerError::Storage {
                    dir: dir.clone(),
                    message: format!("cannot start the {name} thread: {e}"),
                })
        };
        let background = committer.inner.clone();
        let committing = spawn("ledger-committer", Box::new(move || run(&background)))?;
        committer.threads().push(committing);
        let stage = committer.inner.lock().apply.clone();
        let applying = spawn(
            "ledger-apply",
            Box::new(move || crate::applier::run(&stage, batches)),
        )?;
        committer.threads().push(applying);
        Ok(committer)
    }

    fn threads(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn submit<T>(&self, op: Op) -> Pending<T> {
        let (reply, rx) = oneshot::channel();
        let sent = {
            let mut q = self.inner.queue();
            if !q.closed {
                q.jobs.push_back(Job { op, reply });
            }
            !q.closed
        };
        Pending {
            rx: Some(rx),
            committer: sent.then(|| self.inner.clone()),
            _out: std::marker::PhantomData,
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the queue lets the committer thread finish the writes already queued;
        // then the apply thread, with nothing more to be handed, ends too.
        self.inner.queue().closed = true;
        self.inner.posted.notify_all();
        let threads = std::mem::take(&mut *self.threads());
        let mut threads = threads.into_iter();
        if let Some(committing) = threads.next() {
            let _ = committing.join();
        }
        self.inner.lock().to_apply = None;
        for t in threads {
            let _ = t.join();
        }
    }
}

/// A write on its way to disk: `.wait()` blocks, `.await` does not.
///
/// The write is queued when it is made; `.wait()` commits it on the caller's own thread when
/// no one else is writing (a lone writer then pays no thread hand-off), `.await` and a
/// dropped `Pending` leave it to the committer thread.
pub struct Pending<T = Committed> {
    rx: Option<oneshot::Receiver<Result<Done, LedgerError>>>,
    /// Set until the write is waited for, awaited or dropped; `None` when it was not queued.
    committer: Option<Arc<Inner>>,
    _out: std::marker::PhantomData<fn() -> T>,
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        // Not waited for: the write is still made.
        if let Some(inner) = self.committer.take() {
            inner.post();
        }
    }
}

/// How a committer answer becomes what the caller asked for.
pub trait Outcome: Sized {
    fn from_done(done: Done) -> Result<Self, LedgerError>;
}

impl Outcome for Committed {
    fn from_done(done: Done) -> Result<Self, LedgerError> {
        match done {
            Done::Write(c) => Ok(*c),
            Done::Claim(_) | Done::Existing(_) => Err(LedgerError::Closed),
        }
    }
}

impl Outcome for bool {
    fn from_done(done: Done) -> Result<Self, LedgerError> {
        match done {
            Done::Claim(first) => Ok(first),
            Done::Write(_) | Done::Existing(_) => Err(LedgerError::Closed),
        }
    }
}

impl<T: Outcome> Pending<T> {
    /// Block until the write is durable. Do not call from inside an async task: await it.
    ///
    /// When no one else is writing, the caller's thread commits the head of the queue
    /// itself (its own write among it); otherwise the one writing will, or posts what it
    /// leaves to the committer thread.
    pub fn wait(mut self) -> Result<T, LedgerError> {
        let Some(rx) = self.rx.take() else {
            return Err(LedgerError::Closed);
        };
        let Some(inner) = self.committer.take() else {
            return Err(LedgerError::Closed);
        };
        if let Some(state) = inner.try_lock() {
            match inner.commit_next(state, false) {
                Next::Empty(state) | Next::Leading(state) => {
                    drop(state);
                    inner.post_leftovers();
                }
                Next::Done => {}
            }
        }
        rx.blocking_recv()
            .unwrap_or(Err(LedgerError::Closed))
            .and_then(T::from_done)
    }
}

impl<T: Outcome + Send + 'static> std::future::IntoFuture for Pending<T> {
    type Output = Result<T, LedgerError>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send>>;

    fn into_future(mut self) -> Self::IntoFuture {
        let rx = self.rx.take();
        let sent = self.committer.take().map(|inner| inner.post()).is_some();
        Box::pin(async move {
            match rx {
                Some(rx) if sent => rx
                    .await
                    .unwrap_or(Err(LedgerError::Closed))
                    .and_then(T::from_done),
                _ => Err(LedgerError::Closed),
            }
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
            fingerprint: None,
            rule: None,
        })
    }

    /// Open an incident for an alert, or find the open one its fingerprint already belongs to.
    ///
    /// Guarantees: one open incident per fingerprint, however many deliveries race (the
    /// committer decides, and the new incident takes the fingerprint in its opening write).
    /// A resolved incident lets its fingerprint go: the next alert opens a new one.
    pub fn open_for_alert(
        &self,
        title: &str,
        severity: Severity,
        actor: &Actor,
        fingerprint: &str,
        rule: &str,
    ) -> Pending<AlertIncident> {
        self.committer.submit(Op::Open {
            title: title.to_string(),
            severity,
            actor: actor.clone(),
            fingerprint: Some(fingerprint.to_owned()),
            rule: Some(rule.to_owned()),
        })
    }

    /// The open incident an alert fingerprint belongs to, if any.
    pub fn incident_of_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<Incident>, LedgerError> {
        let Some(id) = self
            .trees
            .h()?
            .fingerprints
            .get(fingerprint.as_bytes())
            .map_err(|e| self.trees.storage(e))?
        else {
            return Ok(None);
        };
        let id: IncidentId = crate::store::decode("fingerprint", &id)?;
        Ok(self
            .incident(&id)
            .ok()
            .filter(|i| i.status != warroom_commands::IncidentStatus::Resolved))
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

    /// Claim a delivery key (a chat platform's event or trigger id) once, durably.
    ///
    /// Guarantees: answers `true` to exactly one claim of a key, across restarts and
    /// `kill -9` (the claim is in the journal before the answer). Assumes the caller acts
    /// only on `true`. Caveat: at most once — if the process dies after the claim and before
    /// the action, a redelivery is not acted on either; the sender is told it was received.
    pub fn claim(&self, key: &str) -> Pending<bool> {
        self.committer.submit(Op::Claim {
            key: key.to_owned(),
        })
    }

    /// Write records as they are, durably; only salvage uses it, with records it verified.
    pub(crate) fn import(&self, puts: Vec<Put>) -> Pending<bool> {
        self.committer.submit(Op::Import { puts })
    }
}

/// How long the committer waits between attempts to recover from a failed write.
const RETRY_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(1);

/// The committer thread: commits what writers post, checkpoints an idle journal, retries
/// after a failure, and finishes the queue when the ledger closes.
fn run(inner: &Inner) {
    loop {
        // Wakes at least this often: a writer that committed on its own thread does not
        // tell this one that the journal now holds records to checkpoint.
        let wait = inner.lock().wait().unwrap_or(IDLE_CHECKPOINT);
        let closed = {
            let mut q = inner.queue();
            // Queued writes are never left waiting: their writers may have found the state
            // taken by this thread a moment ago.
            if !q.posted && !q.closed && q.jobs.is_empty() {
                q = inner
                    .posted
                    .wait_timeout(q, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            q.posted = false;
            q.closed
        };
        let mut wrote = false;
        let mut state = inner.lock();
        let mut state = loop {
            state = match inner.commit_next(state, true) {
                Next::Empty(state) => break state,
                Next::Leading(state) => state,
                Next::Done => inner.lock(),
            };
            wrote = true;
        };
        if !wrote {
            state.idle();
        }
        if closed {
            // Shutting down cleanly: leave nothing to replay.
            state.finish();
            return;
        }
    }
}

/// Everything the single writer keeps between batches.
struct State {
    trees: Arc<Trees>,
    clock: Arc<dyn Clock>,
    journal: Journal,
    failed: Option<String>,
    last_attempt: std::time::Instant,
    last_write: std::time::Instant,
    overlay: Overlay,
    /// A flush of sled started in the background when the journal passed half its room; the
    /// checkpoint that follows it then has little left to write while writers wait.
    pre_flush: Option<Receiver<()>>,
    /// The apply stage, and the tickets issued to it so far.
    apply: Arc<ApplyStage>,
    issued: u64,
    /// The apply thread's inbox; `None` once the ledger closes.
    to_apply: Option<Sender<Journalled>>,
}

/// Where a batch stands when it leaves the state.
enum Step {
    /// Refused, or written and applied holding the state: only its answers are left.
    Answered(Answers),
    /// Journalled and synced: to be applied, in turn, then answered.
    Journalled(Journalled),
}

impl State {
    fn new(
        trees: Arc<Trees>,
        clock: Arc<dyn Clock>,
        journal: Journal,
        to_apply: Sender<Journalled>,
    ) -> State {
        State {
            overlay: Overlay::new(trees.clone()),
            apply: ApplyStage::new(trees.clone()),
            issued: 0,
            to_apply: Some(to_apply),
            trees,
            clock,
            journal,
            failed: None,
            last_attempt: std::time::Instant::now(),
            last_write: std::time::Instant::now(),
            pre_flush: None,
        }
    }

    /// How long the committer thread may sleep before it has something to do unasked.
    fn wait(&self) -> Option<std::time::Duration> {
        if self.failed.is_some() {
            Some(RETRY_AFTER_FAILURE.saturating_sub(self.last_attempt.elapsed()))
        } else if self.journal.used() > 0 {
            Some(IDLE_CHECKPOINT.saturating_sub(self.last_write.elapsed()))
        } else {
            None
        }
    }

    fn poisoned(&mut self) {
        if self.failed.is_none() {
            let reason = "a ledger write stopped half way (the writing thread panicked)";
            tracing::error!(dir = %self.trees.origin.display(), "{reason}; refusing writes until a checkpoint succeeds");
            self.last_attempt = std::time::Instant::now();
            set_refused(&self.trees, &mut self.failed, Some(reason.into()));
        }
    }

    /// Before each batch, and when idle: learn of a batch that failed to apply, resume after
    /// a failure once a checkpoint succeeds, and give the off-box copy a base if it asked.
    fn between_batches(&mut self) {
        if self.failed.is_none()
            && let Some(reason) = self
                .trees
                .refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        {
            self.failed = Some(reason);
            self.last_attempt = std::time::Instant::now();
        }
        if self.failed.is_some() && self.last_attempt.elapsed() >= RETRY_AFTER_FAILURE {
            // A checkpoint that succeeds makes everything acknowledged durable in sled and
            // retires the journal, so writing can resume; what the failed batch had cached
            // is forgotten and re-read from disk.
            self.last_attempt = std::time::Instant::now();
            self.all_applied(|s, applier| {
                if recover(&s.trees, &mut s.journal, applier.failed.is_some()).is_ok() {
                    tracing::warn!(dir = %s.trees.origin.display(), "ledger writes succeed again; accepting writes");
                    s.overlay = Overlay::new(s.trees.clone());
                    applier.failed = None;
                    set_refused(&s.trees, &mut s.failed, None);
                }
            });
        }
        // With every journalled batch applied, a base taken now is consistent.
        if self.failed.is_none() && self.trees.replica.base_asked() {
            self.all_applied(|s, _| {
                s.trees
                    .replica
                    .base_if_asked(&s.trees, s.journal.last_seq())
            });
        }
    }

    /// Nothing was queued: checkpoint a journal that has been quiet long enough.
    fn idle(&mut self) {
        self.between_batches();
        if self.failed.is_none()
            && self.journal.used() > 0
            && self.last_write.elapsed() >= IDLE_CHECKPOINT
        {
            self.checkpoint();
        }
    }

    fn finish(&mut self) {
        if self.failed.is_none() && self.journal.used() > 0 {
            self.checkpoint();
        }
    }

    /// Checkpoint once every journalled batch is applied: it retires the journal.
    fn checkpoint(&mut self) {
        self.all_applied(|s, _| checkpoint_or_fail(&s.trees, &mut s.journal, &mut s.failed));
    }

    /// Plan a batch and journal it; it is left to be applied and answered.
    fn commit(&mut self, batch: Vec<Job>) -> Step {
        self.between_batches();
        self.checkpoint_when_half_full();
        self.last_write = std::time::Instant::now();
        let started = std::time::Instant::now();
        if let Some(reason) = &self.failed {
            let refused = |j: Job| (j.reply, Err(LedgerError::Durability(reason.clone())));
            return Step::Answered(Answers(batch.into_iter().map(refused).collect()));
        }
        // Held by the off-box copy (ack = "replicated", bucket unreachable): nothing is
        // written, so nothing is acknowledged that the copy could not take.
        if let Some(reason) = self.trees.held() {
            let held = |j: Job| (j.reply, Err(LedgerError::Held(reason.clone())));
            return Step::Answered(Answers(batch.into_iter().map(held).collect()));
        }
        // The overlay is what the batches not yet applied wrote: it is cleared only once
        // they are, else a plan would read what sled held before them.
        let imports = batch.iter().any(|j| matches!(j.op, Op::Import { .. }));
        let (stage, issued) = (self.apply.clone(), self.issued);
        let drained = (imports || self.overlay.full()).then(|| stage.drained(issued));
        self.overlay.trim();
        let clock = self.clock.clone();
        let (replies, ops): (Vec<_>, Vec<_>) = batch.into_iter().map(|j| (j.reply, j.op)).unzip();
        let planned: Vec<_> = ops
            .iter()
            .map(|op| self.overlay.plan(clock.as_ref(), op))
            .collect();
        let puts: Vec<&[Put]> = writes(&planned).collect();
        let bytes = Journal::encoded_len(&puts);
        let ticket = self.issued;
        let journalled = |seq, replies, planned| {
            Step::Journalled(Journalled {
                ticket,
                seq,
                replies,
                planned,
                journalled_in: started.elapsed(),
            })
        };
        if puts.is_empty() {
            // Nothing to journal, yet answered in turn: an answer may name a write (an
            // alert's open incident) that an earlier batch still applies.
            self.issued += 1;
            return journalled(None, replies, planned);
        }
        if drained.is_none() && self.journal.fits(bytes) {
            let synced = std::time::Instant::now();
            return match self.journal.append(&puts) {
                Ok(seq) => {
                    self.trees.stats.fsync.observe_duration(synced.elapsed());
                    self.trees.replica.batch(seq, &puts);
                    self.issued += 1;
                    journalled(Some(seq), replies, planned)
                }
                Err(e) => {
                    let e = format!("journal: {e}");
                    self.refuse(&e);
                    Step::Answered(crate::applier::answers(replies, planned, &Err(e)))
                }
            };
        }
        // An import, a trim or a batch the journal has no room for: written and applied here,
        // holding both the state and the apply stage, as one step.
        let mut applier = drained.unwrap_or_else(|| stage.drained(issued));
        let outcome = match &applier.failed {
            Some(reason) => Err(reason.clone()),
            None => write_through(&self.trees, &mut self.journal, &puts),
        };
        if outcome.is_ok() {
            crate::applier::publish(&self.trees, &planned);
            self.trees.stats.commit.observe_duration(started.elapsed());
            self.trees.stats.batch.observe(puts.len() as f64);
        } else if let Err(e) = &outcome {
            self.refuse(e);
            applier.failed.get_or_insert_with(|| e.clone());
        }
        drop(applier);
        Step::Answered(crate::applier::answers(replies, planned, &outcome))
    }

    /// Give a journalled batch to the apply thread; it comes back if that thread is gone.
    fn hand_off(&self, batch: Journalled) -> Option<Journalled> {
        match &self.to_apply {
            Some(to) => to.send(batch).err().map(|e| e.0),
            None => Some(batch),
        }
    }

    fn refuse(&mut self, reason: &str) {
        self.last_attempt = std::time::Instant::now();
        refuse_writes(&self.trees, &mut self.failed, reason);
    }

    /// Run `f` once every journalled batch is applied, holding the apply stage, so nothing
    /// is applied meanwhile (a checkpoint, a recovery, a base for the off-box copy).
    fn all_applied<R>(&mut self, f: impl FnOnce(&mut State, &mut Applier) -> R) -> R {
        let stage = self.apply.clone();
        let mut applier = stage.drained(self.issued);
        f(self, &mut applier)
    }

    /// A journal past half its room: flush sled early in the background, then checkpoint
    /// once that flush is done. Run before a batch, so it never holds back answers.
    fn checkpoint_when_half_full(&mut self) {
        if self.failed.is_none() && self.journal.used() > CAPACITY / 2 {
            match &self.pre_flush {
                None => self.pre_flush = Some(start_pre_flush(&self.trees)),
                Some(done) if done.try_recv() != Err(std::sync::mpsc::TryRecvError::Empty) => {
                    self.pre_flush = None;
                    self.checkpoint();
                }
                Some(_) => {}
            }
        }
    }
}

/// Flush sled on another thread while the committer goes on writing; the channel says when
/// it is done. Its errors are not kept: the checkpoint after it flushes again and reports.
///
/// Why: a checkpoint's flush writes everything since the last one (megabytes at thousands
/// of writes a second), and done on the committer it held every write for 100–300 ms.
fn start_pre_flush(trees: &Trees) -> Receiver<()> {
    let (done, rx) = channel();
    if let Ok(h) = trees.h() {
        let spawned = std::thread::Builder::new()
            .name("ledger-pre-flush".into())
            .spawn(move || {
                let _ = h.db.flush();
                let _ = done.send(());
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread for the ledger's early flush; the checkpoint will do it all");
        }
    }
    rx
}

/// A write failed: say so, and refuse writes until a checkpoint succeeds.
pub(crate) fn refuse_writes(trees: &Trees, failed: &mut Option<String>, reason: &str) {
    tracing::error!(error = %reason, dir = %trees.origin.display(), "ledger write failed; refusing writes until a checkpoint succeeds");
    set_refused(trees, failed, Some(reason.to_owned()));
}

pub(crate) fn set_refused(trees: &Trees, failed: &mut Option<String>, reason: Option<String>) {
    *trees.refused.lock().unwrap_or_else(|p| p.into_inner()) = reason.clone();
    *failed = reason;
}

/// Journal first (durable), then sled (visible). A crash in between is repaired by replay.
/// A batch too big for the room left is split into journal batches that each fit, with a
/// checkpoint between them, so a full journal never stops the ledger.
fn write_through(trees: &Trees, journal: &mut Journal, puts: &[&[Put]]) -> Result<(), String> {
    let mut start = 0;
    while start < puts.len() {
        let mut end = start + 1;
        while end < puts.len() && Journal::ever_fits(Journal::encoded_len(&puts[start..=end])) {
            end += 1;
        }
        let chunk = &puts[start..end];
        if !journal.fits(Journal::encoded_len(chunk)) {
            checkpoint(trees, journal)?;
        }
        let started = std::time::Instant::now();
        let seq = journal.append(chunk).map_err(|e| format!("journal: {e}"))?;
        trees.stats.fsync.observe_duration(started.elapsed());
        trees.replica.batch(seq, chunk);
        for op in chunk {
            apply_puts(trees, op).map_err(|e| e.to_string())?;
        }
        mark_applied(trees, seq).map_err(|e| e.to_string())?;
        start = end;
    }
    Ok(())
}

/// Get back to a state where writes can be promised again: a checkpoint when sled is fine
/// (a failed journal sync), else a fresh open of sled (which refuses everything after one
/// I/O error) and a replay of the journal into it, as at start.
///
/// Caveat: a batch that reached the journal before sled failed was answered as failed, yet
/// is replayed here, so it appears in the ledger; nothing acknowledged is ever lost.
///
/// After a batch failed to apply (`sled_failed`), the journal may hold batches behind it that
/// were never applied: sled is then always reopened and the journal replayed, never merely
/// checkpointed (which would retire those batches unapplied).
fn recover(trees: &Trees, journal: &mut Journal, sled_failed: bool) -> Result<(), String> {
    if !sled_failed && checkpoint(trees, journal).is_ok() {
        return Ok(());
    }
    trees.reopen().map_err(|e| e.to_string())?;
    let (mut fresh, replay) =
        Journal::open(&trees.dir.join("journal")).map_err(|e| e.to_string())?;
    // Every batch: sled may hold a batch's keys without its records (those wait for a
    // checkpoint); replaying is idempotent.
    replay_batches(trees, &replay.batches)?;
    checkpoint(trees, &mut fresh)?;
    *journal = fresh;
    Ok(())
}

/// Record in sled that batch `seq` is applied; written after the batch's own keys.
pub(crate) fn mark_applied(trees: &Trees, seq: u64) -> Result<(), LedgerError> {
    trees
        .h()?
        .meta
        .insert(keys::APPLIED_KEY, &seq.to_be_bytes())
        .map(|_| ())
        .map_err(|e| trees.storage(e))
}

/// Store the records published since the last checkpoint, make sled durable, then retire
/// the journal's records.
pub(crate) fn checkpoint(trees: &Trees, journal: &mut Journal) -> Result<(), String> {
    let started = std::time::Instant::now();
    let done = checkpoint_now(trees, journal);
    trees.stats.checkpoint.observe_duration(started.elapsed());
    done
}

fn checkpoint_now(trees: &Trees, journal: &mut Journal) -> Result<(), String> {
    let h = trees.h().map_err(|e| e.to_string())?;
    let dirty = trees.published.dirty();
    for record in &dirty {
        h.incidents
            .insert(record.id.as_str().as_bytes(), json(record.as_ref()))
            .map_err(|e| format!("sled insert: {e}"))?;
    }
    h.db.flush().map_err(|e| format!("sled flush: {e}"))?;
    h.log_file
        .sync_data()
        .map_err(|e| format!("sled fdatasync: {e}"))?;
    journal.reset().map_err(|e| format!("journal reset: {e}"))?;
    trees.published.mark_clean(&dirty);
    Ok(())
}

/// Apply journal batches to sled, and each entry they hold to its incident's
/// record (skipping entries the record already counts, so replaying twice changes nothing).
/// Used on open (the idle checkpoint follows) and when recovering from a failed write (a
/// checkpoint follows at once).
pub(crate) fn replay_batches(
    trees: &Trees,
    batches: &[crate::journal::Batch],
) -> Result<(), String> {
    for batch in batches {
        for puts in &batch.ops {
            apply_puts(trees, puts).map_err(|e| e.to_string())?;
            for p in puts.iter().filter(|p| p.tree == TreeId::Timeline) {
                let entry: Entry =
                    crate::store::decode("journal entry", &p.value).map_err(|e| e.to_string())?;
                let mut record =
                    read_incident(trees, &entry.incident).map_err(|e| e.to_string())?;
                let have = record.as_ref().map_or(0, |r| r.entries);
                if entry.seq < have {
                    continue;
                }
                if entry.seq > have {
                    return Err(format!(
                        "batch {}: entry {} of {} follows a record that counts {have} entries",
                        batch.seq, entry.seq, entry.incident
                    ));
                }
                crate::replay::step(&entry.incident, &mut record, &entry)
                    .map_err(|e| format!("batch {}: {e}", batch.seq))?;
                if let Some(r) = record {
                    trees.published.publish(r);
                }
            }
        }
        mark_applied(trees, batch.seq).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn checkpoint_or_fail(trees: &Trees, journal: &mut Journal, failed: &mut Option<String>) {
    if let Err(e) = checkpoint(trees, journal) {
        tracing::error!(error = %e, dir = %trees.origin.display(), "ledger checkpoint failed; refusing writes until a checkpoint succeeds");
        set_refused(trees, failed, Some(e));
    }
}

/// Apply one operation's writes to sled (also used by replay on open).
pub(crate) fn apply_puts(trees: &Trees, puts: &[Put]) -> Result<(), LedgerError> {
    let h = trees.h()?;
    for p in puts {
        let tree = match p.tree {
            TreeId::Incidents => &h.incidents,
            TreeId::Timeline => &h.timeline,
            TreeId::Evidence => &h.evidence,
            TreeId::Meta => &h.meta,
            TreeId::Idempotency => &h.idempotency,
            TreeId::Fingerprints => &h.fingerprints,
        };
        tree.insert(p.key.as_slice(), p.value.as_slice())
            .map_err(|e| trees.storage(e))?;
        // Raw record writes (salvage) replace whatever was published for that incident.
        if p.tree == TreeId::Incidents
            && let Ok(id) = String::from_utf8_lossy(&p.key).parse::<IncidentId>()
        {
            trees.published.forget(&id);
        }
    }
    Ok(())
}

/// Incident records and day counters as the committer last wrote them. Writes to one
/// incident in a batch chain onto each other before sled sees any, and the next write to a
/// busy incident needs no sled read. Coherent because the committer is the only writer; if a
/// batch fails the ledger stops writing, so a cached value that never reached disk is never
/// built upon.
struct Overlay {
    trees: Arc<Trees>,
    incidents: HashMap<IncidentId, Incident>,
    counters: HashMap<Vec<u8>, u32>,
    /// Keys claimed in batches that sled may not show yet.
    claims: std::collections::HashSet<String>,
    /// Alert fingerprints given to incidents in batches that sled may not show yet.
    fingerprints: HashMap<String, IncidentId>,
}

impl Overlay {
    fn new(trees: Arc<Trees>) -> Self {
        Overlay {
            trees,
            incidents: HashMap::new(),
            counters: HashMap::new(),
            claims: std::collections::HashSet::new(),
            fingerprints: HashMap::new(),
        }
    }

    /// Whether `trim` would forget anything.
    fn full(&self) -> bool {
        self.incidents.len() > 4096
            || self.counters.len() > 64
            || self.claims.len() > 4096
            || self.fingerprints.len() > 4096
    }

    /// Bound the cache: incidents come and go, busy ones are re-read once.
    fn trim(&mut self) {
        if self.incidents.len() > 4096 {
            self.incidents.clear();
        }
        if self.counters.len() > 64 {
            self.counters.clear();
        }
        if self.claims.len() > 4096 {
            self.claims.clear();
        }
        if self.fingerprints.len() > 4096 {
            self.fingerprints.clear();
        }
    }

    fn incident(&self, id: &IncidentId) -> Result<Incident, LedgerError> {
        if let Some(i) = self.incidents.get(id) {
            return Ok(i.clone());
        }
        read_incident(&self.trees, id)?.ok_or_else(|| LedgerError::NoSuchIncident(id.clone()))
    }

    fn counter(&self, key: &[u8], day: &str) -> Result<u32, LedgerError> {
        if let Some(c) = self.counters.get(key) {
            return Ok(*c);
        }
        match self
            .trees
            .h()?
            .meta
            .get(key)
            .map_err(|e| self.trees.storage(e))?
        {
            Some(v) => <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| LedgerError::Corrupt {
                    what: format!("incident counter for {day}"),
                    reason: "not 4 bytes".into(),
                }),
            None => Ok(0),
        }
    }

    /// Work out one operation's entry and writes without touching sled.
    fn plan(&mut self, clock: &dyn Clock, op: &Op) -> Result<(Done, Vec<Put>), LedgerError> {
        // The ledger keeps microseconds; truncate once so records and entries agree exactly.
        let now = clock.now().trunc_subsecs(6);
        let at = timestamp(now);
        if let Op::Claim { key } = op {
            return self.claim(key, &at);
        }
        if let Op::Import { puts } = op {
            // Forget cached state the raw writes replace.
            self.incidents.clear();
            self.counters.clear();
            return Ok((Done::Claim(true), puts.clone()));
        }
        if let Op::Open {
            fingerprint: Some(fp),
            ..
        } = op
            && let Some(open) = self.open_incident_of(fp)?
        {
            return Ok((Done::Existing(Box::new(open)), Vec::new()));
        }
        let mut puts = Vec::with_capacity(4);
        let (mut incident, event, evidence) = match op {
            Op::Open {
                title,
                severity,
                actor,
                fingerprint,
                rule,
            } => {
                let day = now.format("%Y%m%d").to_string();
                let key = keys::day_counter_key(&day);
                let counter = self.counter(&key, &day)? + 1;
                puts.push(Put {
                    tree: TreeId::Meta,
                    key,
                    value: counter.to_be_bytes().to_vec(),
                });
                let id = IncidentId::new(now.date_naive(), counter);
                if let Some(fp) = fingerprint {
                    puts.push(Put {
                        tree: TreeId::Fingerprints,
                        key: fp.as_bytes().to_vec(),
                        value: json(&id),
                    });
                }
                let incident = Incident::opened(id, title.clone(), *severity, now, actor.clone());
                let event = Event::IncidentOpened {
                    title: title.clone(),
                    severity: *severity,
                    alert_rule: rule.clone(),
                };
                (incident, event, None)
            }
            Op::Append {
                incident, event, ..
            } => {
                let record = self.incident(incident)?;
                // The engine looked for the same request on the record it read; two asks
                // sent at once both passed that look. The single writer looks again, so
                // at most one is opened (and so at most one can ever run).
                if let Event::RequestOpened(spec) = event
                    && let Some(earlier) = record.same_request(&spec.binding, spec.action)
                {
                    return Err(LedgerError::Refused(warroom_commands::Refusal::Duplicate {
                        earlier: earlier.id().to_owned(),
                        status: earlier.status,
                    }));
                }
                let mut event = event.clone();
                // Request numbers are allocated here, by the only writer, as incident ids are.
                match &mut event {
                    Event::RequestOpened(spec) if spec.request.is_empty() => {
                        spec.request = record.next_request_id();
                    }
                    // Page numbers too: deliveries are named after them.
                    Event::Paged { page, .. } | Event::PageFollowUp { page, .. }
                        if page.is_none() =>
                    {
                        *page = Some(record.next_page_id());
                    }
                    _ => {}
                }
                (record, event, None)
            }
            Op::Claim { .. } | Op::Import { .. } => unreachable_claim()?,
            Op::Evidence {
                incident,
                actor,
                evidence,
            } => {
                let record = self.incident(incident)?;
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
                let ev = EvidenceRecord {
                    id,
                    incident: incident.clone(),
                    name: evidence.name.clone(),
                    sha256: evidence.sha256.clone(),
                    size: evidence.size,
                    location: evidence.location.clone(),
                    collected_by: actor.to_string(),
                    collected_at: at.clone(),
                    approval: evidence.approval.clone(),
                    entry_seq: seq,
                };
                (record, event, Some(ev))
            }
        };
        let actor = match op {
            Op::Open { actor, .. } | Op::Append { actor, .. } | Op::Evidence { actor, .. } => actor,
            Op::Claim { .. } | Op::Import { .. } => unreachable_claim()?,
        };
        let entry = next_entry(&incident, actor, &event, &at)?;
        incident
            .apply(&event, actor, now, &entry.hash)
            .map_err(LedgerError::Refused)?;
        puts.push(Put {
            tree: TreeId::Timeline,
            key: keys::timeline_key(&incident.id, entry.seq),
            value: json(&entry),
        });
        if let Some(ev) = &evidence {
            puts.push(Put {
                tree: TreeId::Evidence,
                key: keys::evidence_key(&incident.id, entry.seq),
                value: json(ev),
            });
        }
        // The record itself is not journalled: it is published once this write is durable
        // and stored at the next checkpoint (see `published`), so a write costs the same
        // however big its incident is.
        let bytes = Journal::encoded_len(&[puts.as_slice()]);
        if !Journal::ever_fits(bytes) {
            return Err(LedgerError::TooLarge {
                bytes,
                limit: CAPACITY as usize / 2,
            });
        }
        // Cache only now that the write is sure to be journalled: a refused write (too large,
        // say) must not skip an incident number or advance a chain.
        if let Some(Put { key, value, .. }) = puts.iter().find(|p| p.tree == TreeId::Meta)
            && let Ok(bytes) = <[u8; 4]>::try_from(value.as_slice())
        {
            self.counters.insert(key.clone(), u32::from_be_bytes(bytes));
        }
        if let Op::Open {
            fingerprint: Some(fp),
            ..
        } = op
        {
            self.fingerprints.insert(fp.clone(), incident.id.clone());
        }
        self.incidents.insert(incident.id.clone(), incident.clone());
        Ok((
            Done::Write(Box::new(Committed {
                incident,
                entry,
                evidence,
            })),
            puts,
        ))
    }

    /// The still-open incident holding `fingerprint`, from this batch or from sled.
    fn open_incident_of(&self, fingerprint: &str) -> Result<Option<Incident>, LedgerError> {
        let id = match self.fingerprints.get(fingerprint) {
            Some(id) => id.clone(),
            None => match self
                .trees
                .h()?
                .fingerprints
                .get(fingerprint.as_bytes())
                .map_err(|e| self.trees.storage(e))?
            {
                Some(v) => crate::store::decode("fingerprint", &v)?,
                None => return Ok(None),
            },
        };
        let incident = self.incident(&id)?;
        Ok((incident.status != warroom_commands::IncidentStatus::Resolved).then_some(incident))
    }

    fn claim(&mut self, key: &str, at: &str) -> Result<(Done, Vec<Put>), LedgerError> {
        let seen = self.claims.contains(key)
            || self
                .trees
                .h()?
                .idempotency
                .contains_key(key.as_bytes())
                .map_err(|e| self.trees.storage(e))?;
        if seen {
            return Ok((Done::Claim(false), Vec::new()));
        }
        self.claims.insert(key.to_owned());
        Ok((
            Done::Claim(true),
            vec![Put {
                tree: TreeId::Idempotency,
                key: key.as_bytes().to_vec(),
                value: at.as_bytes().to_vec(),
            }],
        ))
    }
}

/// Claims are planned before the match that builds entries; this keeps that match total.
fn unreachable_claim<T>() -> Result<T, LedgerError> {
    Err(LedgerError::Corrupt {
        what: "committer".into(),
        reason: "a claim reached the entry planner".into(),
    })
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
    let canonical = to_canonical(&entry.body())?;
    if canonical.len() > MAX_ENTRY_BYTES {
        return Err(LedgerError::TooLarge {
            bytes: canonical.len(),
            limit: MAX_ENTRY_BYTES,
        });
    }
    entry.hash = link_hash(&entry.prev_hash, &canonical);
    Ok(entry)
}

/// The ledger's own record types are plain data: serialising them cannot fail.
fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
#[path = "committer_tests.rs"]
mod tests;
