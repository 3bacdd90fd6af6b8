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
    map: RwLock<Slots>,
}

#[derive(Default)]
struct Slots {
    slots: HashMap<IncidentId, Slot>,
    /// How many slots are dirty: with none clean there is nothing to evict, and looking
    /// through every slot on each write would make a journal of thousands of incidents
    /// (an alert storm, or its replay at start) cost the square of their number.
    dirty: usize,
    /// How many times a publish looked through every slot to evict: once per checkpoint at
    /// most, which the tests hold it to.
    scans: usize,
}

struct Slot {
    record: Arc<Incident>,
    /// Newer than the record in sled: written at the next checkpoint.
    dirty: bool,
}

impl Published {
    pub fn get(&self, id: &IncidentId) -> Option<Arc<Incident>> {
        self.read().slots.get(id).map(|s| s.record.clone())
    }

    /// A record a durable write produced.
    pub fn publish(&self, record: Incident) {
        let id = record.id.clone();
        let mut map = self.write();
        if map.slots.len() > CACHED && map.slots.len() > map.dirty {
            map.slots.retain(|_, s| s.dirty);
            map.scans += 1;
        }
        let slot = Slot {
            record: Arc::new(record),
            dirty: true,
        };
        if !map.slots.insert(id, slot).is_some_and(|old| old.dirty) {
            map.dirty += 1;
        }
    }

    /// Forget a record (raw writes replaced it in sled).
    pub fn forget(&self, id: &IncidentId) {
        let mut map = self.write();
        if map.slots.remove(id).is_some_and(|old| old.dirty) {
            map.dirty -= 1;
        }
    }

    /// Records newer than sled's.
    pub fn dirty(&self) -> Vec<Arc<Incident>> {
        self.read()
            .slots
            .values()
            .filter(|s| s.dirty)
            .map(|s| s.record.clone())
            .collect()
    }

    /// After a checkpoint wrote them: these records are now sled's too.
    pub fn mark_clean(&self, written: &[Arc<Incident>]) {
        let mut map = self.write();
        let mut cleaned = 0;
        for r in written {
            if let Some(slot) = map.slots.get_mut(&r.id)
                && slot.dirty
                && Arc::ptr_eq(&slot.record, r)
            {
                slot.dirty = false;
                cleaned += 1;
            }
        }
        map.dirty -= cleaned;
    }

    /// Every record held here.
    pub fn all(&self) -> Vec<Arc<Incident>> {
        self.read()
            .slots
            .values()
            .map(|s| s.record.clone())
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Slots> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Slots> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};
    use warroom_commands::{Actor, Severity};

    fn record(n: u32) -> Incident {
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        Incident::opened(
            IncidentId::new(day, n),
            format!("incident {n}"),
            Severity::Sev2,
            Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap(),
            Actor::System,
        )
    }

    #[test]
    fn records_awaiting_a_checkpoint_are_never_evicted_however_many() {
        let p = Published::default();
        let n = CACHED as u32 * 2 + 10;
        for i in 1..=n {
            p.publish(record(i));
        }
        assert_eq!(p.dirty().len(), n as usize);
        assert_eq!(p.read().dirty, n as usize);
        // Written again before a checkpoint: still one dirty slot each.
        p.publish(record(1));
        assert_eq!(p.read().dirty, n as usize);
        assert_eq!(p.read().scans, 0, "publishing looked through the slots");
        for i in 1..=n {
            assert!(p.get(&record(i).id).is_some(), "{i} was evicted");
        }
    }

    #[test]
    fn a_checkpoint_lets_clean_records_be_evicted_and_keeps_newer_ones() {
        let p = Published::default();
        let n = CACHED as u32 + 100;
        for i in 1..=n {
            p.publish(record(i));
        }
        // A write lands between the checkpoint's read of the dirty records and its end: the
        // newer record stays dirty.
        let written = p.dirty();
        p.publish(record(7));
        p.mark_clean(&written);
        assert_eq!(p.read().dirty, 1);
        p.forget(&record(7).id);
        assert_eq!(p.read().dirty, 0);
        p.publish(record(n + 1));
        let map = p.read();
        assert_eq!(
            (map.slots.len(), map.dirty),
            (1, 1),
            "clean records evicted"
        );
        drop(map);
        assert!(p.get(&record(n + 1).id).is_some());
    }

    #[test]
    fn eviction_looks_through_the_slots_once_per_checkpoint_not_once_per_write() {
        let p = Published::default();
        let mut n = 0;
        for checkpoint in 1..=3 {
            for _ in 0..CACHED * 2 {
                n += 1;
                p.publish(record(n));
            }
            // The first publish after a checkpoint evicts what it cleaned; the thousands
            // after it find nothing clean and must not look again.
            assert_eq!(
                p.read().scans,
                checkpoint - 1,
                "before checkpoint {checkpoint}"
            );
            let written = p.dirty();
            p.mark_clean(&written);
        }
        n += 1;
        p.publish(record(n));
        assert_eq!(p.read().scans, 3);
        assert_eq!(p.read().slots.len(), 1);
    }
}
