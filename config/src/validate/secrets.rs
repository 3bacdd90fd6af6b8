//! Finds secrets written straight into the plan, anywhere in the file.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::locate::FieldPath;
use crate::report::{Report, redact};
use crate::secret::SECRET_HINT;

/// Key names whose plain-string values are secrets whatever they look like.
const SECRET_KEY_PARTS: [&str; 8] = [
    "token",
    "secret",
    "password",
    "passwd",
    "routing_key",
    "api_key",
    "private_key",
    "external_id",
];

pub(crate) fn scan(root: &Spanned<DeTable<'_>>, report: &mut Report<'_>) {
    for (key, value) in root.get_ref() {
        walk(
            value,
            &FieldPath::root().key(key.get_ref()),
            key.get_ref(),
            report,
        );
    }
}

fn walk(value: &Spanned<DeValue<'_>>, path: &FieldPath, key: &str, report: &mut Report<'_>) {
    match value.get_ref() {
        DeValue::String(text) => {
            if let Some(kind) = classify(key, text) {
                report.secret_seen(text);
                report.at_offset(
                    value.span().start,
                    path,
                    format!("this looks like an inline {kind} (`{}`); secrets must not be written in the plan", redact(text)),
                    SECRET_HINT,
                );
            }
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &path.index(i), key, report);
            }
        }
        DeValue::Table(table) => {
            for (k, v) in table {
                walk(v, &path.key(k.get_ref()), k.get_ref(), report);
            }
        }
        _ => {}
    }
}

/// What kind of secret `text` looks like, if any.
fn classify(key: &str, text: &str) -> Option<&'static str> {
    const SLACK: [&str; 6] = ["xoxb-", "xoxp-", "xapp-", "xoxa-", "xoxs-", "xoxe-"];
    let key = key.to_ascii_lowercase();
    if SLACK.iter().any(|p| text.starts_with(p)) {
        return Some("Slack token");
    }
    if has_aws_access_key(text) {
        return Some("AWS access key id");
    }
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----") {
        return Some("private key");
    }
    if key.contains("key") && text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Some("PagerDuty routing key");
    }
    if is_discord_token(text) {
        return Some("Discord bot token");
    }
    if !text.is_empty() && SECRET_KEY_PARTS.iter().any(|p| key.contains(p)) {
        return Some("secret");
    }
    None
}

fn has_aws_access_key(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(20).enumerate().any(|(i, w)| {
        (w.starts_with(b"AKIA") || w.starts_with(b"ASIA"))
            && w[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes.get(i + 20).is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

/// Bot tokens are three base64url parts: user id, timestamp, signature.
fn is_discord_token(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    let b64 = |p: &str| {
        p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    parts.len() == 3
        && parts[0].len() >= 23
        && parts[0].starts_with(['M', 'N', 'O'])
        && (6..=7).contains(&parts[1].len())
        && parts[2].len() >= 27
        && parts.iter().all(|p| b64(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_token_shapes() {
        assert_eq!(classify("x", "xoxb-1234-5678-abcd"), Some("Slack token"));
        assert_eq!(
            classify("x", "id AKIAIOSFODNN7EXAMPLE here"),
            Some("AWS access key id")
        );
        assert_eq!(
            classify("x", "-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
            Some("private key")
        );
        assert_eq!(
            classify("integration_key", "0123456789abcdef0123456789abcdef"),
            Some("PagerDuty routing key")
        );
        assert_eq!(
            classify(
                "x",
                "MTA4NTI4OTEyMzQ1Njc4OTAx.GaBcDe.abcdefghijklmnopqrstuvwxyz0123"
            ),
            Some("Discord bot token")
        );
    }

    #[test]
    fn any_plain_value_under_a_secret_key_counts() {
        assert_eq!(classify("signing_secret", "hunter2"), Some("secret"));
        assert_eq!(classify("smtp_password", "pw"), Some("secret"));
    }

    #[test]
    fn ordinary_values_are_not_secrets() {
        assert_eq!(classify("env", "SLACK_BOT_TOKEN"), None);
        assert_eq!(classify("name", "Northwind"), None);
        assert_eq!(classify("public_key", &"ab".repeat(32)), None);
        assert_eq!(
            classify("kms_key_id", "1234abcd-12ab-34cd-56ef-1234567890ab"),
            None
        );
        assert_eq!(classify("x", "AKIAIOSFODNN7EXAMPLEX"), None);
    }
}
