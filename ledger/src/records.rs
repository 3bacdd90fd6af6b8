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

/// The timeline kind of `Event::EvidenceRecorded`.
pub(crate) const EVIDENCE_KIND: &str = "evidence.recorded";

/// What an `evidence.recorded` entry says: the witness its evidence record must repeat.
pub(crate) struct Recorded {
    pub id: String,
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub location: String,
    pub approval: Option<String>,
}

impl Recorded {
    /// The artifact `entry` recorded; `None` for any other entry.
    pub(crate) fn of(entry: &Entry) -> Option<Recorded> {
        match entry.event() {
            Ok(Event::EvidenceRecorded {
                evidence_id,
                name,
                sha256,
                size,
                location,
                approval,
            }) => Some(Recorded {
                id: evidence_id,
                name,
                sha256,
                size,
                location,
                approval,
            }),
            _ => None,
        }
    }
}

impl EvidenceRecord {
    /// Whether the record repeats exactly what the chained entry that recorded it says: the
    /// entry is the witness, so a record that differs in any field (or names another entry)
    /// was changed after the fact.
    pub(crate) fn matches(&self, entry: &Entry) -> bool {
        Recorded::of(entry).is_some_and(|w| {
            entry.incident == self.incident
                && entry.seq == self.entry_seq
                && w.id == self.id
                && w.name == self.name
                && w.sha256 == self.sha256
                && w.size == self.size
                && w.location == self.location
                && w.approval == self.approval
                && entry.actor == self.collected_by
                && entry.at == self.collected_at
        })
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
