//! The ledger's off-box copy (`[ha]`): a thread that turns each written journal batch into the
//! next segment of a hash-linked chain and uploads it to the bucket, in order.
//!
//! Guarantees: segments are uploaded strictly in chain order and each only once (a segment
//! that fails is retried, with backoff, until it is stored; nothing after it is sent before);
//! at start, and whenever batches were missed (the thread fell behind while the bucket was
//! unreachable), a base — every key/value of the ledger — is uploaded as the next segment, so
//! the copy is always restorable from its latest base. Assumes this process is the only
//! writer of its installation's segments (the upload refuses to replace one); when another
//! writer did store the segment it was about to (a previous leader's last uploads landing
//! after this one took over), it says so in the log, naming what that segment holds, and
//! continues the chain after it with a base instead of retrying a name that is taken.
//! Caveats: with `ack = "leader"`, a write is acknowledged before its segment is uploaded: a
//! disk lost in the seconds between loses those writes from the copy (the lag is in
//! `/metrics`); a base is held in memory while it uploads; two writers alive at once would
//! take turns rebasing (a leader that finds the lease held by another exits at once).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use warroom_adapters::segments::{PutError, SegmentBucket, SegmentStore};
use warroom_ledger::Ledger;
use warroom_ledger::replica::Shipment;
use warroom_ledger::segment::{GENESIS, Head, Segment, SegmentKind, digest, object_name};

/// Batches that may wait for upload before the committer drops them (a base follows).
const QUEUE: usize = 4096;

/// What `/readyz` and `/metrics` say about the copy.
pub struct CopyState {
    pub location: String,
    /// The last journal batch the bucket holds.
    pub batch: AtomicU64,
    /// The chain's last segment number.
    pub segments: AtomicU64,
    /// Whether the last upload attempt succeeded.
    pub up: AtomicBool,
    pub error: Mutex<Option<String>>,
    /// The chain's last segment in the bucket, as published on the lease.
    head: Mutex<Option<Head>>,
    installation: String,
    /// `ack = "replicated"` with `when_unreachable = "refuse"`: writes are held while uploads
    /// fail.
    hold_writes: bool,
}

impl CopyState {
    pub fn problem(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn failed(&self, ledger: &Ledger, why: String) {
        if !self.up.swap(false, Ordering::AcqRel) || self.problem().as_deref() != Some(&why) {
            tracing::warn!(error = %why, location = %self.location, "ledger copy: upload failed; retrying");
        }
        if self.hold_writes {
            ledger.hold(Some(format!(
                "the ledger's copy to {} cannot be written ({why}), and the plan acknowledges only what is copied ([ha] ack = \"replicated\", when_unreachable = \"refuse\")",
                self.location
            )));
        }
        *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// The chain's head in the bucket, as `<installation>/<number>/<sha256>`.
    pub fn head(&self) -> Option<String> {
        self.head
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(Head::to_string)
    }

    /// Journal batches written and not yet in the bucket.
    pub fn lag(&self, ledger: &Ledger) -> u64 {
        ledger
            .last_batch()
            .saturating_sub(self.batch.load(Ordering::Acquire))
    }

    fn stored(&self, ledger: &Ledger, number: u64, digest: &str, batch: u64) {
        *self.head.lock().unwrap_or_else(|p| p.into_inner()) = Some(Head {
            installation: self.installation.clone(),
            number,
            digest: digest.to_owned(),
        });
        self.segments.store(number, Ordering::Release);
        self.batch.store(batch, Ordering::Release);
        ledger.mark_copied(batch);
        if self.hold_writes {
            ledger.hold(None);
        }
        if !self.up.swap(true, Ordering::AcqRel) {
            tracing::info!(location = %self.location, segment = number, "ledger copy: uploading");
        }
        *self.error.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Prometheus text.
    pub fn render(&self, ledger: &Ledger) -> String {
        format!(
            "# HELP warroom_ledger_copy_up Whether the last upload of a ledger segment to the bucket succeeded.\n# TYPE warroom_ledger_copy_up gauge\nwarroom_ledger_copy_up {}\n\
# HELP warroom_ledger_copy_segments The last segment number in the bucket's chain.\n# TYPE warroom_ledger_copy_segments gauge\nwarroom_ledger_copy_segments {}\n\
# HELP warroom_ledger_copy_lag_batches Journal batches written here and not yet in the bucket.\n# TYPE warroom_ledger_copy_lag_batches gauge\nwarroom_ledger_copy_lag_batches {}\n",
            u8::from(self.up.load(Ordering::Acquire)),
            self.segments.load(Ordering::Acquire),
            self.lag(ledger)
        )
    }
}

/// The plan's `[ha]` as a bucket to write segments to.
pub fn bucket_of(ha: &warroom_config::model::ha::Ha) -> SegmentBucket {
    let (bucket, prefix) = SegmentBucket::parse_url(&ha.bucket).unwrap_or_default();
    SegmentBucket {
        bucket,
        region: ha.region.clone(),
        prefix,
        endpoint: ha.endpoint.clone(),
        retention: ha.object_lock.as_ref().map(|l| {
            (
                l.mode == warroom_config::model::storage::LockMode::Compliance,
                l.retain_for,
            )
        }),
    }
}

/// Start copying `ledger` to `bucket`; with `hold_writes`, writes are refused while uploads
/// fail.
pub fn start(
    ledger: &Arc<Ledger>,
    bucket: SegmentBucket,
    hold_writes: bool,
) -> anyhow::Result<Arc<CopyState>> {
    let store = SegmentStore::new(bucket, ledger.installation())?;
    let state = Arc::new(CopyState {
        location: store.location(),
        batch: AtomicU64::new(0),
        segments: AtomicU64::new(0),
        up: AtomicBool::new(false),
        error: Mutex::new(Some("not uploaded yet".into())),
        head: Mutex::new(None),
        installation: ledger.installation().to_owned(),
        hold_writes,
    });
    let rx = ledger.replicate(QUEUE);
    let (ledger, shared) = (Arc::clone(ledger), Arc::clone(&state));
    std::thread::Builder::new()
        .name("ledger-copy".into())
        .spawn(move || run(&ledger, &store, &shared, rx))?;
    Ok(state)
}

/// Retry `f` with backoff until it succeeds.
fn until_done<T>(
    ledger: &Ledger,
    state: &CopyState,
    mut f: impl FnMut() -> Result<T, String>,
) -> T {
    let mut wait = Duration::from_millis(250);
    loop {
        match f() {
            Ok(v) => return v,
            Err(why) => {
                state.failed(ledger, why);
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// The chain's head in the bucket: (last number, its SHA-256).
fn head(store: &SegmentStore) -> Result<(u64, String), String> {
    let names = store.list()?;
    let Some(last) = names.last() else {
        return Ok((0, GENESIS.to_owned()));
    };
    let bytes = store.get(last)?;
    let s = Segment::decode(last, &bytes).map_err(|e| e.to_string())?;
    if names.len() as u64 != s.number {
        return Err(format!(
            "{}: {} segments, the last numbered {}: the chain has a gap; `warroom ledger restore` names it",
            store.location(),
            names.len(),
            s.number
        ));
    }
    Ok((s.number, digest(&bytes)))
}

/// Another writer stored segment `name` before this one could (a replica that led before
/// this one, uploading batches it wrote before its fence): say what that segment holds that
/// this ledger may not, and answer the chain's new head, after which a base — this ledger's
/// whole state — continues it. The other segments stay in the bucket, named in the log.
fn overtaken(store: &SegmentStore, name: &str, batch: u64) -> Result<(u64, String), String> {
    let theirs = store.get(name)?;
    let what = match Segment::decode(name, &theirs) {
        Ok(s) => format!(
            "a {} segment for journal batch {} with {} key(s)",
            match s.kind {
                SegmentKind::Base => "base",
                SegmentKind::Batch => "batch",
            },
            s.batch,
            s.puts.len()
        ),
        Err(e) => format!("a segment this ledger cannot read ({e})"),
    };
    let (number, prev) = head(store)?;
    tracing::error!(
        location = %store.location(),
        segment = name,
        theirs = %what,
        head = number,
        "ledger copy: another server stored {name} first ({what}) while this one was copying batch {batch}; what it holds is not in this ledger unless this ledger wrote it too. Continuing the chain after segment {number} with a base of this ledger; `warroom ledger restore` restores from that base"
    );
    Ok((number, prev))
}

fn run(
    ledger: &Ledger,
    store: &SegmentStore,
    state: &CopyState,
    rx: std::sync::mpsc::Receiver<Shipment>,
) {
    let (mut number, mut prev) = until_done(ledger, state, || head(store));
    state.segments.store(number, Ordering::Release);
    // A base first: whatever the bucket held, the copy restarts from what this ledger holds.
    ledger.request_base();
    let mut next_batch: Option<u64> = None;
    while let Ok(shipment) = rx.recv() {
        let (kind, batch, puts) = match shipment {
            Shipment::Base { batch, puts } => (SegmentKind::Base, batch, puts),
            Shipment::Batch { batch, puts } => match next_batch {
                Some(n) if n == batch => (SegmentKind::Batch, batch, puts),
                // Waiting for a base, or batches were missed: a base covers them.
                Some(_) => {
                    next_batch = None;
                    ledger.request_base();
                    continue;
                }
                None => continue,
            },
        };
        let segment = Segment {
            number: number + 1,
            kind,
            batch,
            prev: prev.clone(),
            puts,
        };
        let bytes = segment.encode();
        let name = object_name(segment.number);
        let stored = until_done(ledger, state, || match store.put(&name, &bytes) {
            Ok(()) => Ok(true),
            Err(PutError::Taken(_)) => Ok(false),
            Err(PutError::Failed(why)) => Err(why),
        });
        if !stored {
            // Retrying the same name can never succeed: continue after whatever is there.
            (number, prev) = until_done(ledger, state, || overtaken(store, &name, batch));
            next_batch = None;
            ledger.request_base();
            continue;
        }
        number = segment.number;
        prev = digest(&bytes);
        next_batch = Some(batch + 1);
        state.stored(ledger, number, &prev, batch);
    }
}
