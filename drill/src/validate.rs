//! Shape checks through the k8s-openapi types, and the name rules the apiserver enforces.

use k8s_openapi::api::{
    apps, authorization, autoscaling, coordination, core, networking, policy, rbac,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `obj` read as `T` and written back: what the typed struct kept of it.
fn check<T: DeserializeOwned + Serialize>(obj: &Value) -> Result<Option<Value>, String> {
    let typed = serde_json::from_value::<T>(obj.clone()).map_err(|e| e.to_string())?;
    Ok(serde_json::to_value(typed).ok())
}

/// Whether `obj` deserialises as its kind's typed struct; the error is serde's message.
pub fn typed(kind: &str, obj: &Value) -> Result<(), String> {
    roundtrip(kind, obj).map(|_| ())
}

/// The fields of `obj` its kind does not have (`spec.replica`), as the API server's strict
/// field validation (`?fieldValidation=Strict`) names them. Kinds without a typed struct here
/// have none.
pub fn unknown_fields(kind: &str, obj: &Value) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if let Some(kept) = roundtrip(kind, obj)? {
        dropped(obj, &kept, "", &mut out);
    }
    Ok(out)
}

fn dropped(given: &Value, kept: &Value, at: &str, out: &mut Vec<String>) {
    match (given, kept) {
        (Value::Object(g), Value::Object(k)) => {
            for (key, value) in g {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match k.get(key) {
                    Some(inner) => dropped(value, inner, &path, out),
                    // A null or empty value is dropped by the writer, not unknown.
                    None if value.is_null()
                        || value.as_object().is_some_and(|o| o.is_empty())
                        || value.as_array().is_some_and(|a| a.is_empty()) => {}
                    None => out.push(path),
                }
            }
        }
        (Value::Array(g), Value::Array(k)) => {
            for (i, (value, inner)) in g.iter().zip(k).enumerate() {
                dropped(value, inner, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn roundtrip(kind: &str, obj: &Value) -> Result<Option<Value>, String> {
    match kind {
        "Namespace" => check::<core::v1::Namespace>(obj),
        "Node" => check::<core::v1::Node>(obj),
        "Pod" => check::<core::v1::Pod>(obj),
        "Service" => check::<core::v1::Service>(obj),
        "Event" => check::<core::v1::Event>(obj),
        "ServiceAccount" => check::<core::v1::ServiceAccount>(obj),
        "ConfigMap" => check::<core::v1::ConfigMap>(obj),
        "Deployment" => check::<apps::v1::Deployment>(obj),
        "StatefulSet" => check::<apps::v1::StatefulSet>(obj),
        "DaemonSet" => check::<apps::v1::DaemonSet>(obj),
        "ReplicaSet" => check::<apps::v1::ReplicaSet>(obj),
        "NetworkPolicy" => check::<networking::v1::NetworkPolicy>(obj),
        "PodDisruptionBudget" => check::<policy::v1::PodDisruptionBudget>(obj),
        "HorizontalPodAutoscaler" => check::<autoscaling::v2::HorizontalPodAutoscaler>(obj),
        "SelfSubjectAccessReview" => check::<authorization::v1::SelfSubjectAccessReview>(obj),
        "Eviction" => check::<policy::v1::Eviction>(obj),
        "Scale" => check::<autoscaling::v1::Scale>(obj),
        "Secret" => check::<core::v1::Secret>(obj),
        "PersistentVolumeClaim" => check::<core::v1::PersistentVolumeClaim>(obj),
        "Lease" => check::<coordination::v1::Lease>(obj),
        "Role" => check::<rbac::v1::Role>(obj),
        "RoleBinding" => check::<rbac::v1::RoleBinding>(obj),
        "ClusterRole" => check::<rbac::v1::ClusterRole>(obj),
        "ClusterRoleBinding" => check::<rbac::v1::ClusterRoleBinding>(obj),
        _ => Ok(None),
    }
}

/// RFC 1123 subdomain: what most object names must be.
pub fn name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_rejects_wrong_shapes() {
        let good = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
        assert!(typed("Pod", &good).is_ok());
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "nope"}});
        assert!(typed("Pod", &bad).is_err());
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": "three"}});
        assert!(typed("Deployment", &bad).is_err());
    }

    #[test]
    fn strict_validation_names_unknown_fields_by_path() {
        let typo = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s", "labels": {"a": "b"}},
            "spec": {"replica": 2, "selector": {}, "template": {"spec": {"containers": [{"name": "c", "imagePullPolicyy": "Always"}]}}, "serviceName": "x"}});
        assert_eq!(
            unknown_fields("StatefulSet", &typo).unwrap(),
            [
                "spec.replica",
                "spec.template.spec.containers[0].imagePullPolicyy"
            ]
        );
        let fine = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": null}, "data": {}, "type": "Opaque"});
        assert!(unknown_fields("Secret", &fine).unwrap().is_empty());
    }

    #[test]
    fn names_follow_rfc1123() {
        assert!(name("ip-10-0-1-23.ec2.internal").is_ok());
        assert!(name("Bad_Name").is_err());
        assert!(name("").is_err());
    }
}
