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
    // Field by field over the whole record as stored, so every part of it is named when it
    // differs (escalation, pages, outbox, channels, cards … as much as status or requests).
    let (a, b) = (as_fields(claimed), as_fields(replayed));
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut diffs: Vec<String> = names
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k} is `{}` but the timeline says `{}`",
                text(a.get(k)),
                text(b.get(k))
            )
        })
        .collect();
    if diffs.is_empty() {
        // Equal as stored, unequal in memory: say so rather than say nothing.
        diffs.push("it differs in a part that is not stored".into());
    }
    Err(ChainError {
        incident: replayed.id.to_string(),
        seq: replayed.entries.saturating_sub(1),
        reason: Break::Record(diffs.join("; ")),
    })
}

/// A record's top-level fields as stored (JSON).
fn as_fields(record: &Incident) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(record) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// A field's value for a message: text as it is, anything else as JSON, at most 300
/// characters; an absent field says so.
fn text(v: Option<&serde_json::Value>) -> String {
    let full = match v {
        None => return "(absent)".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    match full.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &full[..at]),
        None => full,
    }
}
