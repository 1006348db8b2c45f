//! LXD's two-phase creation of resources that live on every member (storage pools and
//! networks), as pure rules over plain data: which keys are member-specific, whether a
//! targeted (`--target MEMBER`) or cluster-wide create may go ahead given the states
//! already recorded, what a re-run after a partial failure does, what an update or a
//! delete may do, and the state transitions. The texts are LXD 5.0's (lxd-samples/storage_*).
//!
//! The flow the callers run (facts section 10):
//! 1. `create NAME KIND --target M key=value` for every member: only member-specific keys;
//!    the resource row is Pending, member M's row is Pending.
//! 2. `create NAME KIND` without a target: only cluster-wide keys; the resource must be
//!    pending on every member; the global state is set to Errored first (assume failure),
//!    every member creates its part and marks its own row Created, then the global state
//!    becomes Created. A re-run after a failure skips members already Created.

use std::collections::BTreeMap;

/// The kind of resource a rule applies to; the two share the scheme, not the keys or texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A storage pool (`/1.0/storage-pools`).
    StoragePool,
    /// A network (`/1.0/networks`).
    Network,
}

/// LXD's `NodeSpecificStorageConfig`.
const POOL_MEMBER_KEYS: &[&str] = &[
    "size",
    "source",
    "source.wipe",
    "volatile.initial_source",
    "zfs.pool_name",
    "lvm.thinpool_name",
    "lvm.vg_name",
];

/// LXD's `NodeSpecificNetworkConfig`.
const NETWORK_MEMBER_KEYS: &[&str] = &[
    "bgp.ipv4.nexthop",
    "bgp.ipv6.nexthop",
    "bridge.external_interfaces",
    "parent",
    "acceleration.parent",
];

impl Resource {
    /// The keys whose value differs per member.
    pub fn member_specific_keys(self) -> &'static [&'static str] {
        match self {
            Resource::StoragePool => POOL_MEMBER_KEYS,
            Resource::Network => NETWORK_MEMBER_KEYS,
        }
    }

    /// Whether `key` is set per member (with `--target`) rather than cluster-wide.
    pub fn is_member_specific(self, key: &str) -> bool {
        self.member_specific_keys().contains(&key)
    }

    /// The noun LXD uses in sentences ("The storage pool already defined ...").
    fn noun(self) -> &'static str {
        match self {
            Resource::StoragePool => "storage pool",
            Resource::Network => "network",
        }
    }

    /// The word LXD starts its "not pending"/"not defined" texts with.
    fn short(self) -> &'static str {
        match self {
            Resource::StoragePool => "Pool",
            Resource::Network => "Network",
        }
    }

    /// What the kind field is called in texts (a pool's driver, a network's type).
    fn kind_word(self) -> &'static str {
        match self {
            Resource::StoragePool => "driver",
            Resource::Network => "type",
        }
    }
}

/// A state of the resource row or of one member's row, stored as LXD stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Defined (on one or more members) but not created yet.
    Pending,
    /// Created everywhere (global) or on this member (member row).
    Created,
    /// A cluster-wide create started and did not finish; a re-run completes it.
    Errored,
}

impl State {
    /// The integer the replicated tables store (0 pending, 1 created, 2 errored).
    pub fn to_db(self) -> i64 {
        match self {
            State::Pending => 0,
            State::Created => 1,
            State::Errored => 2,
        }
    }

    /// Reads a stored state; an unknown number is treated as Errored (never as Created).
    pub fn from_db(value: i64) -> State {
        match value {
            0 => State::Pending,
            1 => State::Created,
            _ => State::Errored,
        }
    }

    /// The `status` string of the REST API.
    pub fn api_status(self) -> &'static str {
        match self {
            State::Pending => "Pending",
            State::Created => "Created",
            State::Errored => "Errored",
        }
    }
}

/// One member's row for a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    /// The member's name.
    pub member: String,
    /// Its own state for this resource.
    pub state: State,
}

/// What is recorded about a resource that already exists, in any state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    /// The pool's driver or the network's type.
    pub kind: String,
    /// The global state.
    pub state: State,
    /// One row per member it is defined on.
    pub members: Vec<MemberRow>,
    /// Whether cluster-wide (not member-specific) config keys are stored.
    pub has_global_config: bool,
}

/// A refusal, with LXD's text and the HTTP status LXD answers it with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwoPhaseError {
    /// A cluster-wide key given with `--target`.
    #[error("Config key {key:?} may not be used as member-specific key")]
    NotMemberSpecific {
        /// The key.
        key: String,
    },
    /// A member-specific key given without `--target`.
    #[error("Config key {key:?} is cluster member specific")]
    MemberSpecific {
        /// The key.
        key: String,
    },
    /// A second `--target` create for the same member.
    #[error("The {} already defined on member {member:?}", resource.noun())]
    AlreadyDefined {
        /// Pool or network.
        resource: Resource,
        /// The member named by `--target`.
        member: String,
    },
    /// A `--target` create for a resource that is already created (or errored).
    #[error("The {} is not in pending state", resource.noun())]
    NotPending {
        /// Pool or network.
        resource: Resource,
    },
    /// A `--target` or cluster-wide create naming another driver/type than the pending one.
    #[error(
        "Requested {} {} {requested:?} doesn't match {} in existing database record {existing:?}",
        resource.noun(), resource.kind_word(), resource.kind_word()
    )]
    KindMismatch {
        /// Pool or network.
        resource: Resource,
        /// The driver/type given now.
        requested: String,
        /// The one recorded.
        existing: String,
    },
    /// A cluster-wide create before any `--target` create.
    #[error("{} not pending on any node (use --target <node> first)", resource.short())]
    NotPendingAnywhere {
        /// Pool or network.
        resource: Resource,
    },
    /// A cluster-wide create while some members have no `--target` definition.
    #[error("{} not defined on nodes: {}", resource.short(), missing.join(", "))]
    NotDefinedOn {
        /// Pool or network.
        resource: Resource,
        /// The members still missing, in member order.
        missing: Vec<String>,
    },
    /// A cluster-wide create of a resource already created.
    #[error("The {} is already created", resource.noun())]
    AlreadyCreated {
        /// Pool or network.
        resource: Resource,
    },
    /// A re-run of a failed cluster-wide create that gives cluster-wide keys again.
    #[error(
        "{} already partially created. Please do not specify any global config when re-running create",
        capitalized(resource.noun())
    )]
    PartiallyCreated {
        /// Pool or network.
        resource: Resource,
    },
    /// A cluster-wide update while the resource is not Created.
    #[error("Cannot update {} global config when not in created state", resource.noun())]
    UpdateNotCreated {
        /// Pool or network.
        resource: Resource,
    },
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl TwoPhaseError {
    /// The HTTP status LXD answers with (every two-phase refusal is a bad request).
    pub fn http_status(&self) -> u16 {
        400
    }
}

/// Checks `create NAME KIND --target MEMBER key=value...`: only member-specific keys; the
/// resource, if it exists, must be pending with the same kind and not yet defined on
/// that member. Ok means: create the resource row Pending if absent, add the member's
/// row Pending with the given keys.
pub fn check_targeted_create(
    resource: Resource,
    existing: Option<&Existing>,
    member: &str,
    kind: &str,
    config: &BTreeMap<String, String>,
) -> Result<(), TwoPhaseError> {
    if let Some(key) = config.keys().find(|k| !resource.is_member_specific(k)) {
        return Err(TwoPhaseError::NotMemberSpecific { key: key.clone() });
    }
    let Some(existing) = existing else {
        return Ok(());
    };
    if existing.members.iter().any(|row| row.member == member) {
        return Err(TwoPhaseError::AlreadyDefined {
            resource,
            member: member.to_string(),
        });
    }
    if existing.state != State::Pending {
        return Err(TwoPhaseError::NotPending { resource });
    }
    if existing.kind != kind {
        return Err(TwoPhaseError::KindMismatch {
            resource,
            requested: kind.to_string(),
            existing: existing.kind.clone(),
        });
    }
    Ok(())
}

/// What a cluster-wide create does once allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterCreatePlan {
    /// Whether the resource row must be inserted (a single-member cluster's direct create).
    pub insert_resource: bool,
    /// Whether the given cluster-wide keys are stored (false on a re-run).
    pub store_global_config: bool,
    /// Members that must create their part, in member order; those already Created are
    /// left out (a re-run completes only what failed).
    pub create_on: Vec<String>,
}

/// Checks `create NAME KIND key=value...` without a target, given every member of the
/// cluster in member order. In a cluster of one member the two-phase step may be skipped:
/// the resource is created directly and member-specific keys are that member's.
pub fn plan_cluster_create(
    resource: Resource,
    existing: Option<&Existing>,
    members: &[String],
    kind: &str,
    config: &BTreeMap<String, String>,
) -> Result<ClusterCreatePlan, TwoPhaseError> {
    let single = members.len() == 1;
    if (!single || existing.is_some())
        && let Some(key) = config.keys().find(|k| resource.is_member_specific(k))
    {
        return Err(TwoPhaseError::MemberSpecific { key: key.clone() });
    }
    let Some(existing) = existing else {
        if single {
            return Ok(ClusterCreatePlan {
                insert_resource: true,
                store_global_config: true,
                create_on: members.to_vec(),
            });
        }
        return Err(TwoPhaseError::NotPendingAnywhere { resource });
    };
    if existing.state == State::Created {
        return Err(TwoPhaseError::AlreadyCreated { resource });
    }
    if existing.kind != kind {
        return Err(TwoPhaseError::KindMismatch {
            resource,
            requested: kind.to_string(),
            existing: existing.kind.clone(),
        });
    }
    let missing: Vec<String> = members
        .iter()
        .filter(|m| !existing.members.iter().any(|row| &row.member == *m))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(TwoPhaseError::NotDefinedOn { resource, missing });
    }
    let rerun = existing.state == State::Errored;
    if rerun && existing.has_global_config && !config.is_empty() {
        return Err(TwoPhaseError::PartiallyCreated { resource });
    }
    let create_on = members
        .iter()
        .filter(|m| {
            existing
                .members
                .iter()
                .any(|row| &row.member == *m && row.state != State::Created)
        })
        .cloned()
        .collect();
    Ok(ClusterCreatePlan {
        insert_resource: false,
        store_global_config: !(rerun && existing.has_global_config),
        create_on,
    })
}

/// The global state recorded before any member is asked to create its part: Errored, so
/// a failure anywhere (a member down, a bad source) leaves it Errored for a re-run.
pub const STATE_WHILE_CREATING: State = State::Errored;

/// The global state once every member has answered: Created only when every member's row
/// is Created.
pub fn global_state_after(members: &[MemberRow]) -> State {
    if !members.is_empty() && members.iter().all(|row| row.state == State::Created) {
        State::Created
    } else {
        State::Errored
    }
}

/// A member's own row after it tried to create its part: Created on success; a failure
/// leaves it as it was (Pending), as LXD does, so the re-run retries it.
pub fn member_state_after(before: State, succeeded: bool) -> State {
    if succeeded { State::Created } else { before }
}

/// Checks a config update (`set`/`unset`/PUT/PATCH) of the given keys, with or without a
/// target member.
pub fn check_update(
    resource: Resource,
    state: State,
    target: Option<&str>,
    keys: &[&str],
) -> Result<(), TwoPhaseError> {
    match target {
        Some(_) => {
            if let Some(key) = keys.iter().find(|k| !resource.is_member_specific(k)) {
                return Err(TwoPhaseError::NotMemberSpecific {
                    key: key.to_string(),
                });
            }
        }
        None => {
            if let Some(key) = keys.iter().find(|k| resource.is_member_specific(k)) {
                return Err(TwoPhaseError::MemberSpecific {
                    key: key.to_string(),
                });
            }
            if state != State::Created {
                return Err(TwoPhaseError::UpdateNotCreated { resource });
            }
        }
    }
    Ok(())
}

/// The members that must remove their part when the resource is deleted: those whose own
/// row is Created (a pending resource has none: deleting it only drops its rows).
pub fn delete_on(existing: &Existing) -> Vec<String> {
    existing
        .members
        .iter()
        .filter(|row| row.state == State::Created)
        .map(|row| row.member.clone())
        .collect()
}

/// Splits given keys into cluster-wide and member-specific ones, for callers that store them.
pub fn split_config(
    resource: Resource,
    config: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| !resource.is_member_specific(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rows(pairs: &[(&str, State)]) -> Vec<MemberRow> {
        pairs
            .iter()
            .map(|(m, s)| MemberRow {
                member: m.to_string(),
                state: *s,
            })
            .collect()
    }

    fn existing(state: State, members: &[(&str, State)], global: bool) -> Existing {
        Existing {
            kind: "dir".into(),
            state,
            members: rows(members),
            has_global_config: global,
        }
    }

    fn three() -> Vec<String> {
        vec!["node1".into(), "node2".into(), "node3".into()]
    }

    use State::{Created, Errored, Pending};

    /// What is asked, of what exists, for which member, with which keys, and the answer.
    type TargetedCase<'a> = (
        &'a str,
        Option<&'a Existing>,
        &'a str,
        BTreeMap<String, String>,
        Result<(), String>,
    );
    /// What is asked, of what exists, with which keys, and the refusal.
    type ClusterCase<'a> = (
        &'a str,
        Option<&'a Existing>,
        BTreeMap<String, String>,
        &'a str,
    );
    /// The state, the target, the keys, and the answer.
    type UpdateCase<'a> = (State, Option<&'a str>, Vec<&'a str>, Result<(), String>);

    #[test]
    fn member_specific_keys_are_lxds() {
        let cases = [
            (Resource::StoragePool, "source", true),
            (Resource::StoragePool, "size", true),
            (Resource::StoragePool, "zfs.pool_name", true),
            (Resource::StoragePool, "rsync.bwlimit", false),
            (Resource::StoragePool, "parent", false),
            (Resource::Network, "parent", true),
            (Resource::Network, "bridge.external_interfaces", true),
            (Resource::Network, "ipv4.address", false),
            (Resource::Network, "source", false),
        ];
        for (resource, key, specific) in cases {
            assert_eq!(
                resource.is_member_specific(key),
                specific,
                "{resource:?} {key}"
            );
        }
    }

    #[test]
    fn targeted_create_refusals_carry_lxds_texts() {
        let pending1 = existing(Pending, &[("node1", Pending)], false);
        let created = existing(Created, &[("node1", Created)], false);
        let cases: Vec<TargetedCase> = vec![
            ("first", None, "node1", cfg(&[("source", "/x")]), Ok(())),
            ("no keys", None, "node1", cfg(&[]), Ok(())),
            (
                "second member",
                Some(&pending1),
                "node2",
                cfg(&[("source", "/y")]),
                Ok(()),
            ),
            (
                "cluster-wide key",
                None,
                "node2",
                cfg(&[("rsync.bwlimit", "10")]),
                Err("Config key \"rsync.bwlimit\" may not be used as member-specific key".into()),
            ),
            (
                "same member again",
                Some(&pending1),
                "node1",
                cfg(&[("source", "/z")]),
                Err("The storage pool already defined on member \"node1\"".into()),
            ),
            (
                "already created",
                Some(&created),
                "node2",
                cfg(&[]),
                Err("The storage pool is not in pending state".into()),
            ),
        ];
        for (what, existing, member, config, want) in cases {
            let got =
                check_targeted_create(Resource::StoragePool, existing, member, "dir", &config)
                    .map_err(|e| e.to_string());
            assert_eq!(got, want, "{what}");
        }
        let mismatch = check_targeted_create(
            Resource::StoragePool,
            Some(&pending1),
            "node2",
            "zfs",
            &cfg(&[]),
        )
        .unwrap_err();
        assert_eq!(
            mismatch.to_string(),
            "Requested storage pool driver \"zfs\" doesn't match driver in existing database record \"dir\""
        );
    }

    #[test]
    fn cluster_create_refusals_carry_lxds_texts() {
        let one = existing(Pending, &[("node1", Pending)], false);
        let created = existing(
            Created,
            &[("node1", Created), ("node2", Created), ("node3", Created)],
            false,
        );
        let errored_global = existing(
            Errored,
            &[("node1", Created), ("node2", Pending), ("node3", Pending)],
            true,
        );
        let cases: Vec<ClusterCase> = vec![
            (
                "before pending",
                None,
                cfg(&[]),
                "Pool not pending on any node (use --target <node> first)",
            ),
            (
                "member key",
                Some(&one),
                cfg(&[("source", "/tmp/x")]),
                "Config key \"source\" is cluster member specific",
            ),
            (
                "member key first",
                None,
                cfg(&[("source", "/tmp/x")]),
                "Config key \"source\" is cluster member specific",
            ),
            (
                "missing members",
                Some(&one),
                cfg(&[]),
                "Pool not defined on nodes: node2, node3",
            ),
            (
                "created",
                Some(&created),
                cfg(&[]),
                "The storage pool is already created",
            ),
            (
                "re-run with global config",
                Some(&errored_global),
                cfg(&[("rsync.bwlimit", "1")]),
                "Storage pool already partially created. Please do not specify any global config when re-running create",
            ),
        ];
        for (what, existing, config, want) in cases {
            let got =
                plan_cluster_create(Resource::StoragePool, existing, &three(), "dir", &config)
                    .unwrap_err()
                    .to_string();
            assert_eq!(got, want, "{what}");
        }
        let net = plan_cluster_create(Resource::Network, None, &three(), "bridge", &cfg(&[]))
            .unwrap_err();
        assert_eq!(
            net.to_string(),
            "Network not pending on any node (use --target <node> first)"
        );
    }

    #[test]
    fn cluster_create_plans_first_run_and_rerun() {
        let all_pending = existing(
            Pending,
            &[("node1", Pending), ("node2", Pending), ("node3", Pending)],
            false,
        );
        let plan = plan_cluster_create(
            Resource::StoragePool,
            Some(&all_pending),
            &three(),
            "dir",
            &cfg(&[("rsync.bwlimit", "1")]),
        )
        .unwrap();
        assert_eq!(
            plan,
            ClusterCreatePlan {
                insert_resource: false,
                store_global_config: true,
                create_on: three()
            }
        );
        // A re-run after node2 was down: node1 and node3 are Created and skipped.
        let partial = existing(
            Errored,
            &[("node1", Created), ("node2", Pending), ("node3", Created)],
            true,
        );
        let plan = plan_cluster_create(
            Resource::StoragePool,
            Some(&partial),
            &three(),
            "dir",
            &cfg(&[]),
        )
        .unwrap();
        assert_eq!(
            plan,
            ClusterCreatePlan {
                insert_resource: false,
                store_global_config: false,
                create_on: vec!["node2".into()]
            }
        );
        // A first run that stored no global config may give some on the re-run.
        let partial_no_global = existing(
            Errored,
            &[("node1", Pending), ("node2", Pending), ("node3", Pending)],
            false,
        );
        let plan = plan_cluster_create(
            Resource::StoragePool,
            Some(&partial_no_global),
            &three(),
            "dir",
            &cfg(&[("rsync.bwlimit", "1")]),
        )
        .unwrap();
        assert!(plan.store_global_config);
        assert_eq!(plan.create_on, three());
    }

    #[test]
    fn a_single_member_may_create_directly() {
        let plan = plan_cluster_create(
            Resource::StoragePool,
            None,
            &["solo".to_string()],
            "dir",
            &cfg(&[("source", "/srv")]),
        )
        .unwrap();
        assert_eq!(
            plan,
            ClusterCreatePlan {
                insert_resource: true,
                store_global_config: true,
                create_on: vec!["solo".into()]
            }
        );
    }

    #[test]
    fn states_move_as_lxds() {
        assert_eq!(STATE_WHILE_CREATING, Errored);
        let cases = [
            (rows(&[("a", Created), ("b", Created)]), Created),
            (rows(&[("a", Created), ("b", Pending)]), Errored),
            (rows(&[]), Errored),
        ];
        for (members, want) in cases {
            assert_eq!(global_state_after(&members), want, "{members:?}");
        }
        assert_eq!(member_state_after(Pending, true), Created);
        assert_eq!(member_state_after(Pending, false), Pending);
        for state in [Pending, Created, Errored] {
            assert_eq!(State::from_db(state.to_db()), state);
        }
        assert_eq!(State::from_db(7), Errored);
        assert_eq!(Errored.api_status(), "Errored");
    }

    #[test]
    fn updates_follow_the_target_rules() {
        let cases: Vec<UpdateCase> = vec![
            (Created, None, vec!["rsync.bwlimit"], Ok(())),
            (Created, Some("node2"), vec!["source"], Ok(())),
            (Pending, Some("node2"), vec!["source"], Ok(())),
            (
                Created,
                None,
                vec!["source"],
                Err("Config key \"source\" is cluster member specific".into()),
            ),
            (
                Created,
                Some("node2"),
                vec!["rsync.bwlimit"],
                Err("Config key \"rsync.bwlimit\" may not be used as member-specific key".into()),
            ),
            (
                Pending,
                None,
                vec!["rsync.bwlimit"],
                Err("Cannot update storage pool global config when not in created state".into()),
            ),
        ];
        for (state, target, keys, want) in cases {
            let got = check_update(Resource::StoragePool, state, target, &keys)
                .map_err(|e| e.to_string());
            assert_eq!(got, want, "{state:?} {target:?} {keys:?}");
        }
    }

    #[test]
    fn delete_removes_only_created_parts() {
        let pending = existing(Pending, &[("node1", Pending), ("node2", Pending)], false);
        assert!(delete_on(&pending).is_empty());
        let partial = existing(Errored, &[("node1", Created), ("node2", Pending)], true);
        assert_eq!(delete_on(&partial), vec!["node1".to_string()]);
    }

    #[test]
    fn config_splits_by_member_specific_keys() {
        let (global, member) = split_config(
            Resource::Network,
            &cfg(&[("parent", "eth0"), ("ipv4.address", "auto")]),
        );
        assert_eq!(global, cfg(&[("ipv4.address", "auto")]));
        assert_eq!(member, cfg(&[("parent", "eth0")]));
    }
}
