//! The warroom response plan: who may do what during an incident, and where things live.
//!
//! A plan is a TOML file. [`load_file`] and [`load_str`] read it and report every problem
//! with file, line, column and field path; [`builtin`] returns the embedded example plan.

mod builtin;
mod duration;
mod load;
mod locate;
pub mod model;
mod problem;
mod report;
mod secret;
mod sections;
mod summary;
mod textual;
mod validate;

use std::path::PathBuf;

pub use builtin::builtin;
pub use duration::{format as format_duration, parse as parse_duration};
pub use load::{digest, load_file, load_str};
pub use model::Plan;
pub use model::action::{
    ActionName, ActionPolicy, ActionRule, ApprovalDefaults, Risk, UnknownAction,
};
pub use model::alerts::{
    ActiveWindow, AlertRule, AlertSource, Alerts, FalcoPriority, IntakeAuth, IntakeCredentials,
};
pub use model::communication::{
    ChannelTemplate, ChannelVars, Communication, DiscordConfig, DiscordMode, SlackConfig, SlackMode,
};
pub use model::console::{ApiToken, Console, DEFAULT_LISTEN};
pub use model::drill::{DrillSettings, DrillTargets};
pub use model::escalation::{EscalationPolicy, NotifyTarget, Tier};
pub use model::evidence::{Artifact, EvidenceCollection};
pub use model::guardrails::{CriticalWorkload, Guardrails};
pub use model::ids::{PersonId, PolicyId, RoleId, TeamId};
pub use model::infra::{AwsAccount, Cluster, ClusterAccess, NetworkPolicyEngine};
pub use model::meta::PlanMeta;
pub use model::paging::{EmailPaging, PagerDutyPaging, Paging, WebhookPaging};
pub use model::people::{Person, Role, Team};
pub use model::severity::{Severity, UnknownSeverity};
pub use model::storage::{EvidenceStore, LockMode, ObjectLock, Storage};
pub use model::values::{Cidr, ClockTime, LabelPattern, Weekday};
pub use problem::Problem;
pub use secret::{SecretError, SecretRef};

/// Re-exported so callers can name the plan's time zone type.
pub use chrono_tz::Tz;

/// A validated plan with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub plan: Plan,
    pub source: PlanSource,
    /// Hex SHA-256 of the file text: the "plan version" approvals bind to.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanSource {
    File(PathBuf),
    Builtin,
}

impl PlanSource {
    /// The path, or "built-in example plan".
    pub fn display(&self) -> String {
        match self {
            PlanSource::File(path) => path.display().to_string(),
            PlanSource::Builtin => "built-in example plan".to_owned(),
        }
    }
}

/// Why a plan could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "cannot read plan file {}: {source}; pass --config FILE or create ./warroom.toml",
        path.display()
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", invalid_message(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn invalid_message(path: &std::path::Path, problems: &[Problem]) -> String {
    let count = match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    let mut out = format!("plan file {} is invalid ({count}):", path.display());
    for p in problems {
        out.push('\n');
        out.push_str(&p.to_string());
    }
    out
}
