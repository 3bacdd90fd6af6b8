//! Slack channel names: lowercase letters, digits, `-` and `_`, at most 80 characters.

pub const MAX_CHANNEL_NAME_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a valid Slack channel name: {reason}")]
pub struct ChannelNameError {
    pub name: String,
    pub reason: &'static str,
}

/// Checks a name before it is sent, so a bad one is reported as ours, not as Slack's
/// `invalid_name_specials`.
pub fn validate_channel_name(name: &str) -> Result<(), ChannelNameError> {
    let bad = |reason| ChannelNameError {
        name: name.chars().take(100).collect(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.chars().count() > MAX_CHANNEL_NAME_CHARS {
        return Err(bad("longer than 80 characters"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if !name.chars().all(allowed) {
        return Err(bad(
            "only lowercase letters, digits, `-` and `_` are allowed",
        ));
    }
    Ok(())
}

/// A valid channel name made from any text: lowercased, other characters turned into `-`,
/// cut to 80 characters.
pub fn channel_name(suggested: &str) -> String {
    let mut out = String::new();
    for c in suggested.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
        if out.len() >= MAX_CHANNEL_NAME_CHARS {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "incident".to_owned()
    } else {
        out.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_rules_are_enforced() {
        assert_eq!(
            validate_channel_name("inc-20261127-shell_in-payments"),
            Ok(())
        );
        assert_eq!(validate_channel_name(&"a".repeat(80)), Ok(()));
        for bad in [
            "",
            "Inc-1",
            "inc 1",
            "inc.1",
            "#inc",
            "inç",
            &"a".repeat(81),
        ] {
            assert!(validate_channel_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn any_text_becomes_a_valid_name() {
        assert_eq!(
            channel_name("INC-20261127 Shell in payments/api!"),
            "inc-20261127-shell-in-payments-api"
        );
        assert_eq!(channel_name("---"), "incident");
        assert_eq!(channel_name("Ünïcödé"), "n-c-d");
        let long = channel_name(&"ab ".repeat(100));
        assert!(long.len() <= 80);
        for s in ["", "x", "A B", &"Ω".repeat(200), "a-".repeat(60).as_str()] {
            assert_eq!(validate_channel_name(&channel_name(s)), Ok(()), "{s}");
        }
    }
}
