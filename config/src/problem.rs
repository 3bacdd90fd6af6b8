//! One thing wrong with a plan, located in the source file.

use std::fmt;

/// Separates a message from its hint inside a custom deserialization error, so value types can
/// suggest a fix while still going through serde's string-only error channel.
const HINT_SEPARATOR: char = '\u{1f}';

/// A problem found while loading a plan: where it is, which field, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The plan file name as given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Field path like `people[2].slack` or `actions.quarantine.approve`; empty for syntax errors.
    pub path: String,
    pub message: String,
    /// How to fix it; may be empty.
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n    hint: {}", self.hint)?;
        }
        Ok(())
    }
}

/// Builds a deserialization error message that carries a hint.
pub(crate) fn with_hint(message: impl fmt::Display, hint: impl fmt::Display) -> String {
    format!("{message}{HINT_SEPARATOR}{hint}")
}

/// Splits a message built by [`with_hint`]; plain messages have no hint.
pub(crate) fn split_hint(raw: &str) -> (&str, Option<&str>) {
    match raw.split_once(HINT_SEPARATOR) {
        Some((message, hint)) => (message, Some(hint)),
        None => (raw, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(path: &str, hint: &str) -> Problem {
        Problem {
            file: "plan.toml".into(),
            line: 12,
            column: 9,
            path: path.into(),
            message: "Slack user U024BE7LH is already mapped to person alice".into(),
            hint: hint.into(),
        }
    }

    #[test]
    fn display_shows_location_path_message_and_hint() {
        let p = problem(
            "people[1].slack",
            "one chat account belongs to exactly one person; remove it from one of them",
        );
        assert_eq!(
            p.to_string(),
            "plan.toml:12:9: people[1].slack: Slack user U024BE7LH is already mapped to person alice\n    hint: one chat account belongs to exactly one person; remove it from one of them"
        );
    }

    #[test]
    fn display_omits_empty_path_and_hint() {
        let p = problem("", "");
        assert_eq!(
            p.to_string(),
            "plan.toml:12:9: Slack user U024BE7LH is already mapped to person alice"
        );
    }

    #[test]
    fn hint_round_trips_through_a_message() {
        let raw = with_hint("bad duration", "use e.g. 30s");
        assert_eq!(split_hint(&raw), ("bad duration", Some("use e.g. 30s")));
        assert_eq!(split_hint("plain"), ("plain", None));
    }
}
