//! Two replicas or more (`[ha] lease`): only the holder of the Lease opens the ledger, runs
//! the engine, executes actions and writes the copy; the others wait as standbys, each
//! following the bucket's copy (see [`crate::warm_copy`]).
//!
//! Guarantees: a replica opens its ledger only after the API server accepted it as the
//! lease's holder and its copy reaches the head the previous leader published on the lease
//! (segment number and SHA-256) — it refuses to lead otherwise — and it first adopts the
//! copy when that holds anything its own folder does not (its folder's ledger files are moved
//! aside, never deleted); while it leads, every renewal publishes its copy's head and moves
//! the ledger's fence to two thirds of the lease duration ahead, so a leader that cannot
//! renew (or was paused) refuses writes before another replica can take the lease; a leader
//! that finds the lease held by another exits at once; a clean stop uploads what is left,
//! publishes the final head and releases the lease, so a standby takes over at once.
//! Assumes the bucket's copy is complete up to what was acknowledged — which
//! `ack = "replicated"` guarantees; with `ack = "leader"`, writes acknowledged in the moment
//! before a leader died and not yet uploaded stay in its folder only (moved aside on its
//! next takeover). Caveat: the head is published at each renewal, so segments uploaded after
//! the last one are read but not proven against a published head.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use warroom_adapters::lease::{Elector, Held};
use warroom_commands::SystemClock;
use warroom_config::model::ha::{Ha, LeaseSettings};
use warroom_ledger::Ledger;
use warroom_ledger::segment::Head;

use crate::warm_copy::{WarmCopy, WarmStatus};

/// This replica's name on the lease: the pod's name in Kubernetes.
fn identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "warroom".into());
        format!("{host}-{}", std::process::id())
    })
}

/// What a standby says and where it sends requests.
#[derive(Clone, Debug, Default)]
pub struct Standby {
    /// `standby: warroom-0 leads at http://…`, for `/readyz` and refusals.
    pub why: String,
    /// The leader's published address, to forward requests to.
    pub leader: Option<String>,
    /// This replica's identity on the lease, to refuse forwarding loops.
    pub identity: String,
}

/// How this replica came to lead.
pub struct Takeover {
    pub elector: Elector,
    pub acquired: Instant,
    /// The replica that held the lease before, when this one saw it.
    pub from: Option<String>,
    /// The head the previous leader published, which the copy was proven to reach.
    pub head: Option<Head>,
    /// The standby's copy, to adopt.
    pub warm: Option<WarmCopy>,
}

/// Wait until this replica holds the lease, following the bucket's copy meanwhile;
/// `standby` says what it is waiting for, `warm_status` how far its copy is.
pub async fn wait_to_lead(
    lease: &LeaseSettings,
    ha: &Ha,
    dir: &Path,
    address: &str,
    standby: &Mutex<Option<Standby>>,
    warm_status: &std::sync::OnceLock<Arc<WarmStatus>>,
) -> anyhow::Result<Takeover> {
    let elector = Elector::connect(
        lease.kubeconfig.as_deref(),
        &lease.namespace,
        &lease.name,
        &identity(),
        lease.duration,
    )
    .await
    .map_err(anyhow::Error::msg)
    .context("cannot reach the API server that holds the [ha] lease")?;
    // A pod restarted in place keeps its labels: it is not the leader until it says so.
    if let Err(e) = elector.label_own_pod(false).await {
        tracing::warn!(error = %e, "cannot clear the leader label");
    }
    let published: Arc<Mutex<Option<Head>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (dir, bucket) = (dir.to_owned(), crate::ledger_copy::bucket_of(ha));
    let warm = tokio::task::spawn_blocking(move || WarmCopy::open(&dir, bucket)).await?;
    let _ = warm_status.set(warm.status.clone());
    let follower =
        crate::warm_copy::follow(warm, lease.duration / 3, published.clone(), stop.clone())?;
    let mut said = String::new();
    let mut from = None;
    loop {
        let asked = Instant::now();
        let why = match elector.try_hold(address, None).await {
            Ok(Held::Ours {
                published: head,
                previous,
            }) => {
                let from = previous.or(from);
                // A head that does not parse proves nothing: leading on it would skip the
                // proof that the copy reaches what the last leader acknowledged. Refused
                // before the standby copy stops (its store must not be dropped in here).
                let head = head.map(|h| h.parse::<Head>()).transpose().map_err(|e| {
                    anyhow::anyhow!(
                        "refusing to lead: the head published on Lease {}/{} is unreadable: {e}",
                        lease.namespace,
                        lease.name
                    )
                })?;
                stop.store(true, Ordering::Release);
                let warm = tokio::task::spawn_blocking(move || follower.join())
                    .await?
                    .map_err(|_| anyhow::anyhow!("the standby copy's thread panicked"))?;
                crate::logging::notice_info(&format!(
                    "leading: holds Lease {}/{} as {}{}",
                    lease.namespace,
                    lease.name,
                    elector.identity,
                    from.as_ref()
                        .map(|f| format!(" (took over from {f})"))
                        .unwrap_or_default()
                ));
                if let Err(e) = elector.label_own_pod(true).await {
                    crate::logging::notice_warn(&format!(
                        "{e}: the Service may not route to this leader"
                    ));
                }
                return Ok(Takeover {
                    elector,
                    acquired: asked,
                    from,
                    head,
                    warm: Some(warm),
                });
            }
            Ok(Held::Theirs {
                holder,
                address,
                published: head,
            }) => {
                *published.lock().unwrap_or_else(|p| p.into_inner()) =
                    head.and_then(|h| h.parse().ok());
                let why = format!(
                    "standby: {holder} leads{}",
                    address
                        .as_ref()
                        .map(|a| format!(" at {a}"))
                        .unwrap_or_default()
                );
                *standby.lock().unwrap_or_else(|p| p.into_inner()) = Some(Standby {
                    why: why.clone(),
                    leader: address,
                    identity: elector.identity.clone(),
                });
                if !holder.is_empty() {
                    from = Some(holder);
                }
                why
            }
            Err(e) => {
                let why = format!("standby: cannot reach the lease: {e}");
                *standby.lock().unwrap_or_else(|p| p.into_inner()) = Some(Standby {
                    why: why.clone(),
                    leader: None,
                    identity: elector.identity.clone(),
                });
                why
            }
        };
        if why != said {
            crate::logging::notice_info(&why);
            said.clone_from(&why);
        }
        tokio::time::sleep(lease.duration / 3).await;
    }
}

/// Keep the lease while leading: renew every third of its duration, publishing the copy's
/// `head()`, and move the ledger's fence; exit the process when another replica holds it.
/// The elector is returned for [`step_down`].
pub fn keep_leading(
    elector: Elector,
    acquired: Instant,
    ledger: Arc<Ledger>,
    lease: LeaseSettings,
    address: String,
    head: impl Fn() -> Option<String> + Send + 'static,
) -> Arc<Elector> {
    let window = lease.duration * 2 / 3;
    ledger.fence_until(acquired + window);
    let elector = Arc::new(elector);
    let renewing = elector.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(lease.duration / 3).await;
            let asked = Instant::now();
            match renewing.try_hold(&address, head().as_deref()).await {
                Ok(Held::Ours { .. }) => ledger.fence_until(asked + window),
                Ok(Held::Theirs { holder, .. }) => {
                    ledger.fence_until(Instant::now());
                    crate::logging::notice_warn(&format!(
                        "lost Lease {}/{} to {holder}: stopping (writes were fenced)",
                        lease.namespace, lease.name
                    ));
                    std::process::exit(1);
                }
                // The fence passes its deadline on its own if this goes on.
                Err(e) => tracing::warn!(error = %e, "cannot renew the lease"),
            }
        }
    });
    elector
}

/// A clean stop of the leader: refuse writes, wait (bounded) for the copy to hold every
/// batch, then release the lease with the final head so a standby takes over at once.
pub async fn step_down(
    elector: &Elector,
    ledger: &Ledger,
    copy: Option<&crate::ledger_copy::CopyState>,
) {
    ledger.fence_until(Instant::now());
    let deadline = Instant::now() + Duration::from_secs(2);
    if let Some(copy) = copy {
        while copy.lag(ledger) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let head = copy.and_then(crate::ledger_copy::CopyState::head);
    match elector.release(head.as_deref()).await {
        Ok(()) => crate::logging::notice_info(&format!(
            "released the lease{}",
            head.map(|h| format!(" at ledger head {h}"))
                .unwrap_or_default()
        )),
        Err(e) => crate::logging::notice_warn(&format!(
            "{e}: a standby takes over when the lease expires"
        )),
    }
}

/// Take over the standby's copy when it holds anything the folder `dir` does not: read what
/// is new in the bucket, prove it reaches the head the previous leader published, restore it
/// inside the folder, move the folder's ledger files to `dir/previous-<time>/`, and put the
/// restored ones in their place. Returns the head reached.
pub fn adopt_copy(
    dir: &Path,
    mut warm: WarmCopy,
    published: Option<&Head>,
) -> anyhow::Result<Option<Head>> {
    // The bucket may be a moment behind its own listing: a few tries before refusing.
    let mut tries = 0;
    loop {
        let read = warm.sync(published).map_err(anyhow::Error::msg);
        let proven = match published {
            Some(h) => read.and_then(|_| warm.reaches(h).map_err(anyhow::Error::msg)),
            None => read.map(|_| ()),
        };
        match proven {
            Ok(()) => break,
            Err(e) if tries >= 4 => {
                return Err(e.context(format!(
                    "refusing to lead: the copy at {} is not proven whole",
                    warm.location()
                )));
            }
            Err(_) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    let segments = warm.stored().map_err(anyhow::Error::msg)?;
    if segments.is_empty() {
        return Ok(None);
    }
    let restored = dir.join(".restoring");
    let _ = std::fs::remove_dir_all(&restored);
    let report = warroom_ledger::segment::restore_tail(&segments, &restored, Arc::new(SystemClock))
        .with_context(|| format!("cannot restore the copy at {}", warm.location()))?;
    anyhow::ensure!(
        report.rebuilt.complete(),
        "the copy at {} does not restore whole: {:?}; refusing to lead on it",
        warm.location(),
        report.rebuilt.problems
    );
    let reached = warm.installation().map(|i| Head {
        installation: i.to_owned(),
        number: report.segments,
        digest: report.head.clone(),
    });
    if covers(dir, &restored)? {
        std::fs::remove_dir_all(&restored)?;
        return Ok(reached);
    }
    let aside = dir.join(format!(
        "previous-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    for part in ["sled", "journal"] {
        if dir.join(part).exists() {
            std::fs::create_dir_all(&aside)?;
            std::fs::rename(dir.join(part), aside.join(part))?;
        }
        std::fs::rename(restored.join(part), dir.join(part))?;
    }
    std::fs::remove_dir_all(&restored)?;
    crate::logging::notice_info(&format!(
        "took over the copy at {} (to segment {}{}){}",
        warm.location(),
        report.segments,
        published
            .map(|h| format!(
                ", proven to reach segment {} the previous leader published",
                h.number
            ))
            .unwrap_or_default(),
        if aside.exists() {
            format!(
                "; this folder's own ledger files are kept in {}",
                aside.display()
            )
        } else {
            String::new()
        }
    ));
    Ok(reached)
}

/// Whether the ledger in `dir` already holds every entry of the one in `restored`, hash for
/// hash (this replica led last, and nothing was written since).
fn covers(dir: &Path, restored: &Path) -> anyhow::Result<bool> {
    if !dir.join("journal").exists() {
        return Ok(false);
    }
    let clock = Arc::new(SystemClock);
    let theirs = Ledger::open(restored, clock.clone())?;
    // Read only: this folder is kept as it is ("previous-…") when it does not cover the copy,
    // and an open for writing would prune its claims and checkpoint its journal first.
    let ours = Ledger::open_read_only(dir, clock)?;
    if ours.installation() != theirs.installation() {
        return Ok(false);
    }
    for r in theirs.incidents()? {
        let Ok(l) = ours.incident(&r.id) else {
            return Ok(false);
        };
        if l.entries < r.entries {
            return Ok(false);
        }
        let at = ours.timeline(&r.id)?;
        if at.get(r.entries as usize - 1).map(|e| e.hash.as_str()) != Some(r.head.as_str()) {
            return Ok(false);
        }
    }
    Ok(true)
}
