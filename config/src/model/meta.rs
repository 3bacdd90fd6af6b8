//! `[plan]`: what this plan is and who owns it.

use chrono_tz::Tz;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanMeta {
    pub name: String,
    pub owner: String,
    /// A human label like "2026.11"; approvals bind to the file digest, not to this.
    #[serde(default)]
    pub version: Option<String>,
    /// Zone for alert windows and timestamps shown to people.
    #[serde(default = "utc", deserialize_with = "super::values::deserialize_tz")]
    pub timezone: Tz,
    /// Drill mode: every action is announced as an exercise.
    #[serde(default)]
    pub drill: bool,
}

fn utc() -> Tz {
    Tz::UTC
}

impl Default for PlanMeta {
    fn default() -> Self {
        Self {
            name: String::new(),
            owner: String::new(),
            version: None,
            timezone: utc(),
            drill: false,
        }
    }
}
