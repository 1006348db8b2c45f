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

use corral_shared::api::{NETWORK_MEMBER_KEYS, POOL_MEMBER_KEYS};

/// The kind of resource a rule applies to; the two share the scheme, not the keys or texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A storage pool (`/1.0/storage-pools`).
    StoragePool,
    /// A network (`/1.0/networks`).
    Network,
}

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
#[path = "two_phase_tests.rs"]
mod tests;
