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
mod tests {
    use super::*;

    /// `node{id}`, online, x86_64, `all`, in `default`, with `instances` instances.
    fn member(id: u64, instances: u64) -> MemberLoad {
        MemberLoad {
            id,
            name: format!("node{id}"),
            architecture: "x86_64".into(),
            availability: Availability::Online,
            scheduler: SchedulerInstance::All,
            groups: vec!["default".into()],
            instances,
            creating: 0,
        }
    }

    fn with(mut m: MemberLoad, f: impl FnOnce(&mut MemberLoad)) -> MemberLoad {
        f(&mut m);
        m
    }

    fn groups() -> Vec<String> {
        vec!["default".into(), "gpu".into(), "empty".into()]
    }

    fn run(members: &[MemberLoad], target: Target, arch: &[&str]) -> Result<String, String> {
        let architectures: Vec<String> = arch.iter().map(|a| (*a).to_owned()).collect();
        let groups = groups();
        place(
            members,
            &Request {
                target,
                architectures: &architectures,
                groups: &groups,
            },
        )
        .map(|p| match p.group {
            Some(g) => format!("{}@{g}", p.member),
            None => p.member,
        })
        .map_err(|e| e.to_string())
    }

    fn any() -> Target {
        Target::Any
    }
    fn to(name: &str) -> Target {
        Target::Member(name.into())
    }
    fn at(group: &str) -> Target {
        Target::Group(group.into())
    }

    const NONE_FITS: &str = "No suitable cluster member could be found";

    /// What a case is called, the members, the target, the architectures, and the member
    /// chosen (`NAME` or `NAME@GROUP`) or the refusal.
    type Case = (
        &'static str,
        Vec<MemberLoad>,
        Target,
        &'static [&'static str],
        Result<&'static str, &'static str>,
    );

    #[test]
    fn placement_follows_lxd_rule() {
        let gpu = |m: &mut MemberLoad| m.groups = vec!["gpu".into()];
        let both = |m: &mut MemberLoad| m.groups = vec!["default".into(), "gpu".into()];
        let manual = |m: &mut MemberLoad| m.scheduler = SchedulerInstance::Manual;
        let group_only = |m: &mut MemberLoad| m.scheduler = SchedulerInstance::Group;
        let state = |a: Availability| move |m: &mut MemberLoad| m.availability = a;
        let arch = |a: &'static str| move |m: &mut MemberLoad| m.architecture = a.into();

        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("fewest instances wins",
             vec![member(1, 2), member(2, 0), member(3, 1)], any(), &[], Ok("node2")),
            ("tie goes to the lowest id, not the first listed",
             vec![member(3, 0), member(2, 0), member(1, 0)], any(), &[], Ok("node1")),
            ("tie among the fewest only",
             vec![member(1, 5), member(2, 1), member(3, 1)], any(), &[], Ok("node2")),
            ("creations in flight count as instances",
             vec![with(member(1, 0), |m| m.creating = 2), member(2, 1)], any(), &[], Ok("node2")),
            ("in-flight plus existing, tie to lowest id",
             vec![with(member(1, 0), |m| m.creating = 1), member(2, 1)], any(), &[], Ok("node1")),
            ("evacuated member excluded",
             vec![with(member(1, 0), state(Availability::Evacuated)), member(2, 3)], any(), &[], Ok("node2")),
            ("offline member excluded",
             vec![with(member(1, 0), state(Availability::Offline)), member(2, 3)], any(), &[], Ok("node2")),
            ("pending member excluded",
             vec![with(member(1, 0), state(Availability::Pending)), member(2, 3)], any(), &[], Ok("node2")),
            ("blocked member excluded",
             vec![with(member(1, 0), state(Availability::Blocked)), member(2, 3)], any(), &[], Ok("node2")),
            ("manual member skipped automatically",
             vec![with(member(1, 0), manual), member(2, 4)], any(), &[], Ok("node2")),
            ("group member skipped without a group target",
             vec![with(member(1, 0), group_only), member(2, 4)], any(), &[], Ok("node2")),
            ("no candidate at all",
             vec![with(member(1, 0), manual), with(member(2, 0), state(Availability::Offline))],
             any(), &[], Err(NONE_FITS)),
            ("no members",
             vec![], any(), &[], Err(NONE_FITS)),
            // --target MEMBER
            ("target member used although others have fewer",
             vec![member(1, 0), member(2, 9)], to("node2"), &[], Ok("node2")),
            ("target member used although manual",
             vec![member(1, 0), with(member(2, 9), manual)], to("node2"), &[], Ok("node2")),
            ("target member used although group-only",
             vec![member(1, 0), with(member(2, 9), group_only)], to("node2"), &[], Ok("node2")),
            ("target unknown member",
             vec![member(1, 0)], to("node7"), &[], Err("Cluster member not found")),
            ("target evacuated member",
             vec![with(member(1, 0), state(Availability::Evacuated))], to("node1"), &[],
             Err("Cluster member is evacuated")),
            ("target offline member",
             vec![with(member(1, 0), state(Availability::Offline))], to("node1"), &[],
             Err("Cluster member \"node1\" is offline: start it, or target another member (or none, to let the cluster choose)")),
            ("target pending member",
             vec![with(member(1, 0), state(Availability::Pending))], to("node1"), &[],
             Err("Cluster member \"node1\" is still joining the cluster: wait until 'corral cluster list' shows it online, or target another member")),
            ("target blocked member",
             vec![with(member(1, 0), state(Availability::Blocked))], to("node1"), &[],
             Err("Cluster member \"node1\" is blocked (its version differs from the other members'): upgrade the members to one version, or target another member")),
            ("target member of another architecture",
             vec![with(member(1, 0), arch("aarch64"))], to("node1"), &["x86_64"],
             Err("Requested architecture isn't supported by this host")),
            // --target @GROUP
            ("group target: fewest among its members, group recorded",
             vec![member(1, 0), with(member(2, 3), gpu), with(member(3, 1), gpu)], at("gpu"), &[], Ok("node3@gpu")),
            ("group target: manual member of the group skipped",
             vec![with(member(2, 0), |m| { gpu(m); manual(m) }), with(member(3, 5), gpu)], at("gpu"), &[], Ok("node3@gpu")),
            ("group target: group-only member of that group taken",
             vec![member(1, 0), with(member(2, 4), |m| { gpu(m); group_only(m) })], at("gpu"), &[], Ok("node2@gpu")),
            ("group target: group-only member of another group skipped",
             vec![with(member(1, 0), group_only), with(member(2, 4), gpu)], at("gpu"), &[], Ok("node2@gpu")),
            ("group-only member in two groups, targeted through either",
             vec![with(member(1, 0), |m| { both(m); group_only(m) }), member(2, 0)], at("default"), &[], Ok("node1@default")),
            ("group target: evacuated member of the group skipped",
             vec![with(member(1, 0), |m| { gpu(m); m.availability = Availability::Evacuated }),
                  with(member(2, 7), gpu)], at("gpu"), &[], Ok("node2@gpu")),
            ("group target: tie to lowest id",
             vec![with(member(3, 1), gpu), with(member(2, 1), gpu)], at("gpu"), &[], Ok("node2@gpu")),
            ("group that exists but holds no member",
             vec![member(1, 0)], at("empty"), &[], Err(NONE_FITS)),
            ("group that does not exist",
             vec![member(1, 0)], at("fpga"), &[], Err("Cluster group \"fpga\" doesn't exist")),
            // architectures
            ("architecture filters candidates",
             vec![with(member(1, 0), arch("aarch64")), member(2, 6)], any(), &["x86_64"], Ok("node2")),
            ("aliases are the same architecture",
             vec![with(member(1, 0), arch("aarch64")), member(2, 6)], any(), &["arm64"], Ok("node1")),
            ("a 64-bit x86 member runs i686",
             vec![with(member(1, 0), arch("aarch64")), member(2, 6)], any(), &["i686"], Ok("node2")),
            ("an aarch64 member runs armv7l",
             vec![with(member(1, 3), arch("aarch64")), member(2, 0)], any(), &["armhf"], Ok("node1")),
            ("no member runs it",
             vec![member(1, 0), member(2, 0)], any(), &["s390x"], Err(NONE_FITS)),
            ("any of several architectures",
             vec![with(member(1, 0), arch("s390x")), member(2, 6)], any(), &["aarch64", "s390x"], Ok("node1")),
        ];
        for (what, members, target, arch, want) in cases {
            let got = run(&members, target, arch);
            assert_eq!(got, want.map(String::from).map_err(String::from), "{what}");
        }
    }

    #[test]
    fn placement_through_a_group_records_volatile_cluster_group() {
        let groups = groups();
        let members = [with(member(1, 0), |m| m.groups = vec!["gpu".into()])];
        let through_group = place(
            &members,
            &Request {
                target: Target::Group("gpu".into()),
                architectures: &[],
                groups: &groups,
            },
        )
        .unwrap();
        assert_eq!(
            through_group.volatile_config(),
            Some(("volatile.cluster.group", "gpu".to_owned()))
        );
        for target in [Target::Any, Target::Member("node1".into())] {
            let p = place(
                &members,
                &Request {
                    target,
                    architectures: &[],
                    groups: &groups,
                },
            )
            .unwrap();
            assert_eq!((p.member_id, p.volatile_config()), (1, None));
        }
    }

    #[test]
    fn targets_parse_as_lxd_reads_them() {
        let cases: Vec<(Option<&str>, bool, Result<Target, PlacementError>)> = vec![
            (None, true, Ok(Target::Any)),
            (Some(""), true, Ok(Target::Any)),
            (Some("node2"), true, Ok(Target::Member("node2".into()))),
            (Some("@gpu"), true, Ok(Target::Group("gpu".into()))),
            (None, false, Ok(Target::Any)),
            (Some("node2"), false, Err(PlacementError::NotClustered)),
        ];
        for (raw, clustered, want) in cases {
            assert_eq!(Target::parse(raw, clustered), want, "{raw:?} {clustered}");
        }
    }

    #[test]
    fn refusals_carry_lxd_status_codes() {
        let cases = [
            (PlacementError::NotClustered, 400),
            (PlacementError::MemberNotFound("x".into()), 404),
            (PlacementError::GroupNotFound("x".into()), 400),
            (PlacementError::MemberEvacuated("x".into()), 403),
            (PlacementError::NoSuitableMember, 404),
            (PlacementError::MemberOffline("x".into()), 503),
        ];
        for (e, code) in cases {
            assert_eq!(e.status_code(), code, "{e}");
        }
    }

    #[test]
    fn scheduler_instance_values_are_checked() {
        let cases = [
            ("all", Ok(SchedulerInstance::All)),
            ("", Ok(SchedulerInstance::All)),
            ("manual", Ok(SchedulerInstance::Manual)),
            ("group", Ok(SchedulerInstance::Group)),
            ("Manual", Err("'Manual'")),
            ("none", Err("'none'")),
        ];
        for (value, want) in cases {
            match (value.parse::<SchedulerInstance>(), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{value}"),
                (Err(e), Err(named)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains(named)
                            && text.contains("scheduler.instance")
                            && text.contains("all, manual, group"),
                        "{text}"
                    );
                }
                (got, want) => panic!("{value}: got {got:?}, want {want:?}"),
            }
        }
        let config = [("user.x", "1"), ("scheduler.instance", "manual")];
        assert_eq!(
            SchedulerInstance::of_config(config.iter().copied()),
            SchedulerInstance::Manual
        );
        assert_eq!(
            SchedulerInstance::of_config([("user.x", "1")].iter().copied()),
            SchedulerInstance::All
        );
    }
}
