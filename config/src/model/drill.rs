//! `[drill]`: what a drill may do outside this machine.

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
}
