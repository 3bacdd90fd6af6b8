//! The per-incident hash chain.
//!
//! `hash = hex(SHA-256(prev_hash ‖ JCS(entry without prev_hash and hash)))`, where `prev_hash`
//! is the 64-character lowercase hex of the previous entry's hash (64 zeros for the first
//! entry) and JCS is RFC 8785 canonical JSON. Everything is ASCII hex or UTF-8 JSON, so a
//! dozen lines of any language recompute it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use warroom_commands::{Event, EventError, IncidentId};

use crate::canonical::{CanonicalError, to_canonical};

/// `prev_hash` of an incident's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One timeline entry as stored and exported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub incident: IncidentId,
    /// 0 for the opening entry, then +1 per entry, no gaps.
    pub seq: u64,
    /// UTC, microseconds, `Z` (see `warroom_commands::clock::timestamp`).
    pub at: String,
    /// `person:<id>`, `cli:<user>` or `warroom`.
    pub actor: String,
    pub kind: String,
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// The part of the entry that is hashed: every field but `prev_hash` and `hash`.
    pub fn body(&self) -> Value {
        serde_json::json!({
            "incident": self.incident,
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "kind": self.kind,
            "data": self.data,
        })
    }

    /// Recompute this entry's hash from its body and `prev_hash`.
    pub fn compute_hash(&self) -> Result<String, CanonicalError> {
        Ok(link_hash(&self.prev_hash, &to_canonical(&self.body())?))
    }

    pub fn event(&self) -> Result<Event, EventError> {
        Event::from_parts(&self.kind, &self.data)
    }
}

pub fn link_hash(prev_hash: &str, canonical_body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical_body.as_bytes());
    hex::encode(h.finalize())
}

/// Why an entry does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error(
        "sequence number {found} where {expected} was expected (an entry is missing or out of order)"
    )]
    Sequence { expected: u64, found: u64 },
    #[error("belongs to incident {found}")]
    WrongIncident { found: String },
    #[error("prev_hash {found} does not match the previous entry's hash {expected}")]
    PrevHash { expected: String, found: String },
    #[error("stored hash {stored} but its content hashes to {computed}: the entry was altered")]
    Hash { stored: String, computed: String },
    #[error("cannot be canonicalised: {0}")]
    Canonical(#[from] CanonicalError),
    #[error("unreadable: {0}")]
    Unreadable(String),
    #[error("the incident record disagrees with its timeline: {0}")]
    Record(String),
}

/// Where a chain first fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("incident {incident}, entry {seq}: {reason}")]
pub struct ChainError {
    pub incident: String,
    pub seq: u64,
    pub reason: Break,
}

/// Walk a chain in order; returns the head hash, or the first entry that does not verify.
pub struct ChainWalker {
    incident: IncidentId,
    next_seq: u64,
    prev: String,
}

impl ChainWalker {
    pub fn new(incident: IncidentId) -> Self {
        ChainWalker {
            incident,
            next_seq: 0,
            prev: GENESIS.to_string(),
        }
    }

    pub fn check(&mut self, entry: &Entry) -> Result<(), ChainError> {
        let fail = |reason| ChainError {
            incident: self.incident.to_string(),
            seq: entry.seq,
            reason,
        };
        if entry.incident != self.incident {
            return Err(fail(Break::WrongIncident {
                found: entry.incident.to_string(),
            }));
        }
        if entry.seq != self.next_seq {
            return Err(fail(Break::Sequence {
                expected: self.next_seq,
                found: entry.seq,
            }));
        }
        if entry.prev_hash != self.prev {
            return Err(fail(Break::PrevHash {
                expected: self.prev.clone(),
                found: entry.prev_hash.clone(),
            }));
        }
        let computed = entry.compute_hash().map_err(|e| fail(e.into()))?;
        if computed != entry.hash {
            return Err(fail(Break::Hash {
                stored: entry.hash.clone(),
                computed,
            }));
        }
        self.next_seq += 1;
        self.prev = computed;
        Ok(())
    }

    pub fn head(&self) -> &str {
        &self.prev
    }

    pub fn len(&self) -> u64 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, prev: &str, text: &str) -> Entry {
        let mut e = Entry {
            incident: "INC-20261127-0001".parse().unwrap(),
            seq,
            at: "2026-11-27T02:00:00.000000Z".into(),
            actor: "cli:root".into(),
            kind: "note".into(),
            data: serde_json::json!({ "text": text }),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash().unwrap();
        e
    }

    #[test]
    fn hash_is_sha256_of_prev_hash_then_canonical_body() {
        let e = entry(0, GENESIS, "hi");
        let body = r#"{"actor":"cli:root","at":"2026-11-27T02:00:00.000000Z","data":{"text":"hi"},"incident":"INC-20261127-0001","kind":"note","seq":0}"#;
        let expected = hex::encode(Sha256::digest(format!("{GENESIS}{body}").as_bytes()));
        assert_eq!(e.hash, expected);
    }

    #[test]
    fn a_changed_entry_is_named_by_the_walker() {
        let a = entry(0, GENESIS, "a");
        let mut b = entry(1, &a.hash, "b");
        let mut w = ChainWalker::new(a.incident.clone());
        w.check(&a).unwrap();
        b.data = serde_json::json!({"text": "B"});
        let err = w.check(&b).unwrap_err();
        assert_eq!(err.seq, 1);
        assert!(matches!(err.reason, Break::Hash { .. }));
    }

    #[test]
    fn a_missing_entry_breaks_the_sequence() {
        let a = entry(0, GENESIS, "a");
        let b = entry(1, &a.hash, "b");
        let c = entry(2, &b.hash, "c");
        let mut w = ChainWalker::new(a.incident.clone());
        w.check(&a).unwrap();
        let err = w.check(&c).unwrap_err();
        assert!(matches!(
            err.reason,
            Break::Sequence {
                expected: 1,
                found: 2
            }
        ));
    }
}
