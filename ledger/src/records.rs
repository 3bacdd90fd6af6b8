//! Records kept beside the timeline.

use serde::{Deserialize, Serialize};
use warroom_commands::{Event, IncidentId};

use crate::chain::Entry;

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

impl EvidenceRecord {
    /// Whether the record repeats exactly what the chained entry that recorded it says: the
    /// entry is the witness, so a record that differs in any field (or names another entry)
    /// was changed after the fact.
    pub(crate) fn matches(&self, entry: &Entry) -> bool {
        match entry.event() {
            Ok(Event::EvidenceRecorded {
                evidence_id,
                name,
                sha256,
                size,
                location,
                approval,
            }) => {
                entry.incident == self.incident
                    && entry.seq == self.entry_seq
                    && evidence_id == self.id
                    && name == self.name
                    && sha256 == self.sha256
                    && size == self.size
                    && location == self.location
                    && approval == self.approval
                    && entry.actor == self.collected_by
                    && entry.at == self.collected_at
            }
            _ => false,
        }
    }
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
