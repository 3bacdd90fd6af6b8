//! The four PATCH content types kube-apiserver accepts, applied to JSON objects.

use serde_json::Value;

use crate::status::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(Self::Apply),
            _ => Err(ApiError::unsupported_media_type(content_type)),
        }
    }
}

/// Lists that strategic merge combines element by element, keyed by `name`.
const MERGE_BY_NAME: &[&str] = &[
    "containers",
    "initContainers",
    "ephemeralContainers",
    "volumes",
    "env",
    "imagePullSecrets",
];

/// Parses a patch body: JSON, or YAML for server-side apply.
pub fn parse_body(kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(json_err) if kind == PatchKind::Apply => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("apply patch body is not UTF-8"))?;
            let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
                ApiError::bad_request(format!("error decoding YAML: {e} (as JSON: {json_err})"))
            })?;
            serde_json::to_value(yaml)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
        }
        Err(e) => Err(ApiError::bad_request(format!("error decoding patch: {e}"))),
    }
}

/// Applies a patch to a copy of `doc`.
pub fn apply(kind: PatchKind, doc: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let patch = parse_body(kind, body)?;
    let mut out = doc.clone();
    match kind {
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch).map_err(|e| {
                ApiError::bad_request(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
            json_patch::patch(&mut out, &ops).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
        }
        PatchKind::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(&mut out, &patch);
        }
        PatchKind::Strategic | PatchKind::Apply => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            }
            strategic_merge(&mut out, &patch);
        }
    }
    Ok(out)
}

/// RFC 7386 merge, except that the lists in [`MERGE_BY_NAME`] merge element-wise by name and
/// `$`-directives other than `$patch: delete` are ignored.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (key, value) in patch_map {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        match (value, target_map.get_mut(key)) {
            (Value::Array(items), Some(Value::Array(existing)))
                if MERGE_BY_NAME.contains(&key.as_str()) =>
            {
                merge_named(existing, items);
            }
            (Value::Array(items), _) => {
                let kept: Vec<Value> = items
                    .iter()
                    .filter(|i| !is_delete_directive(i))
                    .cloned()
                    .collect();
                target_map.insert(key.clone(), Value::Array(kept));
            }
            (Value::Object(_), Some(existing)) => strategic_merge(existing, value),
            (Value::Object(_), None) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, value);
                target_map.insert(key.clone(), fresh);
            }
            _ => {
                target_map.insert(key.clone(), value.clone());
            }
        }
    }
}

fn is_delete_directive(item: &Value) -> bool {
    item.get("$patch").and_then(Value::as_str) == Some("delete")
}

fn merge_named(existing: &mut Vec<Value>, items: &[Value]) {
    for item in items {
        let name = item.get("name").and_then(Value::as_str);
        let position = name.and_then(|n| {
            existing
                .iter()
                .position(|e| e.get("name").and_then(Value::as_str) == Some(n))
        });
        match (position, is_delete_directive(item)) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut existing[i], item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item);
                existing.push(fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "labels": {"app": "api", "tier": "be"}},
               "spec": {"containers": [{"name": "api", "image": "a:1"}, {"name": "side", "image": "s:1"}]}})
    }

    #[test]
    fn merge_patch_removes_nulls_and_replaces_lists() {
        let out = apply(
            PatchKind::Merge,
            &pod(),
            br#"{"metadata":{"labels":{"app":null,"q":"1"}},"spec":{"containers":[{"name":"x"}]}}"#,
        )
        .expect("merge");
        assert_eq!(out["metadata"]["labels"], json!({"tier": "be", "q": "1"}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "x"}]));
    }

    #[test]
    fn strategic_patch_merges_containers_by_name() {
        let out = apply(
            PatchKind::Strategic,
            &pod(),
            br#"{"spec":{"containers":[{"name":"api","image":"a:2"},{"name":"new","image":"n:1"}]}}"#,
        )
        .expect("strategic");
        let images: Vec<&str> = out["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["image"].as_str())
            .collect();
        assert_eq!(images, ["a:2", "s:1", "n:1"]);
        let deleted = apply(
            PatchKind::Strategic,
            &pod(),
            br#"{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}"#,
        )
        .expect("delete directive");
        assert_eq!(
            deleted["spec"]["containers"].as_array().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn json_patch_test_failure_is_invalid() {
        let err = apply(
            PatchKind::Json,
            &pod(),
            br#"[{"op":"test","path":"/metadata/name","value":"other"}]"#,
        )
        .expect_err("test op fails");
        assert_eq!(err.code, 422);
        let err = apply(PatchKind::Json, &pod(), br#"{"op":"add"}"#).expect_err("not a list");
        assert_eq!(err.code, 400);
    }

    #[test]
    fn apply_accepts_yaml() {
        let out = apply(
            PatchKind::Apply,
            &pod(),
            b"metadata:\n  labels:\n    q: \"1\"\n",
        )
        .expect("yaml");
        assert_eq!(out["metadata"]["labels"]["q"], "1");
        assert_eq!(
            apply(PatchKind::Apply, &pod(), b"{:")
                .expect_err("bad")
                .code,
            400
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            PatchKind::from_content_type("application/merge-patch+json; charset=utf-8"),
            Ok(PatchKind::Merge)
        );
        assert_eq!(
            PatchKind::from_content_type("text/plain")
                .expect_err("415")
                .code,
            415
        );
    }
}
