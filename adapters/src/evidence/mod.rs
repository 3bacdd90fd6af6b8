//! Where evidence artifacts are kept. The ledger records each artifact's digest; the store
//! keeps the bytes.

mod local;
pub mod s3;

use std::io::Read;

pub use local::{LocalEvidenceStore, copy_hashing};
use warroom_commands::IncidentId;

/// An artifact after it was stored: what the ledger records about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    pub sha256: String,
    pub size: u64,
    /// Where it is, in the store's own terms: a key relative to the store (never a server's
    /// absolute path), or an s3:// URL.
    pub location: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(
        "artifact name `{0}` is not allowed: use letters, digits, '.', '-', '_' and '/' without '..'"
    )]
    BadName(String),
    #[error("evidence store {location}: {source}")]
    Io {
        location: String,
        source: std::io::Error,
    },
}

pub trait EvidenceStore: Send + Sync {
    /// Stream `content` into the store under `incident/name`, hashing it on the way.
    fn put(
        &self,
        incident: &IncidentId,
        name: &str,
        content: &mut dyn Read,
    ) -> Result<StoredArtifact, EvidenceError>;

    /// Read an artifact back by the location `put` returned.
    fn open(&self, location: &str) -> std::io::Result<Box<dyn Read>>;

    /// Re-hash an artifact as `put` hashed it (streaming, constant memory): its SHA-256
    /// (hex) and size; `progress` gets the bytes read so far.
    fn digest(
        &self,
        location: &str,
        progress: &mut dyn FnMut(u64),
    ) -> std::io::Result<(String, u64)> {
        copy_hashing(&mut self.open(location)?, &mut std::io::sink(), progress)
    }
}

/// Store `bytes` as `<request>/<name>` of `incident`, off the async threads (the store hashes
/// them as it writes). The error names the artifact.
pub async fn put_bytes(
    store: &std::sync::Arc<dyn EvidenceStore>,
    incident: &IncidentId,
    request: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Result<StoredArtifact, String> {
    let (store, incident) = (store.clone(), incident.clone());
    let full = format!("{request}/{name}");
    tokio::task::spawn_blocking(move || {
        store.put(&incident, &full, &mut std::io::Cursor::new(bytes))
    })
    .await
    .map_err(|e| format!("storing {name}: {e}"))?
    .map_err(|e| format!("storing {name}: {e}"))
}

/// A store that cannot take artifacts, with the reason: captures fail with it, clearly.
pub struct UnavailableStore(pub String);

impl EvidenceStore for UnavailableStore {
    fn put(
        &self,
        _incident: &IncidentId,
        _name: &str,
        _content: &mut dyn Read,
    ) -> Result<StoredArtifact, EvidenceError> {
        Err(EvidenceError::Io {
            location: self.0.clone(),
            source: std::io::Error::other(self.0.clone()),
        })
    }

    fn open(&self, _location: &str) -> std::io::Result<Box<dyn Read>> {
        Err(std::io::Error::other(self.0.clone()))
    }
}
