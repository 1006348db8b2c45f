//! Evacuating and restoring a member (`POST /1.0/cluster/members/NAME/state`), and the plan
//! Corral prints for `--dry-run`.

use serde::{Deserialize, Serialize};

/// LXD's `ClusterMemberStatePost`, with Corral's `dry_run`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMemberStatePost {
    /// `evacuate` or `restore`.
    pub action: String,
    /// Evacuate: `stop`, `migrate` or `live-migrate` (empty: each instance's
    /// `cluster.evacuate`); restore: `skip` or empty.
    #[serde(default)]
    pub mode: String,
    /// Corral: answer the plan at once, changing nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// One instance's part of an evacuation or restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvacuationStep {
    /// The instance.
    pub instance: String,
    /// `migrate`, `stop`, `stay`, `start` or `move-back`.
    pub action: String,
    /// The member holding it now.
    pub source: String,
    /// The member holding it after.
    pub destination: String,
    /// Whether it is stopped first.
    pub stop_first: bool,
    /// Whether it is started at the end.
    pub start_after: bool,
    /// Why, when not the plain rule.
    #[serde(default)]
    pub note: String,
}

/// What an evacuation or restore does, in the order it does it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvacuationPlan {
    /// The member.
    pub member: String,
    /// `evacuate` or `restore`.
    pub action: String,
    /// One step per instance concerned.
    pub steps: Vec<EvacuationStep>,
}
