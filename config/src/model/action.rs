//! The actions a plan sets policy for, their risk, and the per-action policy.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ids::RoleId;

/// How much an action can hurt: decides default approvals and whether a reason is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Looks without changing anything.
    Read,
    /// Limits damage and can be undone.
    Contain,
    /// Removes capacity or state; may destroy evidence.
    Destructive,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Read => "read",
            Risk::Contain => "contain",
            Risk::Destructive => "destructive",
        }
    }

    /// Approvals needed besides the requester when the plan does not say.
    pub fn default_approvals(self) -> u32 {
        match self {
            Risk::Read => 0,
            Risk::Contain | Risk::Destructive => 1,
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action the plan can set policy for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionName {
    Capture,
    Checkpoint,
    Quarantine,
    Release,
    Label,
    Cordon,
    Uncordon,
    Drain,
    Protect,
    Unprotect,
    Snapshot,
    Revoke,
    Unrevoke,
    Scale,
    Restart,
    Delete,
}

impl ActionName {
    pub const ALL: [ActionName; 16] = [
        ActionName::Capture,
        ActionName::Checkpoint,
        ActionName::Quarantine,
        ActionName::Release,
        ActionName::Label,
        ActionName::Cordon,
        ActionName::Uncordon,
        ActionName::Drain,
        ActionName::Protect,
        ActionName::Unprotect,
        ActionName::Snapshot,
        ActionName::Revoke,
        ActionName::Unrevoke,
        ActionName::Scale,
        ActionName::Restart,
        ActionName::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionName::Capture => "capture",
            ActionName::Checkpoint => "checkpoint",
            ActionName::Quarantine => "quarantine",
            ActionName::Release => "release",
            ActionName::Label => "label",
            ActionName::Cordon => "cordon",
            ActionName::Uncordon => "uncordon",
            ActionName::Drain => "drain",
            ActionName::Protect => "protect",
            ActionName::Unprotect => "unprotect",
            ActionName::Snapshot => "snapshot",
            ActionName::Revoke => "revoke",
            ActionName::Unrevoke => "unrevoke",
            ActionName::Scale => "scale",
            ActionName::Restart => "restart",
            ActionName::Delete => "delete",
        }
    }

    pub fn risk(self) -> Risk {
        match self {
            ActionName::Capture | ActionName::Checkpoint => Risk::Read,
            ActionName::Quarantine
            | ActionName::Release
            | ActionName::Label
            | ActionName::Cordon
            | ActionName::Uncordon
            | ActionName::Protect
            | ActionName::Unprotect
            | ActionName::Snapshot
            | ActionName::Revoke
            | ActionName::Unrevoke => Risk::Contain,
            ActionName::Drain | ActionName::Scale | ActionName::Restart | ActionName::Delete => {
                Risk::Destructive
            }
        }
    }

    /// The valid names, comma separated, for hints.
    pub fn valid_list() -> String {
        Self::ALL.map(ActionName::as_str).join(", ")
    }
}

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action name that is not one of [`ActionName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action `{name}`; valid actions: {}", ActionName::valid_list())]
pub struct UnknownAction {
    pub name: String,
}

impl FromStr for ActionName {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction { name: s.to_owned() })
    }
}

/// `[actions.<name>]`: who may request and approve one action.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionPolicy {
    /// Roles that may ask for the action.
    #[serde(default)]
    pub request: Vec<RoleId>,
    /// Roles that may approve it; the requester never counts.
    #[serde(default)]
    pub approve: Vec<RoleId>,
    /// Approvers needed besides the requester; defaults by risk (read 0, otherwise 1).
    #[serde(default)]
    pub approvals: Option<u32>,
    /// Roles that may run it alone with a reason; empty means break-glass is not allowed.
    #[serde(default)]
    pub break_glass: Vec<RoleId>,
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub pending_ttl: Option<Duration>,
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub execute_within: Option<Duration>,
}

/// `[approvals]`: defaults for every action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDefaults {
    /// How long a request waits for approvals before it expires.
    #[serde(
        default = "default_pending_ttl",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub pending_ttl: Duration,
    /// How long an approved request stays runnable.
    #[serde(
        default = "default_execute_within",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub execute_within: Duration,
    /// Risks for which the requester must give a reason.
    #[serde(default = "default_reason_risks")]
    pub require_reason_for: Vec<Risk>,
}

fn default_pending_ttl() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_execute_within() -> Duration {
    Duration::from_secs(5 * 60)
}

fn default_reason_risks() -> Vec<Risk> {
    vec![Risk::Contain, Risk::Destructive]
}

impl Default for ApprovalDefaults {
    fn default() -> Self {
        Self {
            pending_ttl: default_pending_ttl(),
            execute_within: default_execute_within(),
            require_reason_for: default_reason_risks(),
        }
    }
}

/// The policy for one action with the plan's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRule {
    pub action: ActionName,
    pub risk: Risk,
    pub request: Vec<RoleId>,
    pub approve: Vec<RoleId>,
    /// Approvers needed besides the requester, before critical-workload extras.
    pub approvals: u32,
    pub break_glass: Vec<RoleId>,
    pub pending_ttl: Duration,
    pub execute_within: Duration,
    pub reason_required: bool,
}

impl ActionRule {
    pub(crate) fn resolve(
        action: ActionName,
        policy: &ActionPolicy,
        defaults: &ApprovalDefaults,
    ) -> Self {
        let risk = action.risk();
        Self {
            action,
            risk,
            request: policy.request.clone(),
            approve: policy.approve.clone(),
            approvals: policy.approvals.unwrap_or(risk.default_approvals()),
            break_glass: policy.break_glass.clone(),
            pending_ttl: policy.pending_ttl.unwrap_or(defaults.pending_ttl),
            execute_within: policy.execute_within.unwrap_or(defaults.execute_within),
            reason_required: defaults.require_reason_for.contains(&risk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_classes_match_the_design() {
        assert_eq!(ActionName::Capture.risk(), Risk::Read);
        assert_eq!(ActionName::Checkpoint.risk(), Risk::Read);
        assert_eq!(ActionName::Revoke.risk(), Risk::Contain);
        assert_eq!(ActionName::Protect.risk(), Risk::Contain);
        assert_eq!(ActionName::Drain.risk(), Risk::Destructive);
        assert_eq!(ActionName::Delete.risk(), Risk::Destructive);
    }

    #[test]
    fn names_round_trip_through_from_str_and_display() {
        for action in ActionName::ALL {
            assert_eq!(action.to_string().parse::<ActionName>(), Ok(action));
        }
    }

    #[test]
    fn unknown_action_error_lists_valid_names() {
        let err = "nuke".parse::<ActionName>().unwrap_err().to_string();
        assert!(
            err.contains("`nuke`") && err.contains("quarantine"),
            "{err}"
        );
    }

    #[test]
    fn rule_defaults_approvals_by_risk() {
        let defaults = ApprovalDefaults::default();
        let policy = ActionPolicy::default();
        let read = ActionRule::resolve(ActionName::Capture, &policy, &defaults);
        let contain = ActionRule::resolve(ActionName::Quarantine, &policy, &defaults);
        assert_eq!((read.approvals, read.reason_required), (0, false));
        assert_eq!((contain.approvals, contain.reason_required), (1, true));
        assert_eq!(contain.pending_ttl, Duration::from_secs(900));
    }
}
