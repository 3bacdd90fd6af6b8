//! The one protobuf body kubectl sends the drill: `kubectl auth can-i` posts its
//! SelfSubjectAccessReview as `application/vnd.kubernetes.protobuf`. Decoded here to the JSON
//! the review code reads; the answer goes back as JSON, which kubectl accepts.
//!
//! Wire format: the magic `k8s\0`, then a `runtime.Unknown` (1: typeMeta, 2: raw) whose raw
//! bytes are the SelfSubjectAccessReview (2: spec → 1: resourceAttributes {1 namespace,
//! 2 verb, 3 group, 4 version, 5 resource, 6 subresource, 7 name}, 2: nonResourceAttributes
//! {1 path, 2 verb}). Anything else is refused as malformed, never guessed.

use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

/// The length-delimited fields of one message: (field number, bytes). Varint fields are
/// skipped; other wire types are refused.
fn fields(mut b: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        match key & 7 {
            0 => {
                varint(&mut b)?;
            }
            2 => {
                let len = usize::try_from(varint(&mut b)?).ok()?;
                if len > b.len() {
                    return None;
                }
                let (field, rest) = b.split_at(len);
                out.push((key >> 3, field));
                b = rest;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn strings(b: &[u8], names: &[(u64, &str)]) -> Option<Map<String, Value>> {
    let mut m = Map::new();
    for (n, bytes) in fields(b)? {
        if let Some((_, name)) = names.iter().find(|(k, _)| *k == n) {
            m.insert((*name).into(), json!(std::str::from_utf8(bytes).ok()?));
        }
    }
    Some(m)
}

/// The review as the JSON the API server would have received, or `None` when malformed.
pub fn self_subject_access_review(body: &[u8]) -> Option<Value> {
    let unknown = body.strip_prefix(MAGIC)?;
    let raw = fields(unknown)?.into_iter().find(|(n, _)| *n == 2)?.1;
    let spec_bytes = fields(raw)?.into_iter().find(|(n, _)| *n == 2)?.1;
    let mut spec = Map::new();
    for (n, bytes) in fields(spec_bytes)? {
        match n {
            1 => {
                let attrs = strings(
                    bytes,
                    &[
                        (1, "namespace"),
                        (2, "verb"),
                        (3, "group"),
                        (4, "version"),
                        (5, "resource"),
                        (6, "subresource"),
                        (7, "name"),
                    ],
                )?;
                spec.insert("resourceAttributes".into(), Value::Object(attrs));
            }
            2 => {
                let attrs = strings(bytes, &[(1, "path"), (2, "verb")])?;
                spec.insert("nonResourceAttributes".into(), Value::Object(attrs));
            }
            _ => {}
        }
    }
    Some(json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u8, bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![(n << 3) | 2, u8::try_from(bytes.len()).unwrap()];
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn kubectls_can_i_body_decodes_and_garbage_does_not() {
        let attrs = [
            field(1, b"payments"),
            field(2, b"delete"),
            field(5, b"pods"),
        ]
        .concat();
        let spec = field(1, &attrs);
        let review = [field(1, b""), field(2, &spec)].concat();
        let type_meta = [
            field(1, b"authorization.k8s.io/v1"),
            field(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &review)].concat();
        let v = self_subject_access_review(&body).unwrap();
        assert_eq!(v["spec"]["resourceAttributes"]["verb"], "delete");
        assert_eq!(v["spec"]["resourceAttributes"]["resource"], "pods");
        assert_eq!(v["spec"]["resourceAttributes"]["namespace"], "payments");
        assert!(self_subject_access_review(b"k8s\0\x0a\xff").is_none());
        assert!(self_subject_access_review(b"{}").is_none());
        for n in 0..=255u8 {
            let _ = self_subject_access_review(&[MAGIC, &[n, n, n]].concat());
        }
    }
}
