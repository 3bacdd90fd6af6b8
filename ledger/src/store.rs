//! Opening the ledger and reading from it.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::de::DeserializeOwned;
use warroom_commands::{Clock, Incident, IncidentId};

use crate::chain::Entry;
use crate::committer::{Committer, replay_batches};
use crate::error::LedgerError;
use crate::journal::{Journal, JournalError, Replay};
use crate::keys;
use crate::records::EvidenceRecord;

/// The ledger's storage, shared by readers and the committer thread.
pub(crate) struct Trees {
    /// Where sled and the journal are open (a private copy for read-only use).
    pub dir: PathBuf,
    /// The folder the user named.
    pub origin: PathBuf,
    /// Set while writes are refused, with the reason; cleared when a retry succeeds.
    pub refused: Mutex<Option<String>>,
    /// sled's handles; replaced when the committer reopens sled after a failed write
    /// (sled refuses everything after one I/O error, so recovering needs a fresh open).
    handles: RwLock<Option<Arc<Handles>>>,
    /// Incident records made durable since the last checkpoint (and a read cache).
    pub published: crate::published::Published,
    /// Write latencies for `/metrics`.
    pub stats: crate::stats::LedgerStats,
    /// Where each written batch goes for the off-box copy, when one is kept.
    pub replica: crate::replica::Sink,
    /// Set while the off-box copy asks that writes wait (see [`Ledger::hold`]).
    pub hold: Mutex<Option<String>>,
    /// With leader election: the instant until which this server knows it leads.
    pub fence: Mutex<Option<std::time::Instant>>,
}

/// One open sled database and its trees.
pub(crate) struct Handles {
    pub db: sled::Db,
    pub incidents: sled::Tree,
    pub timeline: sled::Tree,
    pub evidence: sled::Tree,
    pub meta: sled::Tree,
    /// Delivery keys already handled (see [`Ledger::claim`]).
    pub idempotency: sled::Tree,
    /// Alert fingerprint → the incident opened for it.
    pub fingerprints: sled::Tree,
    /// A second handle on sled's log file, used only for `fdatasync` (see `Committer`).
    pub log_file: File,
}

impl Handles {
    fn open(db: sled::Db, sled_dir: &Path, origin: &Path) -> Result<Handles, LedgerError> {
        let storage = |e: sled::Error| LedgerError::Storage {
            dir: origin.to_path_buf(),
            message: e.to_string(),
        };
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        for name in [keys::APPROVALS, keys::PAGES] {
            tree(name)?;
        }
        let log_file = File::open(sled_dir.join("db")).map_err(|source| LedgerError::Folder {
            dir: origin.to_path_buf(),
            source,
        })?;
        Ok(Handles {
            incidents: tree(keys::INCIDENTS)?,
            timeline: tree(keys::TIMELINE)?,
            evidence: tree(keys::EVIDENCE)?,
            meta: tree(keys::META)?,
            idempotency: tree(keys::IDEMPOTENCY)?,
            fingerprints: tree(keys::FINGERPRINTS)?,
            db,
            log_file,
        })
    }
}

impl Trees {
    pub(crate) fn held(&self) -> Option<String> {
        let fenced = self
            .fence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| std::time::Instant::now() >= until);
        if fenced {
            return Some(
                "this server's leadership lapsed (its Lease was not renewed in time); another replica may lead now".into(),
            );
        }
        self.hold.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The current sled handles; an error while the committer reopens sled.
    pub fn h(&self) -> Result<Arc<Handles>, LedgerError> {
        self.handles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| self.storage("sled is being reopened after a failed write; retry"))
    }

    /// Drop sled's handles (waiting for readers to let go, so its file lock is released),
    /// open sled again, and put the new handles in place.
    pub fn reopen(&self) -> Result<(), LedgerError> {
        let old = self
            .handles
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut old) = old {
            for _ in 0..400 {
                match Arc::try_unwrap(old) {
                    Ok(h) => {
                        drop(h);
                        break;
                    }
                    Err(still) => {
                        old = still;
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                }
            }
        }
        let sled_dir = self.dir.join(SLED);
        // sled's own threads may hold the lock a moment after the last handle drops.
        let db = open_sled_waiting(&sled_dir, true).map_err(|e| sled_error(e, &self.origin))?;
        let handles = Handles::open(db, &sled_dir, &self.origin)?;
        *self.handles.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(handles));
        Ok(())
    }

    pub fn storage(&self, e: impl std::fmt::Display) -> LedgerError {
        LedgerError::Storage {
            dir: self.origin.clone(),
            message: e.to_string(),
        }
    }
}

/// The evidence log and decision timeline.
///
/// Writes go through one committer thread that applies them in order and makes each batch
/// durable with a single journal write and sync (group commit); a write method returns only
/// after its data is on disk. Reads go straight to sled and see only durable writes.
///
/// On disk: `<dir>/sled/` (sled's files) and `<dir>/journal` (32 MiB, preallocated).
pub struct Ledger {
    // Field order matters: the committer finishes queued writes before the trees close.
    pub(crate) committer: Committer,
    pub(crate) trees: Arc<Trees>,
    repaired: Vec<String>,
    pub(crate) installation: String,
    _claim: Claim,
    /// The private copy a read-only ledger reads from; removed on drop, after the trees.
    _snapshot: Option<tempfile::TempDir>,
}

/// Folders opened by this process. sled's file lock keeps other processes out, but a second
/// open inside the same process would succeed and put two committers on one chain.
static OPEN_FOLDERS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
/// Folders this process has closed: sled's own threads may hold the file lock a moment
/// after the last handle drops, so reopening one of these waits briefly instead of failing.
static CLOSED_FOLDERS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

struct Claim(PathBuf);

impl Claim {
    fn take(dir: &Path) -> Result<Claim, LedgerError> {
        let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mut open = OPEN_FOLDERS.lock().unwrap_or_else(|p| p.into_inner());
        if !open.insert(key.clone()) {
            return Err(LedgerError::Locked {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Claim(key))
    }
}

impl Claim {
    fn was_closed_here(&self) -> bool {
        CLOSED_FOLDERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&self.0)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        OPEN_FOLDERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
        CLOSED_FOLDERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.0.clone());
    }
}

impl Ledger {
    /// Open (or create) the ledger in `dir`.
    ///
    /// Fails with [`LedgerError::Locked`] when another process has it open, with
    /// [`LedgerError::Folder`] when the folder cannot be created or written, and with
    /// [`LedgerError::Damaged`] when the journal or sled lost acknowledged writes (nothing is
    /// replayed or changed then).
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<Ledger, LedgerError> {
        let folder = |source| LedgerError::Folder {
            dir: dir.to_path_buf(),
            source,
        };
        create_private_dir(dir).map_err(folder)?;
        // sled reports an unwritable folder as a generic I/O error deep inside; probing
        // first gives the user the folder name and the reason.
        let probe = dir.join(".warroom-write-probe");
        std::fs::write(&probe, b"").map_err(folder)?;
        let _ = std::fs::remove_file(&probe);
        let claim = Claim::take(dir)?;
        Self::open_claimed(dir, dir, clock, claim, None)
    }

    /// Open a copy of the ledger in `dir` for reading, leaving `dir` untouched: no replay,
    /// checkpoint, truncation or claim pruning ever happens in it. The copy lives in a private
    /// temporary folder removed when the ledger is dropped.
    ///
    /// Fails with [`LedgerError::NotALedger`] when `dir` holds no ledger, and with
    /// [`LedgerError::Locked`] while a process has it open (ask that process instead).
    pub fn open_read_only(dir: &Path, clock: Arc<dyn Clock>) -> Result<Ledger, LedgerError> {
        let journal = dir.join(JOURNAL);
        let sled_dir = dir.join(SLED);
        if !journal.is_file() && !sled_dir.is_dir() {
            return Err(LedgerError::NotALedger {
                dir: dir.to_path_buf(),
            });
        }
        let folder = |source| LedgerError::Folder {
            dir: dir.to_path_buf(),
            source,
        };
        // Hold sled's own lock while copying, so no server starts writing mid-copy.
        let _lock = match SledLock::try_take(&sled_dir.join("db")) {
            Ok(lock) => lock,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(LedgerError::Locked {
                    dir: dir.to_path_buf(),
                });
            }
            Err(e) => return Err(folder(e)),
        };
        let copy = tempfile::Builder::new()
            .prefix("warroom-read-")
            .tempdir()
            .map_err(folder)?;
        if journal.is_file() {
            std::fs::copy(&journal, copy.path().join(JOURNAL)).map_err(folder)?;
        }
        if sled_dir.is_dir() {
            copy_tree(&sled_dir, &copy.path().join(SLED)).map_err(folder)?;
        }
        let at = copy.path().to_path_buf();
        let claim = Claim::take(&at)?;
        Self::open_claimed(&at, dir, clock, claim, Some(copy))
    }

    fn open_claimed(
        dir: &Path,
        origin: &Path,
        clock: Arc<dyn Clock>,
        claim: Claim,
        snapshot: Option<tempfile::TempDir>,
    ) -> Result<Ledger, LedgerError> {
        let folder = |source| LedgerError::Folder {
            dir: origin.to_path_buf(),
            source,
        };
        let journal_path = dir.join(JOURNAL);
        let sled_dir = dir.join(SLED);
        if !journal_path.exists() && sled_dir.join("db").exists() {
            return Err(LedgerError::Damaged {
                file: origin.join(JOURNAL),
                offset: None,
                what:
                    "the journal is missing while sled holds data: acknowledged writes may be lost"
                        .into(),
            });
        }
        // The journal comes first and whole (built aside, renamed); sled follows.
        Journal::create_if_missing(&journal_path).map_err(|e| journal_error(e, dir, origin))?;
        let (journal, mut replay) =
            Journal::open(&journal_path).map_err(|e| journal_error(e, dir, origin))?;
        // As for errors: name the user's journal, not the private copy a read-only open reads.
        if dir != origin {
            let (copy, theirs) = (
                journal_path.display().to_string(),
                origin.join(JOURNAL).display().to_string(),
            );
            for note in &mut replay.repaired {
                *note = note.replace(&copy, &theirs);
            }
        }
        let pristine = replay.base_seq == 1 && replay.batches.is_empty();
        let db = match open_sled(&sled_dir, &claim) {
            // A first start killed while sled built its files: nothing was ever acknowledged,
            // so the half-built sled folder is rebuilt. Not when another process holds it
            // (a reader copying it): that folder is whole, and theirs to let go.
            Err(e)
                if pristine && snapshot.is_none() && (!is_lock(&e) || claim.was_closed_here()) =>
            {
                tracing::warn!(dir = %origin.display(), "rebuilding a half-created ledger folder");
                std::fs::remove_dir_all(&sled_dir).map_err(folder)?;
                open_sled(&sled_dir, &claim)
            }
            other => other,
        }
        .map_err(|e| sled_error(e, origin))?;
        let _ = std::fs::set_permissions(&sled_dir, std::fs::Permissions::from_mode(0o700));
        let storage = |e: sled::Error| LedgerError::Storage {
            dir: origin.to_path_buf(),
            message: e.to_string(),
        };
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        let meta = tree(keys::META)?;
        match meta.get(keys::FORMAT_KEY).map_err(storage)? {
            Some(found) if found.as_ref() != keys::FORMAT.as_bytes() => {
                return Err(LedgerError::Format {
                    dir: origin.to_path_buf(),
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: keys::FORMAT,
                });
            }
            Some(_) => {}
            None if pristine => {
                meta.insert(keys::FORMAT_KEY, keys::FORMAT.as_bytes())
                    .map_err(storage)?;
            }
            None => {
                return Err(LedgerError::Damaged {
                    file: origin.join(SLED),
                    offset: None,
                    what: format!(
                        "sled has lost its format record although the journal has checkpointed {} batches into it",
                        replay.base_seq - 1
                    ),
                });
            }
        }
        let applied = applied_seq(&meta).map_err(|what| LedgerError::Damaged {
            file: origin.join(SLED),
            offset: None,
            what,
        })?;
        check_sequence(origin, applied, &replay)?;
        let installation = match meta.get(keys::INSTALLATION_KEY).map_err(storage)? {
            Some(id) => String::from_utf8_lossy(&id).into_owned(),
            // A read-only copy never writes; a ledger from before installation ids gets one.
            None if snapshot.is_some() => "none (not assigned yet)".to_owned(),
            None => {
                let id = new_installation_id().map_err(folder)?;
                meta.insert(keys::INSTALLATION_KEY, id.as_bytes())
                    .map_err(storage)?;
                id
            }
        };
        db.flush().map_err(storage)?;
        drop(meta);
        let handles = Handles::open(db, &sled_dir, origin)?;
        let trees = Arc::new(Trees {
            dir: dir.to_path_buf(),
            origin: origin.to_path_buf(),
            handles: RwLock::new(Some(Arc::new(handles))),
            refused: Mutex::new(None),
            published: Default::default(),
            stats: Default::default(),
            replica: Default::default(),
            hold: Mutex::new(None),
            fence: Mutex::new(None),
        });
        for note in &replay.repaired {
            tracing::warn!(dir = %origin.display(), "{note}");
        }
        if !replay.batches.is_empty() {
            // Writes acknowledged before a crash but not yet in sled's own log.
            replay_batches(&trees, &replay.batches).map_err(|what| LedgerError::Damaged {
                file: origin.join(JOURNAL),
                offset: None,
                what,
            })?;
            // No checkpoint here: the batches stay in the journal, durable, and the records
            // they rebuilt are published, as after any write; the committer checkpoints once
            // the ledger is idle. Writing every replayed record to sled and syncing it here
            // was a third of the time to ready after a crash. A crash before that checkpoint
            // replays the same batches again, which changes nothing.
            tracing::info!(batches = replay.batches.len(), dir = %origin.display(), "replayed the ledger journal");
        }
        if snapshot.is_none() {
            prune_claims(&trees, clock.now())?;
        }
        let committer = Committer::start(trees.clone(), clock, journal)?;
        Ok(Ledger {
            committer,
            trees,
            repaired: replay.repaired,
            installation,
            _claim: claim,
            _snapshot: snapshot,
        })
    }

    /// Damage that the journal's second copies made good when this ledger was opened
    /// (nothing was lost; the notes say where).
    pub fn repaired(&self) -> &[String] {
        &self.repaired
    }

    /// This installation's id (16 hex digits), made once when the ledger was created and
    /// kept for its life: keys sent outside warroom carry it.
    pub fn installation(&self) -> &str {
        &self.installation
    }

    /// Number of the last journal batch applied (0 before the first write).
    pub fn last_batch(&self) -> u64 {
        self.trees
            .h()
            .ok()
            .and_then(|h| h.meta.get(crate::keys::APPLIED_KEY).ok().flatten())
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0)
    }

    /// How long its writes take (group commits, fdatasync, batch sizes).
    pub fn stats(&self) -> &crate::stats::LedgerStats {
        &self.trees.stats
    }

    /// Why the ledger refuses writes right now (a failed sync or checkpoint), if it does.
    pub fn write_refusal(&self) -> Option<String> {
        self.trees
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .or_else(|| self.trees.held())
    }

    /// With leader election: writes are refused from `until` on, unless it is moved later
    /// (each renewal of the lease does). Checked by the committer before every batch, so a
    /// leader paused past its lease writes nothing when it resumes.
    pub fn fence_until(&self, until: std::time::Instant) {
        *self.trees.fence.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
    }

    /// Refuse writes with `reason` until called with `None`: the off-box copy does this while
    /// the bucket cannot take what `ack = "replicated"` promises.
    pub fn hold(&self, reason: Option<String>) {
        *self.trees.hold.lock().unwrap_or_else(|p| p.into_inner()) = reason;
    }

    /// The ledger's folder (for a read-only copy: the folder it was copied from, not the
    /// private copy it reads).
    #[allow(clippy::misnamed_getters)]
    pub fn dir(&self) -> &Path {
        &self.trees.origin
    }

    pub fn incident(&self, id: &IncidentId) -> Result<Incident, LedgerError> {
        read_incident(&self.trees, id)?.ok_or_else(|| LedgerError::NoSuchIncident(id.clone()))
    }

    /// Whether `key` was claimed by an answered [`Ledger::claim`] (read only: a claim still
    /// being written may not show yet).
    pub fn claimed(&self, key: &str) -> Result<bool, LedgerError> {
        self.trees
            .h()?
            .idempotency
            .contains_key(key.as_bytes())
            .map_err(|e| self.trees.storage(e))
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> Result<Vec<Incident>, LedgerError> {
        // Published records first: they are at least as new as sled's.
        let mut all: std::collections::BTreeMap<IncidentId, Incident> = self
            .trees
            .published
            .all()
            .into_iter()
            .map(|r| (r.id.clone(), (*r).clone()))
            .collect();
        for kv in self.trees.h()?.incidents.iter() {
            let (k, v) = kv.map_err(|e| self.trees.storage(e))?;
            let key = String::from_utf8_lossy(&k).into_owned();
            if let Ok(id) = key.parse::<IncidentId>()
                && all.contains_key(&id)
            {
                continue;
            }
            let record: Incident = decode(&key, &v)?;
            // Listed by its id, so a record copied under another incident's key would hide
            // that incident (and be verified in its place): damage, named.
            if record.id.as_str() != key {
                return Err(LedgerError::Corrupt {
                    what: format!("incident record {key}"),
                    reason: format!(
                        "it holds the record of {}: a record stored under another incident's key",
                        record.id
                    ),
                });
            }
            all.insert(record.id.clone(), record);
        }
        Ok(all.into_values().collect())
    }

    /// An incident's timeline in chain order.
    pub fn timeline(&self, id: &IncidentId) -> Result<Vec<Entry>, LedgerError> {
        Ok(self.incident_with_timeline(id)?.1)
    }

    /// An incident record and exactly the entries it counts, consistent with each other even
    /// while a server writes.
    pub fn incident_with_timeline(
        &self,
        id: &IncidentId,
    ) -> Result<(Incident, Vec<Entry>), LedgerError> {
        self.consistent_timeline(self.incident(id)?)?
            .map_err(|e| LedgerError::Corrupt {
                what: format!("{} entry {}", e.incident, e.seq),
                reason: e.reason.to_string(),
            })
    }

    pub fn evidence(&self, id: &IncidentId) -> Result<Vec<EvidenceRecord>, LedgerError> {
        self.incident(id)?;
        scan(
            &self.trees,
            &self.trees.h()?.evidence,
            &keys::timeline_prefix(id),
            id,
        )
    }
}

/// Delivery keys are only needed while a sender may still retry (Slack: minutes).
const CLAIMS_KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::days(7);

fn prune_claims(trees: &Trees, now: chrono::DateTime<chrono::Utc>) -> Result<(), LedgerError> {
    let cutoff = now - CLAIMS_KEPT_FOR;
    for item in trees.h()?.idempotency.iter() {
        let (key, value) = item.map_err(|e| trees.storage(e))?;
        let old = std::str::from_utf8(&value)
            .ok()
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
            .is_some_and(|at| at < cutoff);
        if old {
            trees
                .h()?
                .idempotency
                .remove(key)
                .map_err(|e| trees.storage(e))?;
        }
    }
    Ok(())
}

/// The latest durable record: published by a write since the last checkpoint, else sled's.
pub(crate) fn read_incident(
    trees: &Trees,
    id: &IncidentId,
) -> Result<Option<Incident>, LedgerError> {
    if let Some(r) = trees.published.get(id) {
        return Ok(Some((*r).clone()));
    }
    match trees
        .h()?
        .incidents
        .get(id.as_str())
        .map_err(|e| trees.storage(e))?
    {
        Some(v) => Ok(Some(decode(id.as_str(), &v)?)),
        None => Ok(None),
    }
}

fn scan<T: DeserializeOwned>(
    trees: &Trees,
    tree: &sled::Tree,
    prefix: &[u8],
    id: &IncidentId,
) -> Result<Vec<T>, LedgerError> {
    let mut out = Vec::new();
    for kv in tree.scan_prefix(prefix) {
        let (k, v) = kv.map_err(|e| trees.storage(e))?;
        let seq = k
            .get(prefix.len()..)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map(u64::from_be_bytes)
            .unwrap_or_default();
        out.push(decode(&format!("{id} entry {seq}"), &v)?);
    }
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, LedgerError> {
    serde_json::from_slice(bytes).map_err(|e| LedgerError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

const JOURNAL: &str = "journal";
const SLED: &str = "sled";

/// The folder and every folder warroom creates for it: 0700 whatever the umask.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let existed = dir.is_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if !existed {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// How often sled writes what it holds in memory, between checkpoints.
const FLUSH_EVERY_MS: u64 = 500;

fn sled_config(sled_dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(sled_dir)
        .cache_capacity(32 * 1024 * 1024)
        // Durability comes from the journal; sled is made durable at checkpoints. Its
        // background flusher still runs, so a checkpoint's own flush has little left to do:
        // flushing a half-full journal's worth (16 MiB) at once held writes up for ~0.9 s.
        .flush_every_ms(Some(FLUSH_EVERY_MS))
}

fn open_sled(sled_dir: &Path, claim: &Claim) -> sled::Result<sled::Db> {
    // Our own earlier handle may still be winding down; another process's lock is final.
    open_sled_waiting(sled_dir, claim.was_closed_here())
}

/// Open sled, waiting up to two seconds for a lock this process is letting go of when `ours`.
fn open_sled_waiting(sled_dir: &Path, ours: bool) -> sled::Result<sled::Db> {
    let mut attempt = sled_config(sled_dir).open();
    for _ in 0..40 {
        match &attempt {
            Err(e) if ours && is_lock(e) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                attempt = sled_config(sled_dir).open();
            }
            _ => break,
        }
    }
    attempt
}

fn is_lock(e: &sled::Error) -> bool {
    // sled wraps flock's EWOULDBLOCK in a message rather than keeping its kind.
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.to_string().contains("could not acquire lock"))
}

fn sled_error(e: sled::Error, origin: &Path) -> LedgerError {
    match e {
        e if is_lock(&e) => LedgerError::Locked {
            dir: origin.to_path_buf(),
        },
        sled::Error::Corruption { at, .. } => LedgerError::Damaged {
            file: origin.join(SLED),
            offset: None,
            what: format!("sled reports corruption at {at:?}"),
        },
        // On a folder sled itself wrote, these mean its files no longer read back.
        e @ (sled::Error::Unsupported(_) | sled::Error::ReportableBug(_)) => LedgerError::Damaged {
            file: origin.join(SLED),
            offset: None,
            what: format!("sled cannot read its files: {e}"),
        },
        other => LedgerError::Storage {
            dir: origin.to_path_buf(),
            message: other.to_string(),
        },
    }
}

fn journal_error(e: JournalError, dir: &Path, origin: &Path) -> LedgerError {
    // Name the user's folder, not the private copy a read-only open works on.
    let rename = |p: PathBuf| origin.join(p.strip_prefix(dir).unwrap_or(&p));
    match e {
        JournalError::Damaged { path, offset, what } => LedgerError::Damaged {
            file: rename(path),
            offset: Some(offset),
            what,
        },
        JournalError::Io { source, .. } => LedgerError::Folder {
            dir: origin.to_path_buf(),
            source,
        },
    }
}

/// The last batch sled has applied, as recorded with every batch.
/// 64 random bits from the kernel, as 16 hex digits.
fn new_installation_id() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Carry an installation id over to a ledger rebuilt from this one (salvage).
pub(crate) fn set_installation(trees: &Trees, id: &str) -> Result<(), LedgerError> {
    let h = trees.h()?;
    h.meta
        .insert(keys::INSTALLATION_KEY, id.as_bytes())
        .map_err(|e| trees.storage(e))?;
    h.meta.flush().map_err(|e| trees.storage(e))?;
    Ok(())
}

fn applied_seq(meta: &sled::Tree) -> Result<u64, String> {
    match meta.get(keys::APPLIED_KEY) {
        Ok(None) => Ok(0),
        Ok(Some(v)) => <[u8; 8]>::try_from(v.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| "sled's record of applied journal batches is not 8 bytes".to_string()),
        Err(e) => Err(format!("sled cannot read its metadata: {e}")),
    }
}

/// sled must hold every batch the journal retired, and no batch the journal lacks.
fn check_sequence(origin: &Path, applied: u64, replay: &Replay) -> Result<(), LedgerError> {
    let checkpointed = replay.base_seq.saturating_sub(1);
    if applied < checkpointed {
        return Err(LedgerError::Damaged {
            file: origin.join(SLED),
            offset: None,
            what: format!(
                "sled holds writes up to batch {applied}, but the journal's last checkpoint put batches up to {checkpointed} into it: acknowledged writes are missing from sled"
            ),
        });
    }
    if applied > replay.last_seq() {
        return Err(LedgerError::Damaged {
            file: origin.join(JOURNAL),
            offset: None,
            what: format!(
                "the journal ends at batch {} but sled already holds batch {applied}: journal records are missing",
                replay.last_seq()
            ),
        });
    }
    Ok(())
}

pub(crate) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    create_private_dir(to)?;
    for item in std::fs::read_dir(from)? {
        let item = item?;
        let target = to.join(item.file_name());
        if item.file_type()?.is_dir() {
            copy_tree(&item.path(), &target)?;
        } else {
            std::fs::copy(item.path(), target)?;
        }
    }
    Ok(())
}

/// sled's exclusive `flock` on its `db` file, taken on a read-only handle.
pub(crate) struct SledLock(#[allow(dead_code)] Option<File>);

impl SledLock {
    pub(crate) fn try_take(db: &Path) -> std::io::Result<SledLock> {
        use std::os::fd::AsRawFd;
        let file = match File::open(db) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SledLock(None)),
            Err(e) => return Err(e),
        };
        // SAFETY: flock on a descriptor this function owns; released when it closes.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(SledLock(Some(file)))
    }
}
