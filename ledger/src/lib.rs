//! warroom's evidence log and decision timeline, stored in sled.
//!
//! Each incident's timeline is a SHA-256 hash chain over RFC 8785 canonical JSON (see
//! [`chain`]); writes are durable before they are acknowledged (see [`committer`]); `verify`
//! recomputes every chain and exports carry the hashes for offline checks.

mod applier;
pub mod canonical;
pub mod chain;
pub mod committer;
mod error;
pub mod export;
mod journal;
mod keys;
mod published;
mod records;
pub mod replay;
pub mod replica;
pub mod salvage;
pub mod segment;
pub mod stats;
mod store;
pub mod tamper;
mod verify;

pub use chain::{Break, ChainError, Entry, GENESIS};
pub use committer::{AlertIncident, Committed, Outcome, Pending};
pub use error::LedgerError;
pub use export::{Export, ExportCheck, ExportError, to_markdown, verify_export};
pub use records::{EvidenceRecord, NewEvidence};
pub use stats::LedgerStats;
pub use store::Ledger;
pub use verify::{ChainHead, DigestArtifact, EvidenceProblem, VerifyReport};

#[cfg(test)]
mod ledger_tests;

/// The text of a caught panic, for reporting damage that made a library panic.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
