//! Alertmanager's fingerprint of a label set, computed as Prometheus does (FNV-1a 64 over
//! the labels sorted by name, each `name 0xff value 0xff`), for payloads that omit it.

use std::collections::BTreeMap;

const OFFSET: u64 = 14695981039346656037;
const PRIME: u64 = 1099511628211;
const SEPARATOR: u8 = 0xff;

fn add(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// 16 lowercase hex digits, as Alertmanager's `fingerprint` field.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h = OFFSET;
    for (name, value) in labels {
        h = add(h, name.as_bytes());
        h = add(h, &[SEPARATOR]);
        h = add(h, value.as_bytes());
        h = add(h, &[SEPARATOR]);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_label_set_is_the_fnv_offset() {
        assert_eq!(label_fingerprint(&BTreeMap::new()), "cbf29ce484222325");
    }

    #[test]
    fn order_of_insertion_does_not_matter_and_values_do() {
        let a: BTreeMap<String, String> = [("b", "2"), ("a", "1")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let b: BTreeMap<String, String> = [("a", "1"), ("b", "2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(label_fingerprint(&a), label_fingerprint(&b));
        let mut c = b.clone();
        c.insert("b".into(), "3".into());
        assert_ne!(label_fingerprint(&a), label_fingerprint(&c));
    }
}
