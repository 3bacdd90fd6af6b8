//! `snapshot node NODE`: EBS snapshots of every volume attached to the node's instance.
//!
//! Guarantees: one `CreateSnapshots` call covers all of the instance's volumes at the same
//! moment (crash-consistent across volumes); each snapshot is tagged with the incident, node,
//! requester and approver (and copies the volume's own tags); progress is posted until every
//! snapshot is `completed` or `error` (or the wait runs out, which is said); each snapshot is
//! recorded as evidence (id, volume, size, state, start and completion times). With `--lock`
//! each snapshot is locked right after it is created (EBS snapshot lock, the mode and duration
//! of the plan's `snapshot_lock`), and the lock is recorded with it. Assumes the role may call
//! `ec2:CreateSnapshots`, `ec2:CreateTags`, `ec2:DescribeSnapshots` (and `ec2:LockSnapshot`).
//! Caveats: the snapshot captures what is on disk, not in memory; it is not
//! application-consistent (no fsfreeze); it keeps costing money until someone deletes it — and
//! a compliance lock means nobody can delete it before the lock ends, once its cool-off ends.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{
    CopyTagsFromSource, InstanceSpecification, ResourceType, SnapshotState, Tag, TagSpecification,
};
use serde_json::{Value, json};

use warroom_config::model::infra::SnapshotLock;
use warroom_config::model::storage::LockMode;

use super::errors::classify;
use super::instance::Instance;
use crate::cluster::{ClusterError, Execution};

/// How long warroom waits for snapshots to complete, and how often it looks.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub up_to: Duration,
    pub every: Duration,
}

/// One snapshot as recorded in the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub snapshot: String,
    pub volume: String,
    pub size_gib: Option<i32>,
    pub state: String,
    pub progress: String,
    pub started: Option<String>,
    pub completed: Option<String>,
    /// The EBS snapshot lock on it: (state, expires on).
    pub lock: Option<(String, String)>,
}

impl Taken {
    pub fn json(&self) -> Value {
        json!({
            "snapshot_id": self.snapshot, "volume_id": self.volume, "size_gib": self.size_gib,
            "state": self.state, "progress": self.progress,
            "start_time": self.started, "completion_time": self.completed,
            "lock": self.lock.as_ref().map(|(state, until)| json!({ "state": state, "expires_on": until })),
        })
    }

    fn done(&self) -> bool {
        self.state == "completed" || self.state == "error"
    }
}

fn tags(ex: &Execution, node: &str) -> Vec<Tag> {
    let approvers = ex
        .approvers
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",");
    [
        ("warroom:incident", ex.incident.as_str().to_owned()),
        ("warroom:request", ex.request.clone()),
        ("warroom:node", node.to_owned()),
        ("warroom:requester", ex.requested_by.as_str().to_owned()),
        ("warroom:approver", approvers),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect()
}

/// A [`Taken`] from what AWS says of a snapshot: `CreateSnapshots` and `DescribeSnapshots`
/// answer with two types that have the same accessors.
macro_rules! taken {
    ($s:expr) => {
        Taken {
            snapshot: $s.snapshot_id().unwrap_or_default().to_owned(),
            volume: $s.volume_id().unwrap_or_default().to_owned(),
            size_gib: $s.volume_size(),
            state: $s
                .state()
                .map(|x| x.as_str().to_owned())
                .unwrap_or_default(),
            progress: $s.progress().unwrap_or("0%").to_owned(),
            started: $s.start_time().map(|t| t.to_string()),
            completed: None,
            lock: None,
        }
    };
}

/// Tries of `CreateSnapshots` before giving up (the SDK's own default, done here).
const ATTEMPTS: u32 = 3;

/// Start the snapshots; the caller then [`follow`]s them.
///
/// `CreateSnapshots` takes no idempotency token, so the SDK's own retries are off for it: a
/// call whose answer was lost (a 5xx, a timeout, a dropped connection) may have made the
/// snapshots, and repeating it would make a second set. After a failed try, the snapshots
/// that call would have made are looked for first — this account's own, of exactly the
/// instance's volumes, tagged with this request, incident and node, started since the first
/// try — and adopted when there is one for every volume; only when there are none is the
/// call tried again, up to [`ATTEMPTS`] with backoff. A set found for some volumes only is
/// looked for again and, if it stays partial, fails the request naming what was found.
/// Caveat: a snapshot AWS made but does not list yet (its listing is eventually consistent)
/// is not found, so a second set remains possible, though rare.
pub async fn start(
    ec2: &aws_sdk_ec2::Client,
    ex: &Execution,
    instance: &Instance,
) -> Result<Vec<Taken>, ClusterError> {
    // AWS's clock and this one may differ a little.
    let since = chrono::Utc::now().timestamp() - 60;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match create(ec2, ex, instance).await {
            Ok(taken) => return Ok(taken),
            Err(e) => e,
        };
        let transient = matches!(err, ClusterError::Throttled(_) | ClusterError::Upstream(_));
        if !transient {
            return Err(err);
        }
        if let Some(made) = made_by(ec2, ex, instance, since, &err).await? {
            tracing::warn!(incident = %ex.incident, request = %ex.request, error = %err, "CreateSnapshots failed, yet its snapshots exist: adopting them rather than making a second set");
            return Ok(made);
        }
        if attempt >= ATTEMPTS {
            return Err(err);
        }
        tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
    }
}

/// The snapshots a lost `CreateSnapshots` of this request made: one per volume of the
/// instance, or `None` when there are none. Only this account's own (`owner self`), of the
/// instance's volumes, tagged with the request, incident and node, started since `since`
/// (unix seconds): a planted or older snapshot is never adopted as this request's evidence.
async fn made_by(
    ec2: &aws_sdk_ec2::Client,
    ex: &Execution,
    instance: &Instance,
    since: i64,
    failed: &ClusterError,
) -> Result<Option<Vec<Taken>>, ClusterError> {
    use aws_sdk_ec2::types::Filter;
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let volumes: std::collections::BTreeSet<&str> =
        instance.volumes.iter().map(|(_, v)| v.as_str()).collect();
    let mut found: Vec<Taken> = Vec::new();
    for look in 0..3 {
        if look > 0 {
            // The listing is eventually consistent: a partial set may fill in.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let out = ec2
            .describe_snapshots()
            .owner_ids("self")
            .filters(filter("tag:warroom:request", &ex.request))
            .filters(filter("tag:warroom:incident", ex.incident.as_str()))
            .filters(filter("tag:warroom:node", &ex.resolved.target.name))
            .filters(
                Filter::builder()
                    .name("volume-id")
                    .set_values(Some(volumes.iter().map(|v| (*v).to_owned()).collect()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                classify(
                    &format!(
                        "DescribeSnapshots for {} (looking for snapshots a lost answer made)",
                        instance.id
                    ),
                    e,
                )
            })?;
        found = out
            .snapshots()
            .iter()
            .filter(|s| s.start_time().is_some_and(|t| t.secs() >= since))
            .filter(|s| s.volume_id().is_some_and(|v| volumes.contains(v)))
            .map(|s| taken!(s))
            .collect();
        if found.is_empty() {
            return Ok(None);
        }
        let covered: std::collections::BTreeSet<&str> =
            found.iter().map(|t| t.volume.as_str()).collect();
        if covered == volumes && found.len() == volumes.len() {
            return Ok(Some(found));
        }
    }
    Err(ClusterError::Upstream(format!(
        "{failed}; AWS lists snapshots this request made of {} of the instance's {} volume(s) ({}): not adopted as the evidence and not taken again; check the account before repeating the snapshot",
        found.len(),
        volumes.len(),
        found
            .iter()
            .map(|t| format!("{} of {}", t.snapshot, t.volume))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// One `CreateSnapshots`, without the SDK's retries.
async fn create(
    ec2: &aws_sdk_ec2::Client,
    ex: &Execution,
    instance: &Instance,
) -> Result<Vec<Taken>, ClusterError> {
    let node = &ex.resolved.target.name;
    let doing = format!("CreateSnapshots for {} (node {node})", instance.id);
    let out = ec2
        .create_snapshots()
        .instance_specification(
            InstanceSpecification::builder()
                .instance_id(&instance.id)
                .exclude_boot_volume(false)
                .build(),
        )
        .description(format!(
            "warroom {} {}: node {node} ({})",
            ex.incident,
            ex.request,
            ex.reason.as_deref().unwrap_or("no reason given")
        ))
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Snapshot)
                .set_tags(Some(tags(ex, node)))
                .build(),
        )
        .copy_tags_from_source(CopyTagsFromSource::Volume)
        .customize()
        .config_override(
            aws_sdk_ec2::config::Builder::default()
                .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await
        .map_err(|e| classify(&doing, e))?;
    let taken: Vec<Taken> = out.snapshots().iter().map(|s| taken!(s)).collect();
    if taken.is_empty() {
        return Err(ClusterError::Conflict(format!(
            "{doing}: AWS created no snapshot (the instance has no EBS volume attached)"
        )));
    }
    Ok(taken)
}

/// How the plan's lock reads on a card and in messages: "compliance for 30days (cool-off 24h)".
pub fn describe_lock(lock: &SnapshotLock) -> String {
    let mode = match lock.mode {
        LockMode::Governance => "governance",
        LockMode::Compliance => "compliance",
    };
    let cool_off = lock
        .cool_off
        .map(|c| format!(" (cool-off {})", warroom_config::format_duration(c)))
        .unwrap_or_default();
    format!(
        "{mode} mode for {}{cool_off}",
        warroom_config::format_duration(lock.duration)
    )
}

/// Lock each snapshot as the plan says (`ec2:LockSnapshot`), noting the lock on it. Stops at
/// the first refusal: the error names the snapshots already locked and those not.
pub async fn lock(
    ec2: &aws_sdk_ec2::Client,
    taken: &mut [Taken],
    plan: &SnapshotLock,
) -> Result<(), ClusterError> {
    let days = i32::try_from(plan.duration.as_secs() / 86_400).unwrap_or(i32::MAX);
    let mode = match plan.mode {
        LockMode::Governance => aws_sdk_ec2::types::LockMode::Governance,
        LockMode::Compliance => aws_sdk_ec2::types::LockMode::Compliance,
    };
    for i in 0..taken.len() {
        let id = taken[i].snapshot.clone();
        let mut call = ec2
            .lock_snapshot()
            .snapshot_id(&id)
            .lock_mode(mode.clone())
            .lock_duration(days);
        if let Some(c) = plan.cool_off {
            call = call.cool_off_period(i32::try_from(c.as_secs() / 3600).unwrap_or(72));
        }
        let out = call.send().await.map_err(|e| {
            let locked: Vec<&str> = taken[..i].iter().map(|t| t.snapshot.as_str()).collect();
            classify(
                &format!(
                    "LockSnapshot {id} (locked before it: [{}])",
                    locked.join(", ")
                ),
                e,
            )
        })?;
        taken[i].lock = Some((
            out.lock_state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            out.lock_expires_on()
                .map(|t| t.to_string())
                .unwrap_or_default(),
        ));
    }
    Ok(())
}

/// Poll until every snapshot is completed or failed, posting each change of progress.
pub async fn follow(
    ec2: &aws_sdk_ec2::Client,
    ex: &Execution,
    mut taken: Vec<Taken>,
    wait: Wait,
) -> Result<(Vec<Taken>, bool), ClusterError> {
    let started = Instant::now();
    let mut said = String::new();
    loop {
        let ids: Vec<String> = taken.iter().map(|t| t.snapshot.clone()).collect();
        let out = ec2
            .describe_snapshots()
            .set_snapshot_ids(Some(ids))
            .send()
            .await
            .map_err(|e| classify("DescribeSnapshots", e))?;
        for s in out.snapshots() {
            let Some(t) = taken
                .iter_mut()
                .find(|t| Some(t.snapshot.as_str()) == s.snapshot_id())
            else {
                continue;
            };
            t.state = s
                .state()
                .map(SnapshotState::as_str)
                .unwrap_or("")
                .to_owned();
            t.progress = s.progress().unwrap_or(&t.progress).to_owned();
            t.size_gib = s.volume_size().or(t.size_gib);
            t.completed = s
                .completion_time()
                .map(|c| c.to_string())
                .or((t.state == "completed").then(|| chrono::Utc::now().to_rfc3339()));
        }
        let line = taken
            .iter()
            .map(|t| format!("{} ({}) {} {}", t.snapshot, t.volume, t.progress, t.state))
            .collect::<Vec<_>>()
            .join(", ");
        // Only a change of progress is posted (edited in place on every platform).
        if said != line {
            if let Some(p) = &ex.progress {
                p.status(format!("snapshot {}: {line}", ex.resolved.target.name));
            }
            said = line;
        }
        if taken.iter().all(Taken::done) {
            return Ok((taken, true));
        }
        if started.elapsed() >= wait.up_to {
            return Ok((taken, false));
        }
        tokio::time::sleep(wait.every).await;
    }
}
