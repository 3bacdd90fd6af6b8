//! Rebuild an incident record from its timeline, checking the chain on the way.
//!
//! Shared by `ledger verify` (stored chains) and `export verify` (exported chains), so both
//! apply exactly the same rules.

use chrono::{DateTime, Utc};
use warroom_commands::{Actor, Event, Incident, IncidentId};

use crate::chain::{Break, ChainError, ChainWalker, Entry};

/// Walk `entries` (which must be the whole timeline of `id`, in order) and return the
/// incident record they imply, or the first entry that does not verify.
pub fn replay(id: &IncidentId, entries: &[Entry]) -> Result<Incident, ChainError> {
    let mut walker = ChainWalker::new(id.clone());
    let mut record: Option<Incident> = None;
    for entry in entries {
        walker.check(entry)?;
        step(id, &mut record, entry)?;
    }
    record.ok_or_else(|| ChainError {
        incident: id.to_string(),
        seq: 0,
        reason: Break::Unreadable("the incident has no timeline entries".into()),
    })
}

/// Apply one entry to the record its predecessors built (`None` before the first).
pub(crate) fn step(
    id: &IncidentId,
    record: &mut Option<Incident>,
    entry: &Entry,
) -> Result<(), ChainError> {
    let fail = |reason: String| ChainError {
        incident: id.to_string(),
        seq: entry.seq,
        reason: Break::Unreadable(reason),
    };
    let event = entry.event().map_err(|e| fail(e.to_string()))?;
    let at: DateTime<Utc> = entry
        .at
        .parse()
        .map_err(|e| fail(format!("time `{}`: {e}", entry.at)))?;
    let actor: Actor = entry.actor.parse().map_err(|e| fail(format!("{e}")))?;
    let incident = match (record.as_mut(), &event) {
        (
            None,
            Event::IncidentOpened {
                title, severity, ..
            },
        ) => record.insert(Incident::opened(
            id.clone(),
            title.clone(),
            *severity,
            at,
            actor.clone(),
        )),
        (None, _) => return Err(fail("the first entry must be incident.opened".into())),
        (Some(_), Event::IncidentOpened { .. }) => {
            return Err(fail("incident.opened may only be the first entry".into()));
        }
        (Some(r), _) => r,
    };
    incident
        .apply(&event, &actor, at, &entry.hash)
        .map_err(|e| fail(format!("a transition the rules refuse: {e}")))
}

/// Compare a stored or exported incident record with the one its timeline implies.
pub fn check_record(claimed: &Incident, replayed: &Incident) -> Result<(), ChainError> {
    if claimed == replayed {
        return Ok(());
    }
    let mut diffs = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            diffs.push(format!("{name} is `{a}` but the timeline says `{b}`"));
        }
    };
    field("id", claimed.id.to_string(), replayed.id.to_string());
    field("title", claimed.title.clone(), replayed.title.clone());
    field(
        "severity",
        claimed.severity.to_string(),
        replayed.severity.to_string(),
    );
    field(
        "status",
        claimed.status.to_string(),
        replayed.status.to_string(),
    );
    field(
        "opened_at",
        claimed.opened_at.to_rfc3339(),
        replayed.opened_at.to_rfc3339(),
    );
    field(
        "opened_by",
        claimed.opened_by.to_string(),
        replayed.opened_by.to_string(),
    );
    field(
        "entries",
        claimed.entries.to_string(),
        replayed.entries.to_string(),
    );
    field("head", claimed.head.clone(), replayed.head.clone());
    field("roles", json(&claimed.roles), json(&replayed.roles));
    field(
        "requests",
        json(&claimed.requests),
        json(&replayed.requests),
    );
    field(
        "unacknowledged",
        json(&claimed.unacknowledged),
        json(&replayed.unacknowledged),
    );
    field(
        "last_status_update",
        json(&claimed.last_status_update),
        json(&replayed.last_status_update),
    );
    Err(ChainError {
        incident: replayed.id.to_string(),
        seq: replayed.entries.saturating_sub(1),
        reason: Break::Record(diffs.join("; ")),
    })
}

/// Nested record parts are compared by their JSON text.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
