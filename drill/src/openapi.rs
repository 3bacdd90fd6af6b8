//! A minimal OpenAPI v3 for kubectl: the index at `/openapi/v3` and one document per
//! group/version listing each served type's paths, their `x-kubernetes-group-version-kind`,
//! and the query parameters the drill takes on writes (`dryRun`, `fieldManager`,
//! `fieldValidation`).
//!
//! kubectl reads these to learn that the server validates fields itself
//! (`fieldValidation`), and then sends manifests to it instead of validating them against
//! schemas on the client. There are no schemas here: kubectl then computes apply patches from
//! its built-in types, as it does for any type missing from a server's OpenAPI.

use serde_json::{Map, Value, json};

use crate::catalog::{RESOURCES, ResourceType};
use crate::status::ApiError;

/// Changes when the documents change; kubectl caches by it.
const HASH: &str = "drill-1";

fn key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group/version's document is.
pub fn index() -> Value {
    let mut paths = Map::new();
    for rt in RESOURCES {
        let k = key(rt.group, rt.version);
        paths.insert(
            k.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{k}?hash={HASH}") }),
        );
    }
    json!({ "paths": paths })
}

fn write_params() -> Value {
    json!([
        { "name": "dryRun", "in": "query", "schema": { "type": "string" }, "uniqueItems": true },
        { "name": "fieldManager", "in": "query", "schema": { "type": "string" }, "uniqueItems": true },
        { "name": "fieldValidation", "in": "query", "schema": { "type": "string" }, "uniqueItems": true },
    ])
}

fn operation(rt: &ResourceType, verb: &str) -> Value {
    let writes = matches!(verb, "post" | "put" | "patch");
    json!({
        "operationId": format!("{verb}{}", rt.kind),
        "parameters": if writes { write_params() } else { json!([]) },
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": { "group": rt.group, "version": rt.version, "kind": rt.kind },
        "responses": { "200": { "description": "OK" } },
    })
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION`.
pub fn document(path: &str) -> Result<Value, ApiError> {
    let wanted = path.trim_start_matches('/');
    let types: Vec<&ResourceType> = RESOURCES
        .iter()
        .filter(|rt| key(rt.group, rt.version) == wanted)
        .collect();
    if types.is_empty() {
        return Err(ApiError::no_route());
    }
    let mut paths = Map::new();
    for rt in types {
        let base = if rt.namespaced {
            format!("/{wanted}/namespaces/{{namespace}}/{}", rt.plural)
        } else {
            format!("/{wanted}/{}", rt.plural)
        };
        let mut collection = json!({ "post": operation(rt, "post") });
        if rt.stored {
            collection["get"] = operation(rt, "list");
            paths.insert(
                format!("{base}/{{name}}"),
                json!({
                    "get": operation(rt, "get"),
                    "put": operation(rt, "put"),
                    "patch": operation(rt, "patch"),
                    "delete": operation(rt, "delete"),
                }),
            );
        }
        paths.insert(base, collection);
    }
    Ok(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": crate::discovery::GIT_VERSION },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_type_has_a_patch_path_with_field_validation() {
        let index = index();
        for rt in RESOURCES.iter().filter(|rt| rt.stored) {
            let k = key(rt.group, rt.version);
            assert!(index["paths"][&k]["serverRelativeURL"].is_string(), "{k}");
            let doc = document(&k).unwrap();
            let found = doc["paths"].as_object().unwrap().values().any(|p| {
                p["patch"]["x-kubernetes-group-version-kind"]["kind"] == rt.kind
                    && p["patch"]["parameters"]
                        .to_string()
                        .contains("fieldValidation")
            });
            assert!(found, "{}", rt.kind);
        }
        assert!(document("apis/nope/v1").is_err());
    }
}
