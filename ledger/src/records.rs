//! Records kept beside the timeline.

use serde::{Deserialize, Serialize};
use warroom_commands::IncidentId;

/// An artifact in the evidence store, as the ledger knows it. The artifact itself lives in
/// the evidence store (`location`); the ledger keeps its digest and size, who collected it
/// and under which approval, and the timeline entry that recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRecord {
    pub id: String,
    pub incident: IncidentId,
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub location: String,
    pub collected_by: String,
    pub collected_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Sequence number of the `evidence.recorded` entry in the incident's timeline.
    pub entry_seq: u64,
}

/// What a caller supplies to record evidence; the ledger adds id, time and entry.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvidence {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub location: String,
    pub approval: Option<String>,
}
