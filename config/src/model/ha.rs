//! `[ha]`: the ledger's off-box copy in object storage.

use serde::Deserialize;

use super::storage::ObjectLock;

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ack {
    /// Durable on this server's disk (the copy follows within moments).
    #[default]
    Leader,
    /// Also uploaded to the bucket. Not built yet: the plan check refuses it.
    Replicated,
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
    /// Object Lock retention for every segment (the bucket must have Object Lock on).
    #[serde(default)]
    pub object_lock: Option<ObjectLock>,
}
