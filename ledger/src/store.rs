//! Opening the ledger and reading from it.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use warroom_commands::{Clock, Incident, IncidentId};

use crate::chain::Entry;
use crate::committer::{Committer, apply_puts, checkpoint};
use crate::error::LedgerError;
use crate::journal::Journal;
use crate::keys;
use crate::records::EvidenceRecord;

/// The sled trees, shared by readers and the committer thread.
pub(crate) struct Trees {
    pub dir: PathBuf,
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

impl Trees {
    pub fn storage(&self, e: impl std::fmt::Display) -> LedgerError {
        LedgerError::Storage {
            dir: self.dir.clone(),
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
    _claim: Claim,
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
    /// Fails with [`LedgerError::Locked`] when another process has it open, and with
    /// [`LedgerError::Folder`] when the folder cannot be created or written.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<Ledger, LedgerError> {
        let folder = |source| LedgerError::Folder {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(folder)?;
        // sled reports an unwritable folder as a generic I/O error deep inside; probing
        // first gives the user the folder name and the reason.
        let probe = dir.join(".warroom-write-probe");
        std::fs::write(&probe, b"").map_err(folder)?;
        let _ = std::fs::remove_file(&probe);
        let claim = Claim::take(dir)?;

        let sled_dir = dir.join("sled");
        let open_sled = || {
            sled::Config::new()
                .path(&sled_dir)
                .cache_capacity(32 * 1024 * 1024)
                // Durability comes from the journal; sled is made durable at checkpoints, so
                // its background flusher would only compete with the journal's syncs.
                .flush_every_ms(None)
                .open()
        };
        let is_lock = |e: &sled::Error| {
            matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock"))
        };
        let mut attempt = open_sled();
        // Our own earlier handle may still be winding down; another process's lock is final.
        for _ in 0..40 {
            match &attempt {
                Err(e) if is_lock(e) && claim.was_closed_here() => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    attempt = open_sled();
                }
                _ => break,
            }
        }
        let db = attempt.map_err(|e| match e {
            // sled wraps flock's EWOULDBLOCK in a message rather than keeping its kind.
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("could not acquire lock") =>
            {
                LedgerError::Locked {
                    dir: dir.to_path_buf(),
                }
            }
            other => LedgerError::Storage {
                dir: dir.to_path_buf(),
                message: other.to_string(),
            },
        })?;
        let storage = |e: sled::Error| LedgerError::Storage {
            dir: dir.to_path_buf(),
            message: e.to_string(),
        };
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        let meta = tree(keys::META)?;
        match meta.get(keys::FORMAT_KEY).map_err(storage)? {
            Some(found) if found.as_ref() != keys::FORMAT.as_bytes() => {
                return Err(LedgerError::Format {
                    dir: dir.to_path_buf(),
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: keys::FORMAT,
                });
            }
            Some(_) => {}
            None => {
                meta.insert(keys::FORMAT_KEY, keys::FORMAT.as_bytes())
                    .map_err(storage)?;
            }
        }
        for name in [keys::APPROVALS, keys::PAGES] {
            tree(name)?;
        }
        db.flush().map_err(storage)?;
        let log_file = File::open(sled_dir.join("db")).map_err(folder)?;
        let trees = Arc::new(Trees {
            dir: dir.to_path_buf(),
            incidents: tree(keys::INCIDENTS)?,
            timeline: tree(keys::TIMELINE)?,
            evidence: tree(keys::EVIDENCE)?,
            idempotency: tree(keys::IDEMPOTENCY)?,
            fingerprints: tree(keys::FINGERPRINTS)?,
            meta,
            db,
            log_file,
        });
        prune_claims(&trees, clock.now())?;
        let (mut journal, replay) = Journal::open(&dir.join("journal")).map_err(folder)?;
        if !replay.is_empty() {
            // Writes acknowledged before a crash but not yet in sled's own log.
            for puts in &replay {
                apply_puts(&trees, puts)?;
            }
            checkpoint(&trees, &mut journal).map_err(|e| trees.storage(e))?;
            tracing::info!(writes = replay.len(), dir = %dir.display(), "replayed the ledger journal");
        }
        let committer = Committer::start(trees.clone(), clock, journal)?;
        Ok(Ledger {
            committer,
            trees,
            _claim: claim,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.trees.dir
    }

    pub fn incident(&self, id: &IncidentId) -> Result<Incident, LedgerError> {
        read_incident(&self.trees, id)?.ok_or_else(|| LedgerError::NoSuchIncident(id.clone()))
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> Result<Vec<Incident>, LedgerError> {
        let mut all = Vec::new();
        for kv in self.trees.incidents.iter() {
            let (k, v) = kv.map_err(|e| self.trees.storage(e))?;
            all.push(decode(&String::from_utf8_lossy(&k), &v)?);
        }
        Ok(all)
    }

    /// An incident's timeline in chain order.
    pub fn timeline(&self, id: &IncidentId) -> Result<Vec<Entry>, LedgerError> {
        self.incident(id)?;
        scan(
            &self.trees,
            &self.trees.timeline,
            &keys::timeline_prefix(id),
            id,
        )
    }

    pub fn evidence(&self, id: &IncidentId) -> Result<Vec<EvidenceRecord>, LedgerError> {
        self.incident(id)?;
        scan(
            &self.trees,
            &self.trees.evidence,
            &keys::timeline_prefix(id),
            id,
        )
    }
}

/// Delivery keys are only needed while a sender may still retry (Slack: minutes).
const CLAIMS_KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::days(7);

fn prune_claims(trees: &Trees, now: chrono::DateTime<chrono::Utc>) -> Result<(), LedgerError> {
    let cutoff = now - CLAIMS_KEPT_FOR;
    for item in trees.idempotency.iter() {
        let (key, value) = item.map_err(|e| trees.storage(e))?;
        let old = std::str::from_utf8(&value)
            .ok()
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
            .is_some_and(|at| at < cutoff);
        if old {
            trees
                .idempotency
                .remove(key)
                .map_err(|e| trees.storage(e))?;
        }
    }
    Ok(())
}

pub(crate) fn read_incident(
    trees: &Trees,
    id: &IncidentId,
) -> Result<Option<Incident>, LedgerError> {
    match trees
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
