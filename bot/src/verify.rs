//! The whole of `ledger verify`, shared by the CLI and the server's `/api/v1/ledger/verify`:
//! every chain, every record against its timeline, and the evidence bytes.

use serde::{Deserialize, Serialize};
use warroom_adapters::evidence::EvidenceStore;
use warroom_ledger::{ChainHead, EvidenceProblem, Ledger, LedgerError};

/// What `ledger verify` found, as printed with `--json` and served by the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub intact: bool,
    /// This installation's id (keys sent to PagerDuty, mail and webhooks carry it).
    #[serde(default)]
    pub installation: String,
    pub incidents: u64,
    pub entries: u64,
    /// The first entry that does not verify.
    pub failure: Option<Failure>,
    /// Each verified incident's entry count and chain head.
    #[serde(default)]
    pub heads: Vec<ChainHead>,
    /// Artifacts re-hashed; `None` when the check was skipped.
    pub evidence_checked: Option<u64>,
    #[serde(default)]
    pub evidence_problems: Vec<EvidenceProblem>,
    /// Damage that a second copy made good (nothing lost), to know about.
    #[serde(default)]
    pub repaired: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub incident: String,
    pub seq: u64,
    pub reason: String,
}

/// Verify `ledger`; with `evidence`, re-hash every artifact through that store, calling
/// `progress` with (bytes done, bytes in all).
pub fn run(
    ledger: &Ledger,
    evidence: Option<&dyn EvidenceStore>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, LedgerError> {
    let chain = ledger.verify()?;
    let (checked, problems) = match evidence {
        Some(store) => {
            let digest = |location: &str, read: &mut dyn FnMut(u64)| store.digest(location, read);
            let (n, p) = ledger.check_evidence(&digest, progress)?;
            (Some(n), p)
        }
        None => (None, Vec::new()),
    };
    Ok(Report {
        intact: chain.failure.is_none() && problems.is_empty(),
        installation: ledger.installation().to_owned(),
        incidents: chain.incidents,
        entries: chain.entries,
        failure: chain.failure.map(|f| Failure {
            incident: f.incident,
            seq: f.seq,
            reason: f.reason.to_string(),
        }),
        heads: chain.heads,
        evidence_checked: checked,
        evidence_problems: problems,
        repaired: ledger.repaired().to_vec(),
    })
}
