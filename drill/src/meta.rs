//! Read and write the metadata fields of objects kept as JSON.

use serde_json::{Map, Value, json};

pub fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn namespace(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn uid(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn resource_version(obj: &Value) -> &str {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    obj.pointer("/metadata/labels").and_then(Value::as_object)
}

pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

pub fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// `v` as a JSON object, replacing whatever else it held.
pub fn object_mut(v: &mut Value) -> Option<&mut Map<String, Value>> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
}

/// The object's `metadata`, created when absent or not an object.
pub fn metadata_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    object_mut(object_mut(obj)?.entry("metadata").or_insert(Value::Null))
}

pub fn set_meta(obj: &mut Value, key: &str, value: Value) {
    if let Some(meta) = metadata_mut(obj) {
        meta.insert(key.to_string(), value);
    }
}

/// Sets `obj[key]`, turning `obj` into an object first if it is not one.
pub fn set(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = object_mut(obj) {
        map.insert(key.to_string(), value);
    }
}

/// Sets the value at a path of keys, creating (or replacing non-object) parents on the way.
pub fn set_path(obj: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        *obj = value;
        return;
    };
    let mut current = obj;
    for key in parents {
        let Some(map) = object_mut(current) else {
            return;
        };
        current = map.entry(key.to_string()).or_insert(Value::Null);
    }
    if let Some(map) = object_mut(current) {
        map.insert(last.to_string(), value);
    }
}

/// The ownerReference marked `controller: true`, if any.
pub fn controller_ref(obj: &Value) -> Option<&Value> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

pub fn controller_uid(obj: &Value) -> &str {
    controller_ref(obj)
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn owner_ref(api_version: &str, kind: &str, name: &str, uid: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

pub fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// Running with the Ready condition True: what PDBs and controllers count as healthy.
pub fn pod_ready(pod: &Value) -> bool {
    str_at(pod, "/status/phase") == "Running"
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|conds| {
                conds.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
}

/// Not finished and not being deleted: what ReplicaSets count.
pub fn pod_active(pod: &Value) -> bool {
    !matches!(str_at(pod, "/status/phase"), "Succeeded" | "Failed")
        && pod.pointer("/metadata/deletionTimestamp").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_mut_repairs_non_objects() {
        let mut obj = json!({"metadata": 3});
        set_meta(&mut obj, "name", json!("x"));
        assert_eq!(name(&obj), "x");
    }

    #[test]
    fn readiness_needs_running_and_ready() {
        let pod = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(pod_ready(&pod));
        let pending = json!({"status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(!pod_ready(&pending));
    }
}
