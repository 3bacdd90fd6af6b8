//! Key layout of the sled trees.
//!
//! Timeline keys are `incident id ‖ '/' ‖ seq (u64 big-endian)`, so a prefix scan returns
//! one incident's entries in chain order.

use warroom_commands::IncidentId;

pub const INCIDENTS: &str = "incidents";
pub const TIMELINE: &str = "timeline";
pub const EVIDENCE: &str = "evidence";
/// Ready for the approval engine: requests and their state (compare-and-swap transitions).
pub const APPROVALS: &str = "approvals";
/// Ready for paging: pages sent and escalation timers.
pub const PAGES: &str = "pages";
/// Ready for alert intake: fingerprint → open incident.
pub const FINGERPRINTS: &str = "fingerprints";
/// Ready for chat intake: delivery ids already handled.
pub const IDEMPOTENCY: &str = "idempotency";
pub const META: &str = "meta";

pub const FORMAT_KEY: &[u8] = b"format";
/// Number of the last journal batch applied to sled (u64 big-endian), written after each
/// batch's own writes, so sled losing a batch shows as a number behind the journal's.
pub const APPLIED_KEY: &[u8] = b"journal/applied";
pub const FORMAT: &str = "warroom-ledger/1";
/// This installation's id, generated once when the ledger is created: identifiers sent
/// outside warroom (dedup keys, Message-IDs) carry it, so two installations never collide.
pub const INSTALLATION_KEY: &[u8] = b"installation";

pub fn timeline_prefix(id: &IncidentId) -> Vec<u8> {
    let mut k = id.as_str().as_bytes().to_vec();
    k.push(b'/');
    k
}

pub fn timeline_key(id: &IncidentId, seq: u64) -> Vec<u8> {
    let mut k = timeline_prefix(id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub fn day_counter_key(day: &str) -> Vec<u8> {
    format!("counter/{day}").into_bytes()
}

pub fn evidence_key(id: &IncidentId, seq: u64) -> Vec<u8> {
    timeline_key(id, seq)
}
