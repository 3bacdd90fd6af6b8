//! Rewrite a stored record without repairing the chain.
//!
//! Anyone with write access to the data folder can do this; the function exists so tests and
//! drills can show that `ledger verify` catches it. It refuses to run while the ledger is open
//! elsewhere (sled's lock).

use std::path::Path;

use warroom_commands::IncidentId;

use crate::chain::Entry;
use crate::error::LedgerError;
use crate::keys;
use crate::store::decode;

/// Apply `change` to entry `seq` of `incident` in the ledger at `dir`, storing the result
/// as-is (hashes untouched). The ledger must have been closed cleanly (its journal empty),
/// or a replay on the next open would restore the original.
pub fn rewrite_entry(
    dir: &Path,
    incident: &IncidentId,
    seq: u64,
    change: impl FnOnce(&mut Entry),
) -> Result<(), LedgerError> {
    let storage = |e: sled::Error| LedgerError::Storage {
        dir: dir.to_path_buf(),
        message: e.to_string(),
    };
    let db = sled::open(dir.join("sled")).map_err(storage)?;
    let timeline = db.open_tree(keys::TIMELINE).map_err(storage)?;
    let key = keys::timeline_key(incident, seq);
    let bytes = timeline
        .get(&key)
        .map_err(storage)?
        .ok_or_else(|| LedgerError::NoSuchIncident(incident.clone()))?;
    let mut entry: Entry = decode("entry", &bytes)?;
    change(&mut entry);
    let bytes = serde_json::to_vec(&entry).map_err(|e| LedgerError::Corrupt {
        what: "entry".into(),
        reason: e.to_string(),
    })?;
    timeline.insert(key, bytes).map_err(storage)?;
    db.flush().map_err(storage)?;
    Ok(())
}
