//! `/version`, `/api`, `/apis` and the per-version resource lists, built from the catalog.

use serde_json::{Value, json};

use crate::catalog::{self, RESOURCES};
use crate::status::ApiError;

pub const GIT_VERSION: &str = "v1.34.0-drill";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "emulationMajor": "1",
        "emulationMinor": "34",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "33",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-11-01T00:00:00Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

fn group_json(group: &str, version: &str) -> Value {
    let gv = json!({ "groupVersion": format!("{group}/{version}"), "version": version });
    json!({ "name": group, "versions": [gv.clone()], "preferredVersion": gv })
}

pub fn groups() -> Value {
    let groups: Vec<Value> = catalog::groups()
        .into_iter()
        .map(|(g, v)| group_json(g, v))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

pub fn group(name: &str) -> Result<Value, ApiError> {
    let (g, v) = catalog::groups()
        .into_iter()
        .find(|(g, _)| *g == name)
        .ok_or_else(ApiError::no_route)?;
    let mut out = group_json(g, v);
    out["kind"] = json!("APIGroup");
    out["apiVersion"] = json!("v1");
    Ok(out)
}

pub fn resources(group: &str, version: &str) -> Result<Value, ApiError> {
    let mut list = Vec::new();
    for rt in RESOURCES
        .iter()
        .filter(|rt| rt.group == group && rt.version == version)
    {
        let mut entry = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": rt.verbs(),
            "shortNames": rt.short_names,
        });
        // `kubectl get all` expands the "all" category, as the API server defines it.
        if matches!(
            rt.kind,
            "Pod" | "Service" | "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
        ) {
            entry["categories"] = json!(["all"]);
        }
        list.push(entry);
        for sub in rt.subresources {
            let (kind, verbs, group_version): (&str, &[&str], Option<(&str, &str)>) = match *sub {
                "scale" => (
                    "Scale",
                    &["get", "patch", "update"],
                    Some(("autoscaling", "v1")),
                ),
                "log" => ("Pod", &["get"], None),
                "eviction" => ("Eviction", &["create"], Some(("policy", "v1"))),
                "proxy" => (
                    "NodeProxyOptions",
                    &["create", "delete", "get", "patch", "update"],
                    None,
                ),
                "finalize" => ("Namespace", &["update"], None),
                _ => (rt.kind, &["get", "patch", "update"], None),
            };
            let mut entry = json!({
                "name": format!("{}/{sub}", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if let Some((g, v)) = group_version {
                entry["group"] = json!(g);
                entry["version"] = json!(v);
            }
            list.push(entry);
        }
    }
    if list.is_empty() {
        return Err(ApiError::no_route());
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": list,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_lists_served_types() {
        let core = resources("", "v1").expect("core");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"pods/eviction"));
        assert!(resources("apps", "v1beta1").is_err());
        assert!(group("policy").is_ok());
        assert!(group("batch").is_err());
        let groups: Vec<String> = groups()["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["name"].as_str().map(str::to_owned))
            .collect();
        for g in [
            "apps",
            "policy",
            "coordination.k8s.io",
            "rbac.authorization.k8s.io",
        ] {
            assert!(groups.iter().any(|n| n == g), "{g} in {groups:?}");
        }
    }
}
