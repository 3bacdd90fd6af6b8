//! Durations written as text ("30s", "5m", "1h 30m") in the plan.

use std::time::Duration;

use serde::Deserializer;

use crate::problem::with_hint;

pub(crate) const DURATION_HINT: &str = "use e.g. 30s, 5m, 1h";

/// Parses a human duration; zero is rejected because every duration in a plan is a wait or a
/// window, and a zero window would make the feature silently useless.
pub fn parse(text: &str) -> Result<Duration, String> {
    let value = humantime::parse_duration(text.trim())
        .map_err(|e| with_hint(format!("invalid duration `{text}`: {e}"), DURATION_HINT))?;
    if value.is_zero() {
        return Err(with_hint(
            format!("duration `{text}` is zero"),
            "use a positive duration, e.g. 5m",
        ));
    }
    // Requests, leases and timers count whole seconds: "500ms" would become 0 s there (an
    // approved request expired at once), and "1s 500ms" 1 s.
    if value.subsec_nanos() != 0 {
        return Err(with_hint(
            format!("duration `{text}` has a fraction of a second"),
            "plans count whole seconds, e.g. 1s or 2s",
        ));
    }
    Ok(value)
}

/// Formats a duration the way it is written in a plan.
pub fn format(value: Duration) -> String {
    humantime::format_duration(value).to_string()
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    crate::textual::parse_with(d, "a duration like \"5m\"", parse)
}

pub(crate) fn deserialize_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::split_hint;

    #[test]
    fn parses_common_units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn unknown_unit_is_rejected_with_a_hint() {
        let err = parse("15x").unwrap_err();
        let (message, hint) = split_hint(&err);
        assert!(message.starts_with("invalid duration `15x`"), "{message}");
        assert_eq!(hint, Some(DURATION_HINT));
    }

    #[test]
    fn zero_and_fractions_of_a_second_are_rejected() {
        assert!(parse("0s").is_err());
        // Whole seconds only: a fraction would be cut where durations count seconds.
        let err = parse("500ms").unwrap_err();
        let (message, hint) = split_hint(&err);
        assert_eq!(message, "duration `500ms` has a fraction of a second");
        assert_eq!(hint, Some("plans count whole seconds, e.g. 1s or 2s"));
        assert!(parse("1s 500ms").is_err());
        assert_eq!(parse("2s 1000ms"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn format_round_trips() {
        assert_eq!(format(Duration::from_secs(900)), "15m");
    }
}
