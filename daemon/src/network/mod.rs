//! Networks defined once for the cluster and created on every member, with LXD's two-phase
//! creation (the rules are `cluster::two_phase`'s): `--target` defines a network on one
//! member (Pending), the cluster-wide create marks it Errored, has every member make its
//! bridge and mark its own part Created, then marks it Created. A member that cannot be
//! reached fails the create at once, naming it; running the create again finishes it.
//! The create records the network as realised, so a member joining later makes its bridge
//! too; the bootstrap preseed's network is never realised, so never a bridge on the host.

pub mod activation;
pub mod bridge;
pub mod config;
pub mod lease;

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::{MemberStatus, NetworkPut, NetworksPost};

use crate::cluster::two_phase::{self, Existing, MemberRow, Resource, State};
use crate::db::batch::Batch;
use crate::db::global::networks::{self, NetworkRow};
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::{Node, Read};
use crate::peers::Peers;

/// Networks live in LXD's default project (the only one with member-specific keys).
pub const PROJECT: &str = "default";

/// How long a member may take to make or remove its bridge when told to.
const MEMBER_WORK: Duration = Duration::from_secs(15);

/// What a member is told to do with its part of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Make (or bring up to date) its bridge and mark its part Created.
    Apply,
    /// Remove its bridge.
    Remove,
}

/// What a create did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Defined on one member (`--target`), waiting for the cluster-wide create.
    PendingOn(String),
    /// Created on every member.
    Everywhere,
}

/// The rules' view of a stored network.
fn existing(row: &NetworkRow) -> Existing {
    Existing {
        kind: row.kind.clone(),
        state: State::from_db(row.state),
        members: row
            .members
            .iter()
            .map(|m| MemberRow {
                member: m.name.clone(),
                state: State::from_db(m.state),
            })
            .collect(),
        has_global_config: !row.config.is_empty(),
    }
}

fn refused(e: two_phase::TwoPhaseError) -> Error {
    Error::BadRequest(e.to_string())
}

fn not_found() -> Error {
    Error::NotFound("Network not found".into())
}

/// A read that decides must be current: one from an unconfirmed copy is refused.
fn current<T>(read: Read<T>) -> Result<T> {
    match read.stale {
        None => Ok(read.value),
        Some(stale) => Err(Error::Unavailable(format!(
            "no database leader confirmed {}'s copy, so the network's state cannot be decided on; retry once the cluster has a leader ('corral cluster list')",
            stale.member
        ))),
    }
}

/// Every network, as of now.
pub async fn list(node: &Node) -> Result<Read<Vec<NetworkRow>>> {
    node.read_current(|c| networks::list(c, PROJECT)).await
}

/// Network `name`, as of now.
pub async fn get(node: &Node, name: &str) -> Result<Read<Result<NetworkRow>>> {
    let name = name.to_owned();
    let read = node
        .read_current(move |c| networks::get(c, PROJECT, &name))
        .await?;
    Ok(Read {
        value: read.value.ok_or_else(not_found),
        stale: read.stale,
    })
}

/// The members (in id order) and network `name` as of now.
async fn members_and(
    node: &Node,
    name: &str,
) -> Result<(Vec<queries::MemberRow>, Option<NetworkRow>)> {
    let name = name.to_owned();
    let read = node
        .read_current(move |c| {
            let mut members = queries::members(c)?;
            members.sort_by_key(|m| m.id);
            Ok((members, networks::get(c, PROJECT, &name)?))
        })
        .await?;
    current(read)
}

fn member_named<'a>(
    members: &'a [queries::MemberRow],
    name: &str,
) -> Result<&'a queries::MemberRow> {
    members.iter().find(|m| m.name == name).ok_or_else(|| {
        Error::NotFound(format!(
            "Cluster member {name:?} not found; 'corral cluster list' shows the members"
        ))
    })
}

/// `POST /1.0/networks[?target=MEMBER]`.
pub async fn create(node: &Node, post: &NetworksPost, target: Option<&str>) -> Result<Created> {
    config::check_name(&post.name).map_err(Error::BadRequest)?;
    let kind = config::check_kind(&post.kind).map_err(Error::BadRequest)?;
    let (members, row) = members_and(node, &post.name).await?;
    let known = row.as_ref().map(existing);
    match target {
        Some(target) => {
            let member = member_named(&members, target)?;
            two_phase::check_targeted_create(
                Resource::Network,
                known.as_ref(),
                target,
                kind,
                &post.config,
            )
            .map_err(refused)?;
            config::check(&post.name, &post.config).map_err(Error::BadRequest)?;
            let mut batch = Batch::new();
            networks::define_on_member(
                &mut batch,
                PROJECT,
                &post.name,
                kind,
                member.id,
                &post.config,
            );
            node.propose(batch).await?;
            Ok(Created::PendingOn(target.to_owned()))
        }
        None => {
            let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
            let plan = two_phase::plan_cluster_create(
                Resource::Network,
                known.as_ref(),
                &names,
                kind,
                &post.config,
            )
            .map_err(refused)?;
            config::check(&post.name, &post.config).map_err(Error::BadRequest)?;
            let (global, own) = two_phase::split_config(Resource::Network, &post.config);
            if plan.insert_resource {
                // One member, no --target first: that member's keys are given here.
                let mut batch = Batch::new();
                networks::define_on_member(
                    &mut batch,
                    PROJECT,
                    &post.name,
                    kind,
                    members[0].id,
                    &own,
                );
                node.propose(batch).await?;
            }
            let (members, row) = members_and(node, &post.name).await?;
            let row = row.ok_or_else(not_found)?;
            let mut batch = Batch::new();
            if plan.store_global_config {
                networks::set_global(&mut batch, row.id, &post.description, &global);
            }
            networks::set_state(&mut batch, row.id, two_phase::STATE_WHILE_CREATING.to_db());
            // Made as bridges from now on, so a member joining later makes its bridge too.
            networks::mark_realised(&mut batch, row.id);
            node.propose(batch).await?;
            let on: Vec<&queries::MemberRow> = members
                .iter()
                .filter(|m| plan.create_on.contains(&m.name))
                .collect();
            let failures = on_members(node, &on, &post.name, Work::Apply).await;
            finish_create(node, &post.name, failures).await?;
            Ok(Created::Everywhere)
        }
    }
}

/// Records the outcome of a cluster-wide create: Created when every member's part is,
/// else it stays Errored and the error names each member that failed and why.
async fn finish_create(node: &Node, name: &str, failures: Vec<(String, String)>) -> Result<()> {
    if !failures.is_empty() {
        let each: Vec<String> = failures
            .iter()
            .map(|(member, why)| format!("member {member}: {why}"))
            .collect();
        return Err(Error::Unavailable(format!(
            "Failed to create network {name:?} on {}; the network is Errored: once the cause is fixed (the member running again), run 'corral network create {name}' again to finish it on the members left",
            each.join("; ")
        )));
    }
    let (_, row) = members_and(node, name).await?;
    let row = row.ok_or_else(not_found)?;
    let state = two_phase::global_state_after(&existing(&row).members);
    let mut batch = Batch::new();
    networks::set_state(&mut batch, row.id, state.to_db());
    node.propose(batch).await?;
    Ok(())
}

/// Tells each member to do `work` (here in-process, elsewhere as a member call, all at
/// once, each bounded); the members that failed, with why.
async fn on_members(
    node: &Node,
    members: &[&queries::MemberRow],
    name: &str,
    work: Work,
) -> Vec<(String, String)> {
    let mut failures = Vec::new();
    let mut remote = Vec::new();
    let offline = offline_members(node).await;
    for m in members {
        if let Some(why) = offline.get(&m.name).filter(|_| m.id != node.id()) {
            // Named at once, as LXD's notifier refuses an offline member, not after a wait.
            failures.push((m.name.clone(), format!("it is offline ({why})")));
        } else if m.id == node.id() {
            if let Err(e) = here(node, name, work).await {
                failures.push((m.name.clone(), e.to_string()));
            }
        } else {
            remote.push((m.name.clone(), m.address.clone()));
        }
    }
    if remote.is_empty() {
        return failures;
    }
    let peers = match Peers::of(node) {
        Ok(p) => p,
        Err(e) => {
            failures.extend(remote.into_iter().map(|(n, _)| (n, e.to_string())));
            return failures;
        }
    };
    let network = name.to_owned();
    let answers = peers
        .fan_out(remote, MEMBER_WORK, move |member| {
            let network = network.clone();
            async move {
                match work {
                    Work::Apply => member.apply_network_here(&network).await,
                    Work::Remove => member.remove_network_here(&network).await,
                }
            }
        })
        .await;
    for (name, answer) in answers {
        if let Err(e) = answer {
            failures.push((name, e.to_string()));
        }
    }
    failures
}

/// The members the heartbeats say are offline, with why; none when that cannot be read.
async fn offline_members(node: &Node) -> BTreeMap<String, String> {
    if !node.is_clustered() {
        return BTreeMap::new();
    }
    crate::cluster::members::list(node)
        .await
        .map(|all| {
            all.into_iter()
                .filter(|m| m.status == MemberStatus::Offline)
                .map(|m| (m.server_name, m.message))
                .collect()
        })
        .unwrap_or_default()
}

/// Does `work` on this member's own part, in-process.
async fn here(node: &Node, name: &str, work: Work) -> Result<()> {
    match work {
        Work::Apply => apply_here(node, name).await,
        Work::Remove => remove_here(node, name).await,
    }
}

/// This member makes (or brings up to date) its bridge for network `name` and marks its
/// own part Created: what a member told of a cluster-wide create does.
pub async fn apply_here(node: &Node, name: &str) -> Result<()> {
    let row = current(get(node, name).await?)?.map_err(|_| {
        Error::NotFound(format!(
            "network {name:?} is not defined in the cluster database"
        ))
    })?;
    let own = row
        .members
        .iter()
        .find(|m| m.id == node.id())
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "network {name:?} is not defined on this member; define it first with --target"
            ))
        })?;
    let spec = config::bridge_spec(name, &row.config, &own.config);
    bridge::ensure(node.dirs.root(), &spec)
        .await
        .map_err(bridge_error)?;
    if State::from_db(own.state) != State::Created {
        let mut batch = Batch::new();
        networks::set_member_state(&mut batch, row.id, node.id(), State::Created.to_db());
        node.propose(batch).await?;
    }
    Ok(())
}

/// After this member joined: it makes its bridge for every network made as bridges (through
/// the API's cluster-wide create) in which the join gave it a Created part, as LXD does
/// for a joiner. The bootstrap preseed's network is not one, so it is never made here.
pub async fn create_local_parts(node: &Node) -> Result<()> {
    activation::start(node, activation::Start::All)
        .await
        .map(|_| ())
}

/// This member removes its bridge for network `name` (if it made one).
pub async fn remove_here(node: &Node, name: &str) -> Result<()> {
    config::check_name(name).map_err(Error::BadRequest)?;
    bridge::remove(node.dirs.root(), name)
        .await
        .map_err(bridge_error)
}

fn bridge_error(e: bridge::BridgeError) -> Error {
    match e {
        bridge::BridgeError::NotPermitted { .. } => Error::Forbidden(e.to_string()),
        bridge::BridgeError::Taken(_) => Error::Conflict(e.to_string()),
        bridge::BridgeError::NoSuchInterface(_) => Error::BadRequest(e.to_string()),
        bridge::BridgeError::Ip { .. } => Error::Internal(e.to_string()),
    }
}

/// `PUT`/`PATCH /1.0/networks/NAME[?target=MEMBER]`: `put` is the whole writable part as it
/// should be (for a PATCH, the caller merged it). Without a target only cluster-wide keys
/// may change; with one, only that member's own keys. Members with a Created part apply it.
pub async fn update(node: &Node, name: &str, target: Option<&str>, put: &NetworkPut) -> Result<()> {
    let (members, row) = members_and(node, name).await?;
    let row = row.ok_or_else(not_found)?;
    let own = match target {
        Some(t) => {
            member_named(&members, t)?;
            Some(row.member(t).ok_or_else(|| {
                Error::NotFound(format!("network {name:?} is not defined on member {t:?}"))
            })?)
        }
        None => None,
    };
    let shown = shown_config(&row, target);
    let changed: Vec<&str> = put
        .config
        .iter()
        .filter(|(k, v)| shown.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .chain(
            shown
                .keys()
                .filter(|k| !put.config.contains_key(*k))
                .map(String::as_str),
        )
        .collect();
    two_phase::check_update(
        Resource::Network,
        State::from_db(row.state),
        target,
        &changed,
    )
    .map_err(refused)?;
    let (global, member_keys) = two_phase::split_config(Resource::Network, &put.config);
    let mut batch = Batch::new();
    let apply_on: Vec<&queries::MemberRow> = match own {
        Some(part) => {
            config::check(name, &member_keys).map_err(Error::BadRequest)?;
            networks::set_member_config(&mut batch, row.id, part.id, &member_keys);
            members
                .iter()
                .filter(|m| m.id == part.id && State::from_db(part.state) == State::Created)
                .collect()
        }
        None => {
            config::check(name, &global).map_err(Error::BadRequest)?;
            networks::set_global(&mut batch, row.id, &put.description, &global);
            members
                .iter()
                .filter(|m| {
                    row.members
                        .iter()
                        .any(|p| p.id == m.id && State::from_db(p.state) == State::Created)
                })
                .collect()
        }
    };
    node.propose(batch).await?;
    let failures = on_members(node, &apply_on, name, Work::Apply).await;
    if failures.is_empty() {
        return Ok(());
    }
    let each: Vec<String> = failures
        .iter()
        .map(|(member, why)| format!("member {member}: {why}"))
        .collect();
    Err(Error::Unavailable(format!(
        "The new config of network {name:?} is stored but could not be applied on {}; once the cause is fixed, set it again to apply it",
        each.join("; ")
    )))
}

/// The config a read shows: cluster-wide keys, and with a target that member's own too.
pub fn shown_config(row: &NetworkRow, target: Option<&str>) -> BTreeMap<String, String> {
    let mut config = row.config.clone();
    if let Some(part) = target.and_then(|t| row.member(t)) {
        config.extend(part.config.clone());
    }
    config
}

/// `DELETE /1.0/networks/NAME`: every member with a Created part removes its bridge (a
/// member that cannot be reached fails the delete, naming it, and nothing is deleted),
/// then the network goes from the database. A network a profile uses is refused.
pub async fn delete(node: &Node, name: &str) -> Result<()> {
    let (members, row) = members_and(node, name).await?;
    let row = row.ok_or_else(not_found)?;
    if !row.profiles.is_empty() {
        return Err(Error::BadRequest(format!(
            "The network is currently in use: profile(s) {} have a device on it; remove those devices first",
            row.profiles.join(", ")
        )));
    }
    let on_names = two_phase::delete_on(&existing(&row));
    let on: Vec<&queries::MemberRow> = members
        .iter()
        .filter(|m| on_names.contains(&m.name))
        .collect();
    let failures = on_members(node, &on, name, Work::Remove).await;
    if !failures.is_empty() {
        let each: Vec<String> = failures
            .iter()
            .map(|(member, why)| format!("member {member}: {why}"))
            .collect();
        return Err(Error::Unavailable(format!(
            "Failed to delete network {name:?} on {}; nothing was deleted: retry once the member runs again",
            each.join("; ")
        )));
    }
    let mut batch = Batch::new();
    networks::delete(&mut batch, row.id);
    node.propose(batch).await?;
    Ok(())
}

/// Before a member leaves the cluster (a removal without `--force`): it removes the
/// bridges of its Created parts, then its parts are forgotten.
pub async fn remove_member(node: &Node, member: &queries::MemberRow) -> Result<()> {
    let rows = current(list(node).await?)?;
    let made: Vec<&NetworkRow> = rows
        .iter()
        .filter(|r| {
            r.members
                .iter()
                .any(|p| p.id == member.id && State::from_db(p.state) == State::Created)
        })
        .collect();
    for row in made {
        let failures = on_members(node, &[member], &row.name, Work::Remove).await;
        if let Some((name, why)) = failures.into_iter().next() {
            return Err(Error::Unavailable(format!(
                "{name} could not delete network {:?} before leaving: {why}; retry, or remove it with --force",
                row.name
            )));
        }
    }
    let mut batch = Batch::new();
    networks::forget_member(&mut batch, member.id);
    node.propose(batch).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use networks::MemberPart;

    fn row() -> NetworkRow {
        let part = |id: u64, name: &str, state: i64, keys: &[(&str, &str)]| MemberPart {
            id,
            name: name.into(),
            state,
            config: keys
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        NetworkRow {
            id: 7,
            project: PROJECT.into(),
            name: "n1".into(),
            kind: "bridge".into(),
            description: String::new(),
            state: State::Errored.to_db(),
            config: BTreeMap::from([("ipv4.address".to_owned(), "10.9.0.1/24".to_owned())]),
            members: vec![
                part(1, "node1", State::Created.to_db(), &[]),
                part(
                    2,
                    "node2",
                    State::Pending.to_db(),
                    &[("bridge.external_interfaces", "eth1")],
                ),
            ],
            profiles: vec![],
        }
    }

    #[test]
    fn the_rules_see_the_stored_states() {
        let seen = existing(&row());
        assert_eq!(seen.state, State::Errored);
        assert!(seen.has_global_config);
        assert_eq!(
            seen.members,
            vec![
                MemberRow {
                    member: "node1".into(),
                    state: State::Created
                },
                MemberRow {
                    member: "node2".into(),
                    state: State::Pending
                },
            ]
        );
    }

    #[test]
    fn a_target_adds_its_own_keys_to_what_is_shown() {
        let r = row();
        assert_eq!(shown_config(&r, None).len(), 1);
        let on2 = shown_config(&r, Some("node2"));
        assert_eq!(on2["bridge.external_interfaces"], "eth1");
        assert_eq!(on2["ipv4.address"], "10.9.0.1/24");
        assert_eq!(shown_config(&r, Some("node9")).len(), 1);
    }
}
