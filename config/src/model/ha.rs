//! `[ha]`: the ledger's off-box copy in object storage.

use std::time::Duration;

use serde::Deserialize;

use super::storage::ObjectLock;

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ack {
    /// Durable on this server's disk (the copy follows within moments).
    #[default]
    Leader,
    /// Also uploaded to the bucket: a reply says "recorded" only once its segment is there.
    Replicated,
}

/// With `ack = "replicated"`, what a write does when the bucket does not take it in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenUnreachable {
    /// Refuse writes (`/readyz` 503) until uploads succeed again.
    #[default]
    Refuse,
    /// Acknowledge writes durable here and say the copy is behind; it catches up.
    CarryOn,
}

fn five_seconds() -> Duration {
    Duration::from_secs(5)
}

/// `s3://bucket/prefix` as (bucket, prefix ending in `/` or empty); `None` for anything else.
pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    Some((bucket.to_owned(), prefix))
}

/// `[ha] bucket = "s3://northwind-warroom-ledger/prod/" …`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ha {
    /// `s3://bucket/prefix/`: segments go under `<prefix><installation>/segments/`.
    pub bucket: String,
    pub region: String,
    /// For S3-compatible stores (MinIO, moto).
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub ack: Ack,
    /// With `ack = "replicated"`: how long a reply waits for its segment's upload.
    #[serde(
        default = "five_seconds",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub replicated_within: Duration,
    #[serde(default)]
    pub when_unreachable: WhenUnreachable,
    /// Object Lock retention for every segment (the bucket must have Object Lock on).
    #[serde(default)]
    pub object_lock: Option<ObjectLock>,
    /// Two replicas or more: the one holding this Lease acts, the others wait.
    #[serde(default)]
    pub lease: Option<LeaseSettings>,
}

fn fifteen_seconds() -> Duration {
    Duration::from_secs(15)
}

/// `lease = { namespace = "warroom", name = "warroom", in_cluster = true }`: a
/// `coordination.k8s.io/v1` Lease in the cluster warroom runs in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// How long a leader that stopped renewing keeps the lease.
    #[serde(
        default = "fifteen_seconds",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub duration: Duration,
    /// Reach the API server with this kubeconfig instead of the pod's service account.
    #[serde(default)]
    pub kubeconfig: Option<std::path::PathBuf>,
}
