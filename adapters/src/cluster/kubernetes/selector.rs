//! Label selectors as Kubernetes evaluates them, to tell which policies and services select a pod.

use std::collections::BTreeMap;

use serde_json::Value;

/// Does a `LabelSelector` (`matchLabels`, `matchExpressions`) select these labels?
/// An empty selector selects everything, as in NetworkPolicy `podSelector: {}`.
pub fn matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_ok = match_labels.is_none_or(|m| {
        m.iter()
            .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
    });
    let exprs = selector.get("matchExpressions").and_then(Value::as_array);
    let exprs_ok = exprs.is_none_or(|list| {
        list.iter().all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = labels.get(key).map(String::as_str);
            match e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        })
    });
    labels_ok && exprs_ok
}

/// A Service's `spec.selector` is a plain map: every pair must be present.
pub fn map_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    selector.as_object().is_some_and(|m| {
        !m.is_empty()
            && m.iter()
                .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_match_as_kubernetes_does() {
        let l = labels(&[("app", "api"), ("tier", "web")]);
        assert!(matches(&json!({}), &l));
        assert!(matches(&json!({"matchLabels": {"app": "api"}}), &l));
        assert!(!matches(&json!({"matchLabels": {"app": "db"}}), &l));
        assert!(matches(
            &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "x"]}]}),
            &l
        ));
        assert!(matches(
            &json!({"matchExpressions": [{"key": "gone", "operator": "DoesNotExist"}]}),
            &l
        ));
        assert!(!matches(
            &json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["api"]}]}),
            &l
        ));
        assert!(map_matches(&json!({"app": "api"}), &l));
        assert!(
            !map_matches(&json!({}), &l),
            "a Service without a selector selects nothing"
        );
    }
}
