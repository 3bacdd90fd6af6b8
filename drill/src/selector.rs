//! Label and field selectors: the query-string forms and metav1.LabelSelector objects.

use serde_json::{Map, Value};

use crate::catalog::ResourceType;
use crate::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed `labelSelector` query parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

fn parse_error(term: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {why} in \"{term}\""))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A qualified name part: at most 63 characters, alphanumeric at both ends.
fn valid_name(s: &str, allow_empty: bool) -> bool {
    if s.is_empty() {
        return allow_empty;
    }
    s.len() <= 63
        && s.chars().all(is_name_char)
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn valid_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty()
                && prefix.len() <= 253
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && valid_name(name, false)
        }
        None => valid_name(key, false),
    }
}

/// Splits on commas outside parentheses.
fn split_terms(text: &str) -> Result<Vec<&str>, ApiError> {
    let mut terms = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(parse_error(text, "unbalanced ')'"));
                }
            }
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(parse_error(text, "unbalanced '('"));
    }
    terms.push(&text[start..]);
    Ok(terms)
}

fn parse_set(term: &str, rest: &str) -> Result<Vec<String>, ApiError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| parse_error(term, "expected '(' value list ')'"))?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(|v| !valid_name(v, true)) || inner.trim().is_empty() {
        return Err(parse_error(term, "invalid value list"));
    }
    Ok(values)
}

fn parse_requirement(term: &str) -> Result<Requirement, ApiError> {
    let t = term.trim();
    if t.is_empty() {
        return Err(parse_error(
            term,
            "found '', expected: !, identifier, or 'end of string'",
        ));
    }
    if let Some(key) = t.strip_prefix('!') {
        let key = key.trim();
        if !valid_key(key) {
            return Err(parse_error(term, "invalid label key"));
        }
        return Ok(Requirement {
            key: key.to_string(),
            op: Op::NotExists,
        });
    }
    let key_end = t
        .find(|c: char| !(is_name_char(c) || c == '/'))
        .unwrap_or(t.len());
    let (key, rest) = t.split_at(key_end);
    if !valid_key(key) {
        return Err(parse_error(term, "invalid label key"));
    }
    let key = key.to_string();
    let rest = rest.trim_start();
    let value = |v: &str| -> Result<String, ApiError> {
        let v = v.trim();
        if valid_name(v, true) {
            Ok(v.to_string())
        } else {
            Err(parse_error(term, "invalid label value"))
        }
    };
    let number = |v: &str| -> Result<i64, ApiError> {
        v.trim().parse().map_err(|_| {
            parse_error(
                term,
                "for 'gt', 'lt' operators, the value must be an integer",
            )
        })
    };
    let op = if rest.is_empty() {
        Op::Exists
    } else if let Some(v) = rest.strip_prefix("!=") {
        Op::NotEq(value(v)?)
    } else if let Some(v) = rest.strip_prefix("==") {
        Op::Eq(value(v)?)
    } else if let Some(v) = rest.strip_prefix('=') {
        Op::Eq(value(v)?)
    } else if let Some(v) = rest.strip_prefix('>') {
        Op::Gt(number(v)?)
    } else if let Some(v) = rest.strip_prefix('<') {
        Op::Lt(number(v)?)
    } else if let Some(v) = rest.strip_prefix("notin") {
        Op::NotIn(parse_set(term, v)?)
    } else if let Some(v) = rest.strip_prefix("in") {
        Op::In(parse_set(term, v)?)
    } else {
        return Err(parse_error(
            term,
            "found unexpected operator, expected: in, notin, =, ==, !=, gt, lt",
        ));
    };
    Ok(Requirement { key, op })
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        split_terms(text)?
            .into_iter()
            .map(parse_requirement)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| {
            let value = get(&r.key);
            match &r.op {
                Op::Eq(v) => value == Some(v.as_str()),
                Op::NotEq(v) => value != Some(v.as_str()),
                Op::In(set) => value.is_some_and(|x| set.iter().any(|v| v == x)),
                Op::NotIn(set) => !value.is_some_and(|x| set.iter().any(|v| v == x)),
                Op::Exists => value.is_some(),
                Op::NotExists => value.is_none(),
                Op::Gt(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x > *n),
                Op::Lt(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x < *n),
            }
        })
    }
}

/// A parsed `fieldSelector` query parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(text: &str, rt: &ResourceType) -> Result<Self, ApiError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut terms = Vec::new();
        for term in text.split(',') {
            let (key, equal, value) = if let Some((k, v)) = term.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                )));
            };
            let key = key.trim();
            let known = matches!(key, "metadata.name" | "metadata.namespace")
                || rt.field_labels.contains(&key);
            if !known {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {key}"
                )));
            }
            terms.push((key.to_string(), equal, value.trim().to_string()));
        }
        Ok(Self(terms))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0
            .iter()
            .all(|(key, equal, value)| (field_value(obj, key) == *value) == *equal)
    }
}

/// The string a field selector compares, as the apiserver's field sets render it.
fn field_value(obj: &Value, key: &str) -> String {
    let pointer = format!("/{}", key.replace('.', "/"));
    match obj.pointer(&pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Object(source)) if key == "source" => source
            .get("component")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ if key == "spec.unschedulable" || key == "spec.hostNetwork" => "false".to_string(),
        _ => String::new(),
    }
}

/// Whether a metav1.LabelSelector object selects these labels. A missing selector selects nothing,
/// an empty one everything.
pub fn selects(selector: Option<&Value>, labels: Option<&Map<String, Value>>) -> bool {
    let Some(selector) = selector.and_then(Value::as_object) else {
        return false;
    };
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let match_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| get(k) == v.as_str()));
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_none_or(|exprs| {
            exprs.iter().all(|e| {
                let key = e.get("key").and_then(Value::as_str).unwrap_or("");
                let values: Vec<&str> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let value = get(key);
                match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                    "In" => value.is_some_and(|v| values.contains(&v)),
                    "NotIn" => !value.is_some_and(|v| values.contains(&v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
        });
    match_labels && expressions
}

/// A LabelSelector object in query-string form, as Scale's status.selector carries it.
pub fn to_query(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return String::new();
    };
    let mut terms: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    for e in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        terms.push(
            match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "DoesNotExist" => format!("!{key}"),
                _ => key.to_string(),
            },
        );
    }
    terms.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn label_selector_grammar() {
        let l = labels(json!({"app": "api", "tier": "backend"}));
        let yes = [
            "",
            "app=api",
            "app==api",
            "app!=web",
            "app in (api, web)",
            "tier notin (frontend)",
            "app",
            "!quarantine",
            "app=api,tier=backend",
            "missing!=x",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).expect(s).matches(Some(&l)), "{s}");
        }
        let no = [
            "app=web",
            "app in (web)",
            "!app",
            "missing",
            "app=api,tier=frontend",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).expect(s).matches(Some(&l)), "{s}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_bad_requests() {
        for s in [
            "app=",
            "=api",
            "app in api",
            "app in (",
            "a,,b",
            "app=a b",
            "app ~ b",
            "app>x",
        ] {
            if s == "app=" {
                // An empty value is legal: it selects labels whose value is empty.
                assert!(LabelSelector::parse(s).is_ok());
                continue;
            }
            let err = LabelSelector::parse(s).expect_err(s);
            assert_eq!(err.code, 400, "{s}");
        }
    }

    #[test]
    fn field_selectors_check_known_labels() {
        let pod = json!({"metadata": {"name": "a", "namespace": "n"}, "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}});
        let rt = catalog::pods();
        assert!(
            FieldSelector::parse("spec.nodeName=node-1,status.phase!=Failed", rt)
                .expect("parse")
                .matches(&pod)
        );
        assert!(
            !FieldSelector::parse("metadata.name==b", rt)
                .expect("parse")
                .matches(&pod)
        );
        assert_eq!(
            FieldSelector::parse("spec.bogus=1", rt)
                .expect_err("bogus")
                .code,
            400
        );
        assert_eq!(
            FieldSelector::parse("justtext", rt).expect_err("text").code,
            400
        );
    }

    #[test]
    fn label_selector_objects() {
        let l = labels(json!({"app": "api"}));
        assert!(selects(
            Some(&json!({"matchLabels": {"app": "api"}})),
            Some(&l)
        ));
        assert!(selects(Some(&json!({})), Some(&l)));
        assert!(!selects(None, Some(&l)));
        assert!(selects(
            Some(
                &json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]})
            ),
            Some(&l)
        ));
        assert_eq!(
            to_query(Some(
                &json!({"matchLabels": {"app": "api", "pod-template-hash": "7f9c5d"}})
            )),
            "app=api,pod-template-hash=7f9c5d"
        );
    }
}
