//! The incident record: a projection of its timeline.
//!
//! The timeline is the source of truth; the record is what folding its events gives. That is
//! what lets `ledger verify` and `export verify` check the record as well as the chain.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Actor, Event, IncidentId, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Open,
    Resolved,
}

impl std::fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Resolved => "resolved",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    pub id: IncidentId,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub opened_at: DateTime<Utc>,
    pub opened_by: Actor,
    /// Entries in the timeline; the next entry gets this sequence number.
    pub entries: u64,
    /// Hash of the last timeline entry (the chain head).
    pub head: String,
}

impl Incident {
    /// The record as it stands right after its opening entry.
    pub fn opened(
        id: IncidentId,
        title: String,
        severity: Severity,
        at: DateTime<Utc>,
        by: Actor,
    ) -> Self {
        Incident {
            id,
            title,
            severity,
            status: IncidentStatus::Open,
            opened_at: at,
            opened_by: by,
            entries: 0,
            head: String::new(),
        }
    }

    /// Apply one event after it was appended with hash `hash`.
    pub fn apply(&mut self, event: &Event, hash: &str) {
        match event {
            Event::IncidentOpened { title, severity } => {
                self.title = title.clone();
                self.severity = *severity;
            }
            Event::SeverityChanged { to, .. } => self.severity = *to,
            Event::Resolved { .. } => self.status = IncidentStatus::Resolved,
            Event::Note { .. } | Event::EvidenceRecorded { .. } => {}
        }
        self.entries += 1;
        self.head = hash.to_string();
    }
}
