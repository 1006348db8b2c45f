//! Where a new instance goes: LXD's placement rule as a pure function over plain data
//! (reference: lxd-clustering-facts.md section 7).
//!
//! A request names a member (`--target node2`), a cluster group (`--target @gpu`) or
//! nothing. A named member is used whatever its `scheduler.instance` says, as long as it
//! can take work now. Otherwise the candidates are the members in service (not pending,
//! evacuated, offline or blocked), not `scheduler.instance=manual`, `group` members only
//! when the request targets one of their groups, members of the targeted group, and
//! members that run one of the instance's architectures (when those are known). Of the
//! candidates, the member with the fewest instances (existing ones plus creations in
//! flight) wins; ties go to the lowest member id, which is what LXD's code does (its
//! documentation says "random").

use std::fmt;
use std::str::FromStr;

/// The member configuration key that says how a member takes part in placement.
pub const SCHEDULER_INSTANCE_KEY: &str = "scheduler.instance";

/// The instance configuration key that records the group an instance was placed through,
/// so that evacuation keeps it inside that group.
pub const VOLATILE_CLUSTER_GROUP_KEY: &str = "volatile.cluster.group";

/// A member's `scheduler.instance` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchedulerInstance {
    /// Placed on automatically (the default).
    #[default]
    All,
    /// Only when a request names it with `--target`.
    Manual,
    /// Only when a request targets one of its groups with `--target @GROUP` (or names it).
    Group,
}

impl SchedulerInstance {
    /// The values the key accepts, in the order LXD lists them.
    pub const VALUES: [&'static str; 3] = ["all", "manual", "group"];

    /// The member's mode from its configuration: unset means `all`. A stored value that
    /// is not valid (it cannot be set through the API) is read as `all`, as LXD does.
    pub fn of_config<'a>(mut config: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        config
            .find(|(k, _)| *k == SCHEDULER_INSTANCE_KEY)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_default()
    }
}

impl fmt::Display for SchedulerInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchedulerInstance::All => "all",
            SchedulerInstance::Manual => "manual",
            SchedulerInstance::Group => "group",
        })
    }
}

/// A `scheduler.instance` value that is not one of all, manual, group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot set 'scheduler.instance' to '{value}': Value must be one of all, manual, group (all: placed on automatically; manual: only with --target MEMBER; group: only with --target @GROUP for one of its groups)"
)]
pub struct InvalidSchedulerInstance {
    /// The value refused.
    pub value: String,
}

impl FromStr for SchedulerInstance {
    type Err = InvalidSchedulerInstance;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            // LXD treats an empty value as unset.
            "" | "all" => Ok(SchedulerInstance::All),
            "manual" => Ok(SchedulerInstance::Manual),
            "group" => Ok(SchedulerInstance::Group),
            other => Err(InvalidSchedulerInstance {
                value: other.to_owned(),
            }),
        }
    }
}

/// Whether a member can take a new instance now, as far as placement cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// In service and answering heartbeats.
    Online,
    /// No heartbeat within `cluster.offline_threshold`.
    Offline,
    /// Evacuated for maintenance.
    Evacuated,
    /// Still joining (database state pending).
    Pending,
    /// Waiting for the other members to reach its version (or shutting down).
    Blocked,
}

/// One member as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberLoad {
    /// Member id (placement breaks ties by the lowest).
    pub id: u64,
    /// Member name.
    pub name: String,
    /// Its primary architecture name (`x86_64`, `aarch64` ...).
    pub architecture: String,
    /// Whether it can take work now.
    pub availability: Availability,
    /// Its `scheduler.instance`.
    pub scheduler: SchedulerInstance,
    /// The cluster groups it belongs to.
    pub groups: Vec<String>,
    /// Instances it holds.
    pub instances: u64,
    /// Instance creations in flight on it (they count as instances).
    pub creating: u64,
}

impl MemberLoad {
    fn load(&self) -> u64 {
        self.instances + self.creating
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// No `--target`: any suitable member.
    Any,
    /// `--target MEMBER`.
    Member(String),
    /// `--target @GROUP`.
    Group(String),
}

impl Target {
    /// Reads a `target` query parameter: absent or empty = any member, `@NAME` = a group,
    /// anything else = a member. A target on a server that is not clustered is refused,
    /// as LXD refuses it.
    pub fn parse(raw: Option<&str>, clustered: bool) -> Result<Target, PlacementError> {
        let raw = raw.unwrap_or("");
        if raw.is_empty() {
            return Ok(Target::Any);
        }
        if !clustered {
            return Err(PlacementError::NotClustered);
        }
        Ok(match raw.strip_prefix('@') {
            Some(group) => Target::Group(group.to_owned()),
            None => Target::Member(raw.to_owned()),
        })
    }
}

/// A placement request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The `--target`.
    pub target: Target,
    /// Architectures the instance can run as (from its image); empty = no filter.
    pub architectures: &'a [String],
    /// Every cluster group that exists (a targeted group must be one of them).
    pub groups: &'a [String],
}

/// Where the instance goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The chosen member's id.
    pub member_id: u64,
    /// The chosen member's name.
    pub member: String,
    /// The group it was placed through (`--target @GROUP`), to be recorded as
    /// `volatile.cluster.group`.
    pub group: Option<String>,
}

impl Placement {
    /// The instance configuration placement adds: `volatile.cluster.group` when placed
    /// through a group, nothing otherwise.
    pub fn volatile_config(&self) -> Option<(&'static str, String)> {
        self.group
            .as_ref()
            .map(|g| (VOLATILE_CLUSTER_GROUP_KEY, g.clone()))
    }
}

/// Why no member was chosen. The texts are LXD's where LXD has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// A target was given to a server that is not clustered (400).
    #[error("Target only allowed when clustered")]
    NotClustered,
    /// `--target MEMBER` names no member (404).
    #[error("Cluster member not found")]
    MemberNotFound(String),
    /// `--target @GROUP` names no group (400).
    #[error("Cluster group {0:?} doesn't exist")]
    GroupNotFound(String),
    /// `--target MEMBER` names an evacuated member (403).
    #[error("Cluster member is evacuated")]
    MemberEvacuated(String),
    /// `--target MEMBER` names a member that does not answer (503).
    #[error(
        "Cluster member {0:?} is offline: start it, or target another member (or none, to let the cluster choose)"
    )]
    MemberOffline(String),
    /// `--target MEMBER` names a member that is still joining (503).
    #[error(
        "Cluster member {0:?} is still joining the cluster: wait until 'corral cluster list' shows it online, or target another member"
    )]
    MemberPending(String),
    /// `--target MEMBER` names a member waiting for an upgrade (503).
    #[error(
        "Cluster member {0:?} is blocked (its version differs from the other members'): upgrade the members to one version, or target another member"
    )]
    MemberBlocked(String),
    /// `--target MEMBER` names a member that runs none of the instance's architectures
    /// (400; LXD refuses it on the member with this text).
    #[error("Requested architecture isn't supported by this host")]
    ArchitectureUnsupported(String),
    /// No member fits (404).
    #[error("No suitable cluster member could be found")]
    NoSuitableMember,
}

impl PlacementError {
    /// The HTTP status LXD answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            PlacementError::NotClustered
            | PlacementError::GroupNotFound(_)
            | PlacementError::ArchitectureUnsupported(_) => 400,
            PlacementError::MemberEvacuated(_) => 403,
            PlacementError::MemberNotFound(_) | PlacementError::NoSuitableMember => 404,
            PlacementError::MemberOffline(_)
            | PlacementError::MemberPending(_)
            | PlacementError::MemberBlocked(_) => 503,
        }
    }
}

/// The canonical name of an architecture (LXD's aliases: amd64 is x86_64 ...).
pub fn canonical_architecture(name: &str) -> &str {
    match name {
        "amd64" | "x64" => "x86_64",
        "i386" | "i486" | "i586" | "386" | "x86" => "i686",
        "arm64" | "armv8" => "aarch64",
        "armhf" | "armel" | "arm" | "armv7" | "armv7a" | "armv7hl" => "armv7l",
        "ppc64el" => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        other => other,
    }
}

/// What a member of this architecture also runs (LXD's personalities).
fn personalities(architecture: &str) -> &'static [&'static str] {
    match architecture {
        "x86_64" => &["i686"],
        "aarch64" => &["armv7l"],
        "ppc64" => &["ppc"],
        _ => &[],
    }
}

/// Whether a member of `architecture` runs one of `wanted` (empty = anything).
pub fn runs_any(architecture: &str, wanted: &[String]) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let own = canonical_architecture(architecture);
    let mut runs = std::iter::once(own).chain(personalities(own).iter().copied());
    runs.any(|a| wanted.iter().any(|w| canonical_architecture(w) == a))
}

/// Chooses the member for a new instance (see the module documentation).
pub fn place(members: &[MemberLoad], request: &Request<'_>) -> Result<Placement, PlacementError> {
    match &request.target {
        Target::Member(name) => place_on(members, name, request.architectures),
        Target::Group(group) => {
            if !request.groups.contains(group) {
                return Err(PlacementError::GroupNotFound(group.clone()));
            }
            least_loaded(members, Some(group), request.architectures)
        }
        Target::Any => least_loaded(members, None, request.architectures),
    }
}

/// A named member: used whatever its `scheduler.instance`, if it can take work.
fn place_on(
    members: &[MemberLoad],
    name: &str,
    architectures: &[String],
) -> Result<Placement, PlacementError> {
    let member = members
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| PlacementError::MemberNotFound(name.to_owned()))?;
    let name = name.to_owned();
    match member.availability {
        Availability::Online => {}
        Availability::Evacuated => return Err(PlacementError::MemberEvacuated(name)),
        Availability::Offline => return Err(PlacementError::MemberOffline(name)),
        Availability::Pending => return Err(PlacementError::MemberPending(name)),
        Availability::Blocked => return Err(PlacementError::MemberBlocked(name)),
    }
    if !runs_any(&member.architecture, architectures) {
        return Err(PlacementError::ArchitectureUnsupported(name));
    }
    Ok(Placement {
        member_id: member.id,
        member: member.name.clone(),
        group: None,
    })
}

/// Whether a member may be chosen automatically for a request through `group` (or none).
fn is_candidate(m: &MemberLoad, group: Option<&String>, architectures: &[String]) -> bool {
    let in_group = group.is_some_and(|g| m.groups.contains(g));
    m.availability == Availability::Online
        && match m.scheduler {
            SchedulerInstance::All => true,
            SchedulerInstance::Manual => false,
            SchedulerInstance::Group => in_group,
        }
        && (group.is_none() || in_group)
        && runs_any(&m.architecture, architectures)
}

/// The candidate with the fewest instances; ties to the lowest id.
fn least_loaded(
    members: &[MemberLoad],
    group: Option<&String>,
    architectures: &[String],
) -> Result<Placement, PlacementError> {
    members
        .iter()
        .filter(|m| is_candidate(m, group, architectures))
        .min_by_key(|m| (m.load(), m.id))
        .map(|m| Placement {
            member_id: m.id,
            member: m.name.clone(),
            group: group.cloned(),
        })
        .ok_or(PlacementError::NoSuitableMember)
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
