//! RFC 8785 (JSON Canonicalization Scheme) for the values the ledger stores.
//!
//! Ledger entries hold strings, integers, booleans, nulls, arrays and objects only. Floats are
//! refused rather than canonicalised: ES6 number formatting is where independent
//! implementations disagree, and an auditor's script must reproduce every hash exactly.
//! With that restriction the output equals Python's
//! `json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` for keys in the
//! Basic Multilingual Plane, which is what the README's offline check relies on.

use serde_json::Value;

/// Largest integer magnitude that every JSON implementation reads back exactly (2^53).
const MAX_SAFE_INTEGER: u64 = 1 << 53;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("`{path}` holds the number {value}: ledger entries hold integers only (|n| <= 2^53)")]
    Number { path: String, value: String },
}

/// Canonical bytes of `value`.
pub fn to_canonical(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(512);
    write_value(value, &mut out).map_err(|mut path| {
        // The path is collected innermost-first while unwinding; build it only on error.
        path.reverse();
        let value = path.pop().unwrap_or_default();
        CanonicalError::Number {
            path: format!("${}", path.concat()),
            value,
        }
    })?;
    Ok(out)
}

/// On error: the offending number, then path segments from the inside out.
fn write_value(value: &Value, out: &mut String) -> Result<(), Vec<String>> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let ok = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
                _ => false,
            };
            if !ok {
                return Err(vec![n.to_string()]);
            }
            out.push_str(&n.to_string());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out).map_err(|mut p| {
                    p.push(format!("[{i}]"));
                    p
                })?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(&map[key], out).map_err(|mut p| {
                    p.push(format!(".{key}"));
                    p
                })?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_sorted_by_utf16_code_units_as_rfc8785_requires() {
        // The sorting example of RFC 8785 §3.2.3 (without its float member).
        let v = json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"});
        let c = to_canonical(&v).unwrap();
        let order: Vec<&str> = [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small",
            "Euro Sign",
            "Emoji",
            "Hebrew",
        ]
        .into_iter()
        .collect();
        let positions: Vec<usize> = order.iter().map(|w| c.find(w).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{c}");
    }

    #[test]
    fn strings_escape_exactly_like_rfc8785() {
        let v = json!({"s": "a\"b\\c\u{1}\n\u{7f}\u{2028}é"});
        assert_eq!(
            to_canonical(&v).unwrap(),
            "{\"s\":\"a\\\"b\\\\c\\u0001\\n\u{7f}\u{2028}é\"}"
        );
    }

    #[test]
    fn nesting_and_literals_have_no_whitespace() {
        let v = json!({"b": [1, true, null, {"z": -3, "a": "x"}], "a": {}});
        assert_eq!(
            to_canonical(&v).unwrap(),
            r#"{"a":{},"b":[1,true,null,{"a":"x","z":-3}]}"#
        );
    }

    #[test]
    fn floats_and_unsafe_integers_are_refused_with_their_path() {
        let err = to_canonical(&json!({"data": {"ratio": 0.5}})).unwrap_err();
        assert!(err.to_string().contains("$.data.ratio"), "{err}");
        assert!(to_canonical(&json!({"n": 9_007_199_254_740_993u64})).is_err());
        assert!(to_canonical(&json!({"n": 9_007_199_254_740_992u64})).is_ok());
    }
}
