//! A standby's warm copy of the ledger: it follows the leader's segments in the bucket while
//! it waits, so a takeover reads only what is new, and reports how far behind it is.
//!
//! Guarantees: a segment is stored in `<data>/standby-copy/<installation>/` only after its
//! header decoded and it names the SHA-256 of the segment before it (the first ever fetched
//! must be number 1, naming the genesis); a segment that breaks the chain is never stored
//! and the break is reported. Segments before the latest base are dropped once the head
//! the leader published is past them (a published head only moves forward). Assumes nobody else writes the folder. Caveat: at
//! start the stored tail's own links are checked again, but its first segment's link to what
//! came before is trusted (it was checked when stored); the proof against the head the
//! leader published covers it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use warroom_adapters::segments::{SegmentBucket, SegmentStore};
use warroom_ledger::segment::{GENESIS, Head, Segment, SegmentKind, digest, read_tail};

/// What `/readyz` and `/metrics` say about a standby's copy.
#[derive(Default)]
pub struct WarmStatus {
    /// The last segment held.
    pub held: AtomicU64,
    /// The last segment the leader published (or the bucket listed).
    pub published: AtomicU64,
    pub up: AtomicBool,
    pub error: Mutex<Option<String>>,
}

impl WarmStatus {
    pub fn lag(&self) -> u64 {
        self.published
            .load(Ordering::Acquire)
            .saturating_sub(self.held.load(Ordering::Acquire))
    }

    /// One line for `/readyz`.
    pub fn describe(&self) -> String {
        match self
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(e) => format!("warm copy cannot follow the bucket: {e}"),
            None => format!(
                "warm copy at segment {} ({} behind)",
                self.held.load(Ordering::Acquire),
                self.lag()
            ),
        }
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        format!(
            "# HELP warroom_ledger_standby_segment The last ledger segment this standby holds, verified.\n# TYPE warroom_ledger_standby_segment gauge\nwarroom_ledger_standby_segment {}\n\
# HELP warroom_ledger_standby_lag_segments Segments the leader published that this standby does not hold yet.\n# TYPE warroom_ledger_standby_lag_segments gauge\nwarroom_ledger_standby_lag_segments {}\n\
# HELP warroom_ledger_standby_up Whether this standby's last read of the bucket succeeded.\n# TYPE warroom_ledger_standby_up gauge\nwarroom_ledger_standby_up {}\n",
            self.held.load(Ordering::Acquire),
            self.lag(),
            u8::from(self.up.load(Ordering::Acquire)),
        )
    }
}

pub struct WarmCopy {
    root: PathBuf,
    bucket: SegmentBucket,
    /// The installation followed and its store.
    store: Option<(String, SegmentStore)>,
    /// Stored segments, in chain order: (number, kind).
    held: Vec<(u64, SegmentKind)>,
    /// The digest of the last stored segment.
    head: String,
    pub status: Arc<WarmStatus>,
}

fn number_of(name: &str) -> Option<u64> {
    name.strip_suffix(".seg")?.parse().ok()
}

impl WarmCopy {
    /// The copy kept in `data`, checked again; an inconsistent one is set aside and refetched.
    pub fn open(data: &Path, bucket: SegmentBucket) -> WarmCopy {
        let mut warm = WarmCopy {
            root: data.join("standby-copy"),
            bucket,
            store: None,
            held: Vec::new(),
            head: GENESIS.to_owned(),
            status: Arc::default(),
        };
        if let Err(e) = warm.load() {
            crate::logging::notice_warn(&format!(
                "standby copy in {} is set aside and fetched again: {e}",
                warm.root.display()
            ));
            let _ = std::fs::rename(
                &warm.root,
                data.join(format!(
                    "standby-copy.unusable-{}",
                    chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
                )),
            );
            warm.held.clear();
            warm.head = GENESIS.to_owned();
            warm.store = None;
        }
        warm
    }

    fn load(&mut self) -> Result<(), String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(());
        };
        let installations: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let [installation] = installations.as_slice() else {
            return match installations.len() {
                0 => Ok(()),
                n => Err(format!("it holds {n} installations")),
            };
        };
        let store =
            SegmentStore::new(self.bucket.clone(), installation).map_err(|e| e.to_string())?;
        self.store = Some((installation.clone(), store));
        let segments = self.stored()?;
        if segments.is_empty() {
            return Ok(());
        }
        read_tail(&segments).map_err(|e| e.to_string())?;
        for (name, bytes) in &segments {
            let s = Segment::decode(name, bytes).map_err(|e| e.to_string())?;
            self.held.push((s.number, s.kind));
            self.head = digest(bytes);
        }
        self.status.held.store(self.last(), Ordering::Release);
        Ok(())
    }

    fn folder(&self) -> Option<PathBuf> {
        self.store.as_ref().map(|(i, _)| self.root.join(i))
    }

    /// The stored segments, in chain order, as (name, bytes).
    pub fn stored(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        let Some(folder) = self.folder() else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = match std::fs::read_dir(&folder) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| number_of(n).is_some())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("{}: {e}", folder.display())),
        };
        names.sort();
        names
            .into_iter()
            .map(|n| {
                std::fs::read(folder.join(&n))
                    .map(|b| (n.clone(), b))
                    .map_err(|e| format!("{}: {e}", folder.join(&n).display()))
            })
            .collect()
    }

    /// The last segment held (0: none).
    pub fn last(&self) -> u64 {
        self.held.last().map_or(0, |(n, _)| *n)
    }

    /// The installation followed.
    pub fn installation(&self) -> Option<&str> {
        self.store.as_ref().map(|(i, _)| i.as_str())
    }

    /// Where the copy is read from, for messages.
    pub fn location(&self) -> String {
        self.store
            .as_ref()
            .map(|(_, s)| s.location())
            .unwrap_or_else(|| self.bucket.url())
    }

    /// Fetch and store every segment after the last one held, checking each link; `published`
    /// is the head the leader last published, for the lag and for what may be dropped.
    pub fn sync(&mut self, published: Option<&Head>) -> Result<u64, String> {
        let result = self.fetch(published);
        let s = &self.status;
        s.held.store(self.last(), Ordering::Release);
        let listed = published.map_or(0, |h| h.number);
        s.published
            .store(listed.max(self.last()), Ordering::Release);
        s.up.store(result.is_ok(), Ordering::Release);
        *s.error.lock().unwrap_or_else(|p| p.into_inner()) = result.as_ref().err().cloned();
        result
    }

    fn fetch(&mut self, published: Option<&Head>) -> Result<u64, String> {
        if self.store.is_none() {
            let found = SegmentStore::installations(&self.bucket)?;
            let installation = match (published, found.as_slice()) {
                (Some(h), _) if found.contains(&h.installation) => h.installation.clone(),
                (_, [one]) => one.clone(),
                (_, []) => return Ok(0),
                (_, many) => {
                    return Err(format!(
                        "{} holds the copies of {} installations ({}) and the leader published none of them",
                        self.bucket.url(),
                        many.len(),
                        many.join(", ")
                    ));
                }
            };
            let store =
                SegmentStore::new(self.bucket.clone(), &installation).map_err(|e| e.to_string())?;
            self.store = Some((installation, store));
        }
        let folder = self.folder().unwrap_or_default();
        std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        let Some((_, store)) = self.store.as_ref() else {
            return Ok(0);
        };
        let after = (self.last() > 0).then(|| warroom_ledger::segment::object_name(self.last()));
        let names = store.list_after(after.as_deref())?;
        let mut fetched = 0;
        for name in names {
            let bytes = store.get(&name)?;
            let s = Segment::decode(&name, &bytes).map_err(|e| e.to_string())?;
            let expected = self.last() + 1;
            if s.number != expected || number_of(&name) != Some(s.number) {
                return Err(format!(
                    "{}{name}: expected segment {expected} next, found segment {}",
                    store.location(),
                    s.number
                ));
            }
            if s.prev != self.head {
                return Err(format!(
                    "{}{name} does not follow segment {}: it names {} as its predecessor, which is {}",
                    store.location(),
                    self.last(),
                    s.prev,
                    self.head
                ));
            }
            let tmp = folder.join(format!("{name}.part"));
            std::fs::write(&tmp, &bytes)
                .and_then(|()| std::fs::rename(&tmp, folder.join(&name)))
                .map_err(|e| format!("{}: {e}", folder.join(&name).display()))?;
            self.head = digest(&bytes);
            self.held.push((s.number, s.kind));
            fetched += 1;
        }
        self.prune(published);
        Ok(fetched)
    }

    /// Drop what a restore no longer needs: segments before the latest base, but never the
    /// published head's (a takeover checks its digest) — and nothing before a head is known,
    /// since the one a takeover reads may be older than the latest base.
    fn prune(&mut self, published: Option<&Head>) {
        let Some(published) = published else {
            return;
        };
        let Some(base) = self
            .held
            .iter()
            .rev()
            .find(|(_, k)| *k == SegmentKind::Base)
            .map(|(n, _)| *n)
        else {
            return;
        };
        let keep_from = base.min(published.number);
        let Some(folder) = self.folder() else {
            return;
        };
        self.held.retain(|(n, _)| {
            let keep = *n >= keep_from;
            if !keep {
                let _ = std::fs::remove_file(folder.join(warroom_ledger::segment::object_name(*n)));
            }
            keep
        });
    }

    /// Whether the copy reaches `head`: it holds segment `head.number` with that digest.
    pub fn reaches(&self, head: &Head) -> Result<(), String> {
        if self.installation() != Some(head.installation.as_str()) {
            return Err(format!(
                "the previous leader published the copy of installation {}, this replica follows {}",
                head.installation,
                self.installation().unwrap_or("none")
            ));
        }
        if self.last() < head.number {
            return Err(format!(
                "the copy at {} ends at segment {}; the previous leader published segment {}: segments are missing",
                self.location(),
                self.last(),
                head.number
            ));
        }
        let folder = self.folder().unwrap_or_default();
        let name = warroom_ledger::segment::object_name(head.number);
        let bytes = std::fs::read(folder.join(&name))
            .map_err(|e| format!("{}: {e}", folder.join(&name).display()))?;
        let found = digest(&bytes);
        if found != head.digest {
            return Err(format!(
                "segment {} of {} has SHA-256 {found}; the previous leader published {}: the copy was changed",
                head.number,
                self.location(),
                head.digest
            ));
        }
        Ok(())
    }
}

/// Follow the bucket from a thread of its own until `stop`, syncing every `every`; gives the
/// copy back. `published` is read before each sync.
pub fn follow(
    mut warm: WarmCopy,
    every: Duration,
    published: Arc<Mutex<Option<Head>>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<WarmCopy>> {
    std::thread::Builder::new()
        .name("standby-copy".into())
        .spawn(move || {
            let mut said: Option<String> = None;
            while !stop.load(Ordering::Acquire) {
                let started = Instant::now();
                let head = published.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let result = warm.sync(head.as_ref());
                let now = result.as_ref().err().cloned();
                if now != said {
                    match &now {
                        Some(e) => {
                            tracing::warn!(error = %e, "standby copy: cannot follow the bucket")
                        }
                        None => tracing::info!(
                            segment = warm.last(),
                            "standby copy: following the bucket"
                        ),
                    }
                    said = now;
                }
                while !stop.load(Ordering::Acquire) && started.elapsed() < every {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            warm
        })
}
