//! `ledger verify`: recompute every stored chain.

use std::collections::BTreeSet;

use warroom_commands::IncidentId;

use crate::chain::{Break, ChainError, Entry};
use crate::error::LedgerError;
use crate::keys;
use crate::replay::{check_record, replay};
use crate::store::{Ledger, decode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub incidents: u64,
    pub entries: u64,
    /// The first entry that does not verify, in incident order; `None` when all are intact.
    pub failure: Option<ChainError>,
}

impl Ledger {
    /// Recompute every incident's hash chain and check each incident record against its
    /// timeline. Stops at the first bad entry and names it.
    pub fn verify(&self) -> Result<VerifyReport, LedgerError> {
        let mut report = VerifyReport {
            incidents: 0,
            entries: 0,
            failure: None,
        };
        let mut known = BTreeSet::new();
        for incident in self.incidents()? {
            report.incidents += 1;
            known.insert(incident.id.to_string());
            let entries = match self.raw_timeline(&incident.id)? {
                Ok(entries) => entries,
                Err(failure) => {
                    report.failure = Some(failure);
                    return Ok(report);
                }
            };
            report.entries += entries.len() as u64;
            if let Err(failure) = replay(&incident.id, &entries)
                .and_then(|replayed| check_record(&incident, &replayed))
            {
                report.failure = Some(failure);
                return Ok(report);
            }
        }
        // Entries whose incident record is gone are as suspicious as altered ones.
        for kv in self.trees.timeline.iter() {
            let (k, _) = kv.map_err(|e| self.trees.storage(e))?;
            let id = k.splitn(2, |b| *b == b'/').next().unwrap_or_default();
            let id = String::from_utf8_lossy(id).into_owned();
            if !known.contains(&id) {
                report.failure = Some(ChainError {
                    incident: id,
                    seq: seq_of(&k),
                    reason: Break::Unreadable("timeline entry without an incident record".into()),
                });
                break;
            }
        }
        Ok(report)
    }

    /// The stored timeline, naming the first entry that cannot even be decoded.
    fn raw_timeline(&self, id: &IncidentId) -> Result<Result<Vec<Entry>, ChainError>, LedgerError> {
        let mut out = Vec::new();
        for kv in self.trees.timeline.scan_prefix(keys::timeline_prefix(id)) {
            let (k, v) = kv.map_err(|e| self.trees.storage(e))?;
            match decode::<Entry>("entry", &v) {
                Ok(e) => out.push(e),
                Err(e) => {
                    return Ok(Err(ChainError {
                        incident: id.to_string(),
                        seq: seq_of(&k),
                        reason: Break::Unreadable(e.to_string()),
                    }));
                }
            }
        }
        Ok(Ok(out))
    }
}

fn seq_of(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .and_then(|start| <[u8; 8]>::try_from(&key[start..]).ok())
        .map(u64::from_be_bytes)
        .unwrap_or_default()
}
