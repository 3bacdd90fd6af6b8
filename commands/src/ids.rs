//! Typed identifiers.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An incident id: `INC-YYYYMMDD-NNNN`, the date it was opened (UTC) and a per-day counter.
///
/// Sortable as text within a day and readable over the phone at 02:00.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IncidentId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not an incident id: expected INC-YYYYMMDD-NNNN, e.g. INC-20261127-0001")]
pub struct IdError {
    pub given: String,
}

impl IncidentId {
    pub fn new(date: NaiveDate, counter: u32) -> Self {
        IncidentId(format!("INC-{}-{counter:04}", date.format("%Y%m%d")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IncidentId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdError {
            given: s.to_string(),
        };
        let upper = s.trim().to_ascii_uppercase();
        let rest = upper.strip_prefix("INC-").ok_or_else(err)?;
        let (date, counter) = rest.split_once('-').ok_or_else(err)?;
        let date = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| err())?;
        if counter.len() < 4 || !counter.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let counter: u32 = counter.parse().map_err(|_| err())?;
        Ok(IncidentId::new(date, counter))
    }
}

impl TryFrom<String> for IncidentId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<IncidentId> for String {
    fn from(id: IncidentId) -> String {
        id.0
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_id_round_trips_and_accepts_lowercase() {
        let id = IncidentId::new(NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(), 7);
        assert_eq!(id.as_str(), "INC-20261127-0007");
        assert_eq!("inc-20261127-0007".parse::<IncidentId>().unwrap(), id);
    }

    #[test]
    fn malformed_incident_ids_are_refused_with_the_expected_shape() {
        for bad in [
            "",
            "INC-2026-1",
            "INC-20261327-0001",
            "INC-20261127-12",
            "20261127-0001",
            "INC-20261127-00x1",
        ] {
            let err = bad.parse::<IncidentId>().unwrap_err();
            assert!(
                err.to_string().contains("INC-YYYYMMDD-NNNN"),
                "{bad}: {err}"
            );
        }
    }
}
