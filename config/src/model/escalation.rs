//! `[[escalation_policies]]`: who is paged, in which order.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::ids::{PersonId, PolicyId, TeamId};
use crate::problem::with_hint;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicy {
    pub id: PolicyId,
    pub name: String,
    /// How many times to run through all tiers again when nobody acknowledges.
    #[serde(default)]
    pub repeat: u32,
    pub tiers: Vec<Tier>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub notify: Vec<NotifyTarget>,
    /// Move to the next tier when nobody acknowledged within this time.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub escalate_after: Duration,
    /// The Events API key of the PagerDuty service this tier triggers (a service whose
    /// on-call is this tier's people); `[paging.pagerduty] routing_key` when absent.
    #[serde(default)]
    pub pagerduty_routing_key: Option<crate::SecretRef>,
}

/// Written `person:<id>` or `team:<id>` so the kind of target is never guessed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotifyTarget {
    Person(PersonId),
    Team(TeamId),
}

impl FromStr for NotifyTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some(("person", id)) if !id.is_empty() => Ok(NotifyTarget::Person(id.into())),
            Some(("team", id)) if !id.is_empty() => Ok(NotifyTarget::Team(id.into())),
            _ => Err(with_hint(
                format!("invalid notify target `{text}`"),
                "write \"person:<id>\" or \"team:<id>\", e.g. \"person:alice\"",
            )),
        }
    }
}

impl fmt::Display for NotifyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyTarget::Person(id) => write!(f, "person:{id}"),
            NotifyTarget::Team(id) => write!(f, "team:{id}"),
        }
    }
}

impl<'de> Deserialize<'de> for NotifyTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::textual::parse_with(d, "\"person:<id>\" or \"team:<id>\"", str::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_target_needs_an_explicit_kind() {
        assert_eq!(
            "person:alice".parse(),
            Ok(NotifyTarget::Person("alice".into()))
        );
        assert_eq!("team:sre".parse(), Ok(NotifyTarget::Team("sre".into())));
        assert!("alice".parse::<NotifyTarget>().is_err());
        assert!("person:".parse::<NotifyTarget>().is_err());
    }
}
