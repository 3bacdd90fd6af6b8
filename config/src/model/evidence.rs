//! `[evidence]`: what is captured from a target and how long it is kept.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Artifact {
    PodSpec,
    OwnerChain,
    ImageDigests,
    Events,
    Logs,
    PreviousLogs,
    NodeInfo,
    Checkpoint,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceCollection {
    #[serde(default = "default_collect")]
    pub collect: Vec<Artifact>,
    /// Per container and log stream; the tail is kept.
    #[serde(default = "default_max_log_bytes")]
    pub max_log_bytes: u64,
    #[serde(
        default = "default_retention",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub retention: Duration,
}

fn default_collect() -> Vec<Artifact> {
    vec![
        Artifact::PodSpec,
        Artifact::OwnerChain,
        Artifact::ImageDigests,
        Artifact::Events,
        Artifact::Logs,
        Artifact::PreviousLogs,
        Artifact::NodeInfo,
    ]
}

fn default_max_log_bytes() -> u64 {
    10 * 1024 * 1024
}

fn default_retention() -> Duration {
    Duration::from_secs(90 * 24 * 3600)
}

impl Default for EvidenceCollection {
    fn default() -> Self {
        Self {
            collect: default_collect(),
            max_log_bytes: default_max_log_bytes(),
            retention: default_retention(),
        }
    }
}
