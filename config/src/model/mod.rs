//! The typed response plan.

pub mod action;
pub mod alerts;
pub mod communication;
pub mod console;
pub mod drill;
mod drill_scope;
pub mod escalation;
pub mod evidence;
pub mod guardrails;
pub mod ha;
pub mod ids;
pub mod infra;
pub mod meta;
pub mod paging;
pub mod people;
pub mod severity;
pub mod storage;
pub mod values;

use std::collections::BTreeMap;
use std::path::Path;

use action::{ActionName, ActionPolicy, ActionRule, ApprovalDefaults};
use alerts::Alerts;
use communication::Communication;
use console::Console;
use drill::DrillSettings;
use escalation::EscalationPolicy;
use evidence::EvidenceCollection;
use guardrails::{CriticalWorkload, Guardrails};
use ids::{PersonId, PolicyId, RoleId, TeamId};
use infra::{AwsAccount, Cluster};
use meta::PlanMeta;
use paging::Paging;
use people::{Person, Role, Team};
use storage::Storage;

/// A validated response plan. Build it with [`crate::load_file`] or [`crate::load_str`].
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// `[plan]`
    pub meta: PlanMeta,
    pub storage: Storage,
    pub roles: Vec<Role>,
    pub people: Vec<Person>,
    pub teams: Vec<Team>,
    pub escalation_policies: Vec<EscalationPolicy>,
    pub approvals: ApprovalDefaults,
    /// Actions without an entry are disabled: nobody may request them.
    pub actions: BTreeMap<ActionName, ActionPolicy>,
    pub guardrails: Guardrails,
    pub evidence: EvidenceCollection,
    pub critical: Vec<CriticalWorkload>,
    pub communication: Communication,
    pub alerts: Alerts,
    pub clusters: Vec<Cluster>,
    pub aws_accounts: Vec<AwsAccount>,
    pub paging: Paging,
    pub console: Console,
    /// `[drill]`
    pub drill: DrillSettings,
    /// `[ha]`: the ledger's off-box copy, when kept.
    pub ha: Option<ha::Ha>,
}

impl Plan {
    /// The ledger folder named by the plan; the CLI's `--data` overrides it.
    pub fn data_dir(&self) -> Option<&Path> {
        self.storage.data_dir()
    }

    /// The policy for `action` with defaults applied; `None` when the plan disables it.
    pub fn action_rule(&self, action: ActionName) -> Option<ActionRule> {
        self.actions
            .get(&action)
            .map(|policy| ActionRule::resolve(action, policy, &self.approvals))
    }

    pub fn person(&self, id: &PersonId) -> Option<&Person> {
        self.people.iter().find(|p| &p.id == id)
    }

    pub fn person_by_slack(&self, user_id: &str) -> Option<&Person> {
        self.people
            .iter()
            .find(|p| p.slack.as_deref() == Some(user_id))
    }

    pub fn person_by_discord(&self, user_id: &str) -> Option<&Person> {
        self.people
            .iter()
            .find(|p| p.discord.as_deref() == Some(user_id))
    }

    /// Whether a drill may contact people outside this machine (`[drill] notify`).
    pub fn notifies_outside(&self) -> bool {
        !self.is_drill() || self.drill.notify
    }

    /// Drill mode: every action is an exercise, and the console lets you pick who you are.
    pub fn is_drill(&self) -> bool {
        self.meta.drill
    }

    pub fn role(&self, id: &RoleId) -> Option<&Role> {
        self.roles.iter().find(|r| &r.id == id)
    }

    pub fn team(&self, id: &TeamId) -> Option<&Team> {
        self.teams.iter().find(|t| &t.id == id)
    }

    pub fn escalation_policy(&self, id: &PolicyId) -> Option<&EscalationPolicy> {
        self.escalation_policies.iter().find(|p| &p.id == id)
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    pub fn aws_account(&self, name: &str) -> Option<&AwsAccount> {
        self.aws_accounts.iter().find(|a| a.name == name)
    }

    /// Extra approvals for a target: the largest among matching critical workloads.
    pub fn extra_approvals_for(
        &self,
        cluster: &str,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> u32 {
        self.critical
            .iter()
            .filter(|c| c.matches(cluster, namespace, kind, name))
            .map(|c| c.extra_approvals)
            .max()
            .unwrap_or(0)
    }
}
