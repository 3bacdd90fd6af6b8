//! Incident severity, sev1 (worst) to sev4.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "sev1",
            Severity::Sev2 => "sev2",
            Severity::Sev3 => "sev3",
            Severity::Sev4 => "sev4",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{text}`; use sev1, sev2, sev3 or sev4")]
pub struct UnknownSeverity {
    pub text: String,
}

impl FromStr for Severity {
    type Err = UnknownSeverity;

    /// Accepts "sev1" and "SEV1" since people type both in chat.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|sev| sev.as_str() == lower)
            .ok_or_else(|| UnknownSeverity { text: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case() {
        assert_eq!("SEV2".parse(), Ok(Severity::Sev2));
        assert_eq!(Severity::Sev1.to_string(), "sev1");
    }

    #[test]
    fn unknown_severity_is_a_clear_error() {
        let err = "sev5".parse::<Severity>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown severity `sev5`; use sev1, sev2, sev3 or sev4"
        );
    }

    #[test]
    fn sev1_is_the_most_severe() {
        assert!(Severity::Sev1 < Severity::Sev4);
    }
}
