//! The object store: every object as JSON, one global resourceVersion, and a change log for watches.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::catalog::ResourceType;
use crate::ids::Ids;
use crate::meta;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    group: &'static str,
    plural: &'static str,
    namespace: String,
    name: String,
}

impl Key {
    fn new(rt: &'static ResourceType, namespace: &str, name: &str) -> Self {
        Self {
            group: rt.group,
            plural: rt.plural,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    obj: Value,
    /// Creation order, so controllers can remove the newest pods first.
    seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One write, as watches report it.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub group: &'static str,
    pub plural: &'static str,
    pub namespace: String,
    pub kind: ChangeType,
    pub object: Value,
}

/// How many past changes a watch can resume from before it gets 410 Gone.
const LOG_LEN: usize = 2048;

#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<Key, Entry>,
    rv: u64,
    seq: u64,
    pub ids: Ids,
    /// Nodes that deleted or evicted pods ran on, by owner uid, so replacements land there too.
    pub node_hints: HashMap<String, Vec<String>>,
    log: VecDeque<Arc<Change>>,
    changes: broadcast::Sender<Arc<Change>>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            objects: BTreeMap::new(),
            rv: 0,
            seq: 0,
            ids: Ids::default(),
            node_hints: HashMap::new(),
            log: VecDeque::new(),
            changes,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, rt: &'static ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&Key::new(rt, namespace, name))
            .map(|e| &e.obj)
    }

    pub fn contains(&self, rt: &'static ResourceType, namespace: &str, name: &str) -> bool {
        self.objects.contains_key(&Key::new(rt, namespace, name))
    }

    fn selected(key: &Key, rt: &ResourceType, namespace: Option<&str>) -> bool {
        key.group == rt.group
            && key.plural == rt.plural
            && namespace.is_none_or(|ns| key.namespace == ns)
    }

    /// Objects of a type in key order (namespace, then name); `None` means every namespace.
    pub fn list(&self, rt: &'static ResourceType, namespace: Option<&str>) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|(k, _)| Self::selected(k, rt, namespace))
            .map(|(_, e)| &e.obj)
            .collect()
    }

    /// Like [`Store::list`], paired with creation order.
    pub fn list_with_seq(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
    ) -> Vec<(u64, &Value)> {
        self.objects
            .iter()
            .filter(|(k, _)| Self::selected(k, rt, namespace))
            .map(|(_, e)| (e.seq, &e.obj))
            .collect()
    }

    /// Every namespaced object in `namespace`, of any type.
    pub fn in_namespace(&self, namespace: &str) -> Vec<(&'static str, &'static str, String)> {
        self.objects
            .keys()
            .filter(|k| k.namespace == namespace)
            .map(|k| (k.group, k.plural, k.name.clone()))
            .collect()
    }

    /// Every object whose ownerReferences name `uid`.
    pub fn dependents(&self, uid: &str) -> Vec<(&'static str, &'static str, String, String)> {
        self.objects
            .iter()
            .filter(|(_, e)| {
                e.obj
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter()
                            .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                    })
            })
            .map(|(k, _)| (k.group, k.plural, k.namespace.clone(), k.name.clone()))
            .collect()
    }

    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn record(&mut self, rt: &'static ResourceType, kind: ChangeType, object: &Value, rv: u64) {
        let change = Arc::new(Change {
            rv,
            group: rt.group,
            plural: rt.plural,
            namespace: meta::namespace(object).to_string(),
            kind,
            object: object.clone(),
        });
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(change.clone());
        // Nobody watching is the common case, not an error.
        let _ = self.changes.send(change);
    }

    /// Stores a new object with the next resourceVersion; the caller has set everything else.
    pub fn insert(&mut self, rt: &'static ResourceType, mut obj: Value) -> Value {
        let rv = self.bump();
        self.seq += 1;
        meta::set(&mut obj, "apiVersion", json!(rt.api_version()));
        meta::set(&mut obj, "kind", json!(rt.kind));
        meta::set_meta(&mut obj, "resourceVersion", json!(rv.to_string()));
        let key = Key::new(rt, meta::namespace(&obj), meta::name(&obj));
        self.record(rt, ChangeType::Added, &obj, rv);
        self.objects.insert(
            key,
            Entry {
                obj: obj.clone(),
                seq: self.seq,
            },
        );
        obj
    }

    /// Replaces a stored object, bumping its resourceVersion; inserts it when absent.
    pub fn update(&mut self, rt: &'static ResourceType, mut obj: Value) -> Value {
        let key = Key::new(rt, meta::namespace(&obj), meta::name(&obj));
        let Some(seq) = self.objects.get(&key).map(|e| e.seq) else {
            return self.insert(rt, obj);
        };
        let rv = self.bump();
        meta::set(&mut obj, "apiVersion", json!(rt.api_version()));
        meta::set(&mut obj, "kind", json!(rt.kind));
        meta::set_meta(&mut obj, "resourceVersion", json!(rv.to_string()));
        self.record(rt, ChangeType::Modified, &obj, rv);
        self.objects.insert(
            key,
            Entry {
                obj: obj.clone(),
                seq,
            },
        );
        obj
    }

    pub fn remove(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let mut obj = self.objects.remove(&Key::new(rt, namespace, name))?.obj;
        let rv = self.bump();
        meta::set_meta(&mut obj, "resourceVersion", json!(rv.to_string()));
        self.record(rt, ChangeType::Deleted, &obj, rv);
        Some(obj)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Changes after `rv`, or `None` when the log no longer reaches back that far.
    pub fn changes_since(&self, rv: u64) -> Option<Vec<Arc<Change>>> {
        if let Some(first) = self.log.front()
            && first.rv > rv + 1
            && self.log.len() == LOG_LEN
        {
            return None;
        }
        Some(self.log.iter().filter(|c| c.rv > rv).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn writes_bump_the_resource_version_and_log_changes() {
        let mut store = Store::new();
        let pods = catalog::pods();
        let a = store.insert(pods, json!({"metadata": {"name": "a", "namespace": "n"}}));
        assert_eq!(meta::resource_version(&a), "1");
        assert_eq!(a["kind"], "Pod");
        let b = store.update(pods, a.clone());
        assert_eq!(meta::resource_version(&b), "2");
        assert!(store.remove(pods, "n", "a").is_some());
        assert!(store.remove(pods, "n", "a").is_none());
        let changes = store.changes_since(0).unwrap_or_default();
        let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ChangeType::Added, ChangeType::Modified, ChangeType::Deleted]
        );
        assert_eq!(store.resource_version(), 3);
    }
}
