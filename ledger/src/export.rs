//! Exports an auditor can check without warroom: JSON with every hash, and a Markdown
//! post-mortem timeline for people.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use warroom_commands::{Incident, IncidentId};

use crate::chain::{Break, ChainError, Entry};
use crate::error::LedgerError;
use crate::records::{EVIDENCE_KIND, EvidenceRecord};
use crate::replay::{check_record, replay};
use crate::store::Ledger;

pub const EXPORT_FORMAT: &str = "warroom-timeline-export/1";
pub const HASHING: &str = "hash = hex(sha256(prev_hash + canonical_json(entry minus prev_hash and hash))); canonical_json = RFC 8785; first prev_hash = 64 zeros";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    pub format: String,
    pub hashing: String,
    pub exported_at: String,
    pub exported_by: String,
    /// The incident record; `export verify` checks it against the timeline.
    pub incident: Incident,
    pub head: Head,
    pub entries: Vec<Entry>,
    pub evidence: Vec<EvidenceRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Ledger {
    pub fn export(
        &self,
        id: &IncidentId,
        exported_at: String,
        exported_by: String,
    ) -> Result<Export, LedgerError> {
        // One consistent view: the record and exactly the entries and evidence it counts,
        // whatever a running server writes meanwhile.
        let (incident, entries) = self.incident_with_timeline(id)?;
        let evidence: Vec<EvidenceRecord> = self
            .evidence(id)?
            .into_iter()
            .filter(|e| e.entry_seq < incident.entries)
            .collect();
        // Damage is named, not exported as "no evidence": each recorded artifact's record
        // must be there (both are written by one journal batch, before the record counts it).
        if let Some(missing) =
            evidence_entries(&entries).find(|e| !evidence.iter().any(|r| r.entry_seq == e.seq))
        {
            return Err(LedgerError::Corrupt {
                what: format!("evidence of {id}"),
                reason: format!(
                    "timeline entry {} records an artifact, but its evidence record is missing; `ledger verify` names it",
                    missing.seq
                ),
            });
        }
        Ok(Export {
            format: EXPORT_FORMAT.into(),
            hashing: HASHING.into(),
            exported_at,
            exported_by,
            head: Head {
                seq: incident.entries.saturating_sub(1),
                hash: incident.head.clone(),
            },
            incident,
            entries,
            evidence,
        })
    }
}

/// Why an export file does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file is not a warroom export at all (not JSON, wrong shape).
    #[error("not a readable warroom export: {0}")]
    Unreadable(String),
    /// The export is well-formed but its content was altered.
    #[error("{0}")]
    Tampered(ChainError),
}

/// What an intact export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCheck {
    pub incident: String,
    pub entries: u64,
    pub evidence: u64,
    pub head: String,
}

/// Verify an export's chain, head, incident record and evidence list.
pub fn verify_export(text: &str) -> Result<ExportCheck, ExportError> {
    // Entries are decoded one by one so a damaged entry is named, not just "line 40".
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Loose {
        format: String,
        hashing: Value,
        exported_at: Value,
        exported_by: Value,
        incident: Value,
        head: Value,
        entries: Vec<Value>,
        evidence: Vec<Value>,
    }
    let unreadable = |e: String| ExportError::Unreadable(e);
    let loose: Loose = serde_json::from_str(text).map_err(|e| unreadable(e.to_string()))?;
    let _ = (&loose.hashing, &loose.exported_at, &loose.exported_by);
    if loose.format != EXPORT_FORMAT {
        return Err(unreadable(format!(
            "format is `{}`, expected `{EXPORT_FORMAT}`",
            loose.format
        )));
    }
    let incident: Incident =
        serde_json::from_value(loose.incident).map_err(|e| unreadable(format!("incident: {e}")))?;
    let head: Head =
        serde_json::from_value(loose.head).map_err(|e| unreadable(format!("head: {e}")))?;
    let tampered = |seq: u64, reason: Break| {
        ExportError::Tampered(ChainError {
            incident: incident.id.to_string(),
            seq,
            reason,
        })
    };
    let mut entries = Vec::with_capacity(loose.entries.len());
    for (i, raw) in loose.entries.into_iter().enumerate() {
        let seq = raw.get("seq").and_then(Value::as_u64).unwrap_or(i as u64);
        let entry: Entry = serde_json::from_value(raw)
            .map_err(|e| tampered(seq, Break::Unreadable(e.to_string())))?;
        entries.push(entry);
    }
    let replayed = replay(&incident.id, &entries).map_err(ExportError::Tampered)?;
    check_record(&incident, &replayed).map_err(ExportError::Tampered)?;
    let last = replayed.entries.saturating_sub(1);
    if head.hash != replayed.head || head.seq != last {
        return Err(tampered(
            last,
            Break::Record(format!(
                "head says entry {} {}, the chain ends at entry {last} {}",
                head.seq, head.hash, replayed.head
            )),
        ));
    }
    let evidence = loose.evidence.len() as u64;
    let mut recorded = std::collections::BTreeSet::new();
    for raw in loose.evidence {
        let record: EvidenceRecord =
            serde_json::from_value(raw).map_err(|e| unreadable(format!("evidence record: {e}")))?;
        check_evidence(&record, &entries).map_err(|reason| tampered(record.entry_seq, reason))?;
        if !recorded.insert(record.entry_seq) {
            return Err(tampered(
                record.entry_seq,
                Break::Record(format!(
                    "two evidence records claim entry {}",
                    record.entry_seq
                )),
            ));
        }
    }
    // Every artifact the timeline recorded is in the export: one left out would otherwise
    // go unnoticed (the records present all check out).
    if let Some(missing) = evidence_entries(&entries).find(|e| !recorded.contains(&e.seq)) {
        return Err(tampered(
            missing.seq,
            Break::Record(format!(
                "entry {} records evidence, but the export holds no evidence record of it",
                missing.seq
            )),
        ));
    }
    Ok(ExportCheck {
        incident: incident.id.to_string(),
        entries: entries.len() as u64,
        evidence,
        head: replayed.head,
    })
}

/// An evidence record must repeat exactly what its chained entry says.
fn check_evidence(record: &EvidenceRecord, entries: &[Entry]) -> Result<(), Break> {
    let entry = entries
        .iter()
        .find(|e| e.seq == record.entry_seq)
        .ok_or_else(|| Break::Record(format!("evidence {} points at no entry", record.id)))?;
    if record.matches(entry) {
        Ok(())
    } else {
        Err(Break::Record(format!(
            "evidence record {} differs from the entry that recorded it",
            record.id
        )))
    }
}

/// The entries that record evidence: each must have exactly one record beside it.
fn evidence_entries(entries: &[Entry]) -> impl Iterator<Item = &Entry> {
    entries.iter().filter(|e| e.kind == EVIDENCE_KIND)
}

/// A readable post-mortem timeline.
pub fn to_markdown(export: &Export) -> String {
    let i = &export.incident;
    let mut md = format!(
        "# {} — {}\n\n| | |\n|---|---|\n| Severity | {} |\n| Status | {} |\n| Opened | {} by {} |\n| Entries | {} |\n\n## Timeline (UTC)\n\n| # | Time | Actor | What happened |\n|---|---|---|---|\n",
        i.id,
        cell(&i.title),
        i.severity,
        i.status,
        i.opened_at.format("%Y-%m-%d %H:%M:%S UTC"),
        cell(&i.opened_by.to_string()),
        i.entries
    );
    for e in &export.entries {
        let what = e
            .event()
            .map(|ev| {
                let mut what = ev.describe();
                for change in ev.changes() {
                    what.push_str(&format!("\n• {change}"));
                }
                what
            })
            .unwrap_or_else(|_| format!("{} {}", e.kind, e.data));
        let time = e.at.get(..19).unwrap_or(&e.at).replace('T', " ");
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            e.seq,
            time,
            cell(&e.actor),
            cell(&what)
        ));
    }
    md.push_str("\n## Evidence\n\n");
    if export.evidence.is_empty() {
        md.push_str("No evidence recorded.\n");
    } else {
        md.push_str("| Artifact | SHA-256 | Bytes | Collected by | Approval | Stored at |\n|---|---|---|---|---|---|\n");
        for ev in &export.evidence {
            md.push_str(&format!(
                "| {} | `{}` | {} | {} | {} | {} |\n",
                cell(&ev.name),
                ev.sha256,
                ev.size,
                cell(&ev.collected_by),
                cell(ev.approval.as_deref().unwrap_or("—")),
                cell(&ev.location)
            ));
        }
    }
    md.push_str(&format!(
        "\n## Integrity\n\nChain head: entry {} `{}`.\nExported {} by {}. The JSON export of this incident carries every hash; check it with `warroom export verify FILE`.\n",
        export.head.seq, export.head.hash, export.exported_at, export.exported_by
    ));
    md
}

/// Keep text from outside (alert titles, chat, evidence names) inside one table cell, as
/// text: a post-mortem is published through renderers that pass HTML and follow links, so
/// markup (`<img onerror=…>`), links and images (`[x](javascript:…)`), autolinks and code
/// spans are escaped, never rendered. Line breaks become `<br>`, warroom's own markup.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some(entity) = warroom_commands::markup::entity(c) {
            out.push_str(entity);
            continue;
        }
        match c {
            '\\' | '|' | '[' | ']' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}
