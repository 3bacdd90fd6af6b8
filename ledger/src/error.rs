use std::path::PathBuf;

use warroom_commands::IncidentId;

use crate::canonical::CanonicalError;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "the ledger at {dir} is in use by another warroom process (sled holds an exclusive lock); stop that process or pass another --data DIR"
    )]
    Locked { dir: PathBuf },
    #[error("cannot use ledger folder {dir}: {source}")]
    Folder {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("ledger storage error in {dir}: {message}")]
    Storage { dir: PathBuf, message: String },
    #[error("{dir} holds ledger format `{found}`, this warroom reads `{expected}`")]
    Format {
        dir: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error(
        "the ledger is damaged: {file}{}: {what}. Nothing was changed; `warroom ledger salvage --to NEW_DIR` copies every entry that still verifies and lists what was lost",
        offset.map(|o| format!(" at offset {o}")).unwrap_or_default()
    )]
    Damaged {
        file: PathBuf,
        offset: Option<u64>,
        what: String,
    },
    #[error(
        "{dir} is not a warroom ledger (no journal, no sled folder); check --data or the plan's storage.data_dir"
    )]
    NotALedger { dir: PathBuf },
    #[error("no incident {0} in this ledger (warroom incident list shows the ids)")]
    NoSuchIncident(IncidentId),
    #[error("stored record is unreadable ({what}): {reason}")]
    Corrupt { what: String, reason: String },
    #[error("{0}")]
    Canonical(#[from] CanonicalError),
    #[error(
        "the ledger could not make writes durable ({0}); it refuses further writes until restarted, and nothing after the last acknowledged write is promised"
    )]
    Durability(String),
    #[error(
        "entry is {bytes} bytes, over the {limit}-byte limit: store large content as evidence and record its digest"
    )]
    TooLarge { bytes: usize, limit: usize },
    /// The write would break a rule of the incident's state (e.g. a second approval of an
    /// already approved request); nothing was written.
    #[error("{0}")]
    Refused(#[from] warroom_commands::Refusal),
    #[error("the ledger has shut down")]
    Closed,
    /// The plan asks that writes reach the off-box copy, and it cannot take them now.
    #[error("not recorded: {0}; writes resume when the bucket takes them again")]
    Held(String),
    /// The off-box copy is not a whole chain; nothing was restored.
    #[error("{0}")]
    Segments(#[from] crate::segment::SegmentError),
}
