//! `[[roles]]`, `[[people]]` and `[[teams]]`.

use chrono_tz::Tz;
use serde::Deserialize;

use super::ids::{PersonId, RoleId, TeamId};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub id: RoleId,
    #[serde(default)]
    pub description: String,
}

/// A person; chat accounts map to exactly one person, and approvals count people.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    #[serde(default)]
    pub roles: Vec<RoleId>,
    /// Slack user id, e.g. U024BE7LH (not the display name, which anyone can change).
    #[serde(default)]
    pub slack: Option<String>,
    /// Discord user id (a numeric snowflake, as a string).
    #[serde(default)]
    pub discord: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// E.164, e.g. +4915112345678.
    #[serde(default)]
    pub phone: Option<String>,
    /// PagerDuty user id, e.g. PXPGF42.
    #[serde(default)]
    pub pagerduty: Option<String>,
    #[serde(default, deserialize_with = "super::values::deserialize_tz_opt")]
    pub timezone: Option<Tz>,
}

impl Person {
    pub fn has_role(&self, role: &RoleId) -> bool {
        self.roles.contains(role)
    }

    pub fn has_any_role(&self, roles: &[RoleId]) -> bool {
        roles.iter().any(|r| self.has_role(r))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    #[serde(default)]
    pub members: Vec<PersonId>,
    #[serde(default)]
    pub slack_channel: Option<String>,
    #[serde(default)]
    pub discord_channel: Option<String>,
}
