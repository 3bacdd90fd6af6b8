//! Incident records as the last durable write left them.
//!
//! Why: a record carries every request of its incident, so journalling and storing it on
//! each write would make every write cost as much as the incident is big. The journal holds
//! the entry alone; the record each write produces is published here once the write is
//! durable (readers see nothing earlier), and reaches sled at the next checkpoint. After a
//! crash, replaying the journal's entries onto the records sled holds rebuilds the same
//! records (the record is a projection of its timeline; `ledger verify` checks that).
//! Records stay here after a checkpoint (clean) until many incidents crowd them out, so a
//! busy incident is never decoded from sled on each read.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use warroom_commands::{Incident, IncidentId};

/// Records kept beyond those awaiting a checkpoint, as a read cache.
const CACHED: usize = 4096;

#[derive(Default)]
pub(crate) struct Published {
    map: RwLock<HashMap<IncidentId, Slot>>,
}

struct Slot {
    record: Arc<Incident>,
    /// Newer than the record in sled: written at the next checkpoint.
    dirty: bool,
}

impl Published {
    pub fn get(&self, id: &IncidentId) -> Option<Arc<Incident>> {
        self.read().get(id).map(|s| s.record.clone())
    }

    /// A record a durable write produced.
    pub fn publish(&self, record: Incident) {
        let id = record.id.clone();
        let mut map = self.write();
        if map.len() > CACHED {
            map.retain(|_, s| s.dirty);
        }
        map.insert(
            id,
            Slot {
                record: Arc::new(record),
                dirty: true,
            },
        );
    }

    /// Forget a record (raw writes replaced it in sled).
    pub fn forget(&self, id: &IncidentId) {
        self.write().remove(id);
    }

    /// Records newer than sled's.
    pub fn dirty(&self) -> Vec<Arc<Incident>> {
        self.read()
            .values()
            .filter(|s| s.dirty)
            .map(|s| s.record.clone())
            .collect()
    }

    /// After a checkpoint wrote them: these records are now sled's too.
    pub fn mark_clean(&self, written: &[Arc<Incident>]) {
        let mut map = self.write();
        for r in written {
            if let Some(slot) = map.get_mut(&r.id)
                && Arc::ptr_eq(&slot.record, r)
            {
                slot.dirty = false;
            }
        }
    }

    /// Every record held here.
    pub fn all(&self) -> Vec<Arc<Incident>> {
        self.read().values().map(|s| s.record.clone()).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<IncidentId, Slot>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<IncidentId, Slot>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }
}
