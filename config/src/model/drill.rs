//! `[drill]`: what a drill may do outside this machine, and the targets a game day is
//! scored against.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillSettings {
    /// Whether a drill contacts the outside world the plan configures (Slack, PagerDuty,
    /// email, webhooks). Off by default: a drill lets anyone at the console act as anyone,
    /// so it must not reach real people. When on, every outbound message starts with
    /// `DRILL —`.
    #[serde(default)]
    pub notify: bool,
    /// How fast a game day's team should be, from the start of the game day.
    #[serde(default)]
    pub targets: DrillTargets,
}

/// `[drill.targets]`: each is the longest the team should take, from the game day's start.
/// A target left out is reported without a verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillTargets {
    /// A page acknowledged.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub acknowledge: Option<Duration>,
    /// The first evidence captured (capture, checkpoint or snapshot).
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub capture: Option<Duration>,
    /// The first containment (quarantine, cordon, drain or revoke).
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub contain: Option<Duration>,
    /// An incident resolved.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub resolve: Option<Duration>,
}
