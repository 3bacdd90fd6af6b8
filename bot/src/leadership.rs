//! Two replicas or more (`[ha] lease`): only the holder of the Lease opens the ledger, runs
//! the engine, executes actions and writes the copy; the others wait as standbys.
//!
//! Guarantees: a replica opens its ledger only after the API server accepted it as the
//! lease's holder, and first adopts the bucket's copy when that copy holds anything its own
//! folder does not (its folder's ledger files are moved aside, never deleted); while it
//! leads, every renewal moves the ledger's fence to two thirds of the lease duration ahead,
//! so a leader that cannot renew (or was paused) refuses writes before another replica can
//! take the lease; a leader that finds the lease held by another exits at once. Assumes the
//! bucket's copy is complete up to what was acknowledged — which `ack = "replicated"`
//! guarantees; with `ack = "leader"`, writes acknowledged in the moment before a leader died
//! and not yet uploaded stay in its folder only (moved aside on its next takeover). Caveat:
//! a standby does not keep a warm copy: it restores from the bucket when it takes over, so
//! takeover time grows with the copy since its latest base.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use warroom_adapters::lease::{Elector, Held};
use warroom_adapters::segments::SegmentStore;
use warroom_commands::SystemClock;
use warroom_config::model::ha::{Ha, LeaseSettings};
use warroom_ledger::Ledger;

/// This replica's name on the lease: the pod's name in Kubernetes.
fn identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "warroom".into());
        format!("{host}-{}", std::process::id())
    })
}

/// Wait until this replica holds the lease; `standby` says what it is waiting for meanwhile.
pub async fn wait_to_lead(
    lease: &LeaseSettings,
    address: &str,
    standby: &Mutex<Option<String>>,
) -> anyhow::Result<(Elector, Instant)> {
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
    let mut said = String::new();
    loop {
        let asked = Instant::now();
        let why = match elector.try_hold(address).await {
            Ok(Held::Ours) => {
                crate::logging::notice_info(&format!(
                    "leading: holds Lease {}/{} as {}",
                    lease.namespace, lease.name, elector.identity
                ));
                if let Err(e) = elector.label_own_pod(true).await {
                    crate::logging::notice_warn(&format!(
                        "{e}: the Service may not route to this leader"
                    ));
                }
                return Ok((elector, asked));
            }
            Ok(Held::Theirs { holder, address }) => format!(
                "standby: {holder} leads{}",
                address.map(|a| format!(" at {a}")).unwrap_or_default()
            ),
            Err(e) => format!("standby: cannot reach the lease: {e}"),
        };
        if why != said {
            crate::logging::notice_info(&why);
            said.clone_from(&why);
        }
        *standby.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        tokio::time::sleep(lease.duration / 3).await;
    }
}

/// Keep the lease while leading: renew every third of its duration and move the ledger's
/// fence; exit the process when another replica holds it.
pub fn keep_leading(
    elector: Elector,
    acquired: Instant,
    ledger: Arc<Ledger>,
    lease: LeaseSettings,
    address: String,
) {
    let window = lease.duration * 2 / 3;
    ledger.fence_until(acquired + window);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(lease.duration / 3).await;
            let asked = Instant::now();
            match elector.try_hold(&address).await {
                Ok(Held::Ours) => ledger.fence_until(asked + window),
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
}

/// Take over the bucket's copy when it holds anything the folder `dir` does not: restore it
/// beside the folder, move the folder's ledger files to `dir/previous-<time>/`, and put the
/// restored ones in their place.
pub fn adopt_copy(dir: &Path, ha: &Ha) -> anyhow::Result<()> {
    let bucket = crate::ledger_copy::bucket_of(ha);
    let installations = SegmentStore::installations(&bucket).map_err(anyhow::Error::msg)?;
    let installation = match installations.as_slice() {
        [] => return Ok(()),
        [one] => one.clone(),
        many => anyhow::bail!(
            "{} holds the copies of {} installations ({}): a replica cannot tell which to continue; keep one per prefix",
            bucket.url(),
            many.len(),
            many.join(", ")
        ),
    };
    let store = SegmentStore::new(bucket, &installation)?;
    let names = store.list().map_err(anyhow::Error::msg)?;
    if names.is_empty() {
        return Ok(());
    }
    let segments = store
        .get_all(&names, &mut |_, _| {})
        .map_err(anyhow::Error::msg)?;
    let restored = sibling(dir, "restoring");
    let _ = std::fs::remove_dir_all(&restored);
    let report = warroom_ledger::segment::restore(&segments, &restored, Arc::new(SystemClock))
        .with_context(|| format!("cannot restore the copy at {}", store.location()))?;
    anyhow::ensure!(
        report.rebuilt.complete(),
        "the copy at {} does not restore whole: {:?}; refusing to lead on it",
        store.location(),
        report.rebuilt.problems
    );
    if covers(dir, &restored)? {
        std::fs::remove_dir_all(&restored)?;
        return Ok(());
    }
    let aside = dir.join(format!(
        "previous-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::create_dir_all(dir)?;
    for part in ["sled", "journal"] {
        if dir.join(part).exists() {
            std::fs::create_dir_all(&aside)?;
            std::fs::rename(dir.join(part), aside.join(part))?;
        }
        std::fs::rename(restored.join(part), dir.join(part))?;
    }
    std::fs::remove_dir_all(&restored)?;
    crate::logging::notice_info(&format!(
        "took over the copy at {} ({} segments){}",
        store.location(),
        report.segments,
        if aside.exists() {
            format!(
                "; this folder's own ledger files are kept in {}",
                aside.display()
            )
        } else {
            String::new()
        }
    ));
    Ok(())
}

fn sibling(dir: &Path, what: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "warroom-data".into());
    dir.with_file_name(format!(".{name}.{what}"))
}

/// Whether the ledger in `dir` already holds every entry of the one in `restored`, hash for
/// hash (this replica led last, and nothing was written since).
fn covers(dir: &Path, restored: &Path) -> anyhow::Result<bool> {
    if !dir.join("journal").exists() {
        return Ok(false);
    }
    let clock = Arc::new(SystemClock);
    let theirs = Ledger::open(restored, clock.clone())?;
    let ours = Ledger::open(dir, clock)?;
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
