//! Storage pools: LXD's two-phase creation across members (`--target` per member, then
//! cluster-wide: global Errored first, every member creates its directory and marks its own
//! part Created, then global Created), listing with each member's view, updates, deletes.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::{MemberStatus, StoragePool, StoragePoolPut, StoragePoolsPost};

use super::dir;
use crate::cluster::members;
use crate::cluster::two_phase::{self, Existing, MemberRow, Resource, State};
use crate::db::batch::Batch;
use crate::db::global::queries::{self, MemberRow as Member};
use crate::db::global::storage_pools::{self as db, PoolMember, PoolRecord};
use crate::db::global::volumes::{self as db_volumes, VolumeRow};
use crate::error::{Error, Result};
use crate::node::{Node, Read};
use crate::peers::{PeerError, Peers};

/// LXD's answer for a pool that does not exist.
pub const NOT_FOUND: &str = "Storage pool not found";

/// The only driver Corral provides.
pub const DRIVER: &str = "dir";

/// How long a member may take to create or delete its part of a pool.
const MEMBER_WAIT: Duration = Duration::from_secs(20);

/// The cluster-wide keys the `dir` driver takes (besides `user.*`).
const DIR_KEYS: &[&str] = &["rsync.bwlimit", "rsync.compression"];

/// What a create did, for the client's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// `--target`: defined on that member, pending.
    PendingOn(String),
    /// Created on every member.
    Everywhere,
}

/// The pools and members as of one read.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Every pool.
    pub pools: Vec<PoolRecord>,
    /// Every member, in id order.
    pub members: Vec<Member>,
    /// Profiles using each pool (by pool name).
    pub profiles: BTreeMap<String, Vec<String>>,
    /// Custom volumes of each pool (by pool name).
    pub volumes: BTreeMap<String, Vec<VolumeRow>>,
}

fn read_all(c: &rusqlite::Connection) -> rusqlite::Result<Snapshot> {
    let pools = db::pools(c)?;
    let mut profiles = BTreeMap::new();
    let mut volumes = BTreeMap::new();
    for p in &pools {
        profiles.insert(p.name.clone(), db::profiles_using(c, &p.name)?);
        volumes.insert(p.name.clone(), db_volumes::volumes(c, &p.name)?);
    }
    let mut members = queries::members(c)?;
    members.sort_by_key(|m| m.id);
    Ok(Snapshot {
        pools,
        members,
        profiles,
        volumes,
    })
}

/// Every pool and member as of now (linearizable, or marked stale).
pub async fn snapshot(node: &Node) -> Result<Read<Snapshot>> {
    node.read_current(read_all).await
}

/// The two-phase view of a stored pool.
pub fn existing(record: &PoolRecord) -> Existing {
    Existing {
        kind: record.driver.clone(),
        state: State::from_db(record.state),
        members: record
            .members
            .iter()
            .map(|m| MemberRow {
                member: m.name.clone(),
                state: State::from_db(m.state),
            })
            .collect(),
        has_global_config: !record.config.is_empty(),
    }
}

/// A stored pool as the API shows it: cluster-wide, or (`target`) as that member has it,
/// its own keys merged and its own state.
pub fn to_api(
    record: &PoolRecord,
    target: Option<&PoolMember>,
    profiles: &[String],
    volumes: &[VolumeRow],
) -> StoragePool {
    let mut config = record.config.clone();
    let mut status = State::from_db(record.state);
    if let Some(part) = target {
        config.extend(part.config.clone());
        status = State::from_db(part.state);
    }
    let mut used_by: Vec<String> = profiles
        .iter()
        .map(|p| format!("/1.0/profiles/{p}"))
        .collect();
    used_by.extend(
        volumes
            .iter()
            .filter(|v| target.is_none_or(|t| t.id == v.member_id))
            .map(|v| {
                format!(
                    "/1.0/storage-pools/{}/volumes/custom/{}?target={}",
                    record.name, v.name, v.member
                )
            }),
    );
    StoragePool {
        config,
        description: record.description.clone(),
        name: record.name.clone(),
        driver: record.driver.clone(),
        used_by,
        status: status.api_status().into(),
        locations: record.members.iter().map(|m| m.name.clone()).collect(),
    }
}

/// The member named `target`, refused with the names there are when none has it.
pub fn member_named<'a>(members: &'a [Member], target: &str) -> Result<&'a Member> {
    members.iter().find(|m| m.name == target).ok_or_else(|| {
        Error::NotFound(format!(
            "No cluster member called '{target}': 'corral cluster list' shows the members' names"
        ))
    })
}

fn view(snap: &Snapshot, record: &PoolRecord, target: Option<&str>) -> Result<StoragePool> {
    let part = match target {
        None => None,
        Some(t) => {
            let member = member_named(&snap.members, t)?;
            Some(
                record
                    .members
                    .iter()
                    .find(|m| m.id == member.id)
                    .cloned()
                    .unwrap_or(PoolMember {
                        id: member.id,
                        name: member.name.clone(),
                        address: member.address.clone(),
                        state: State::Pending.to_db(),
                        config: BTreeMap::new(),
                    }),
            )
        }
    };
    let empty = Vec::new();
    Ok(to_api(
        record,
        part.as_ref(),
        snap.profiles.get(&record.name).unwrap_or(&empty),
        snap.volumes
            .get(&record.name)
            .map_or(&[][..], Vec::as_slice),
    ))
}

/// Every pool, cluster-wide or (`target`) as that member has it.
pub async fn list(node: &Node, target: Option<&str>) -> Result<Read<Vec<StoragePool>>> {
    let read = snapshot(node).await?;
    let pools = read
        .value
        .pools
        .iter()
        .map(|p| view(&read.value, p, target))
        .collect::<Result<Vec<_>>>()?;
    Ok(Read {
        value: pools,
        stale: read.stale,
    })
}

/// Pool `name`, cluster-wide or (`target`) as that member has it.
pub async fn get(node: &Node, name: &str, target: Option<&str>) -> Result<Read<StoragePool>> {
    let read = snapshot(node).await?;
    let record = read
        .value
        .pools
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::NotFound(NOT_FOUND.into()))?;
    let pool = view(&read.value, record, target)?;
    Ok(Read {
        value: pool,
        stale: read.stale,
    })
}

/// Checks the driver and the cluster-wide keys it takes.
pub fn check_driver_config(driver: &str, config: &BTreeMap<String, String>) -> Result<()> {
    if driver.is_empty() {
        return Err(Error::BadRequest(
            "No driver provided: give one, e.g. 'corral storage create p1 dir'".into(),
        ));
    }
    if driver != DRIVER {
        return Err(Error::BadRequest(format!(
            "Storage pool driver {driver:?} is not supported: Corral provides the \"dir\" driver"
        )));
    }
    for key in config.keys() {
        let known = DIR_KEYS.contains(&key.as_str())
            || key.starts_with("user.")
            || Resource::StoragePool.is_member_specific(key);
        if !known {
            return Err(Error::BadRequest(format!(
                "Invalid option {key:?} for a \"dir\" storage pool: it takes source, {} and user.* keys",
                DIR_KEYS.join(", ")
            )));
        }
    }
    Ok(())
}

fn refused(e: two_phase::TwoPhaseError) -> Error {
    Error::BadRequest(e.to_string())
}

/// Creates pool `post.name`: with `target`, defines it on that member (pending); without,
/// creates it on every member (the two-phase rules decide whether it may).
pub async fn create(node: &Node, post: &StoragePoolsPost, target: Option<&str>) -> Result<Created> {
    super::check_name("storage pool", &post.name)?;
    check_driver_config(&post.driver, &post.config)?;
    let snap = snapshot(node).await?.value;
    let record = snap.pools.iter().find(|p| p.name == post.name);
    let current = record.map(existing);
    match target {
        Some(target) => {
            let member = member_named(&snap.members, target)?;
            two_phase::check_targeted_create(
                Resource::StoragePool,
                current.as_ref(),
                &member.name,
                &post.driver,
                &post.config,
            )
            .map_err(refused)?;
            let mut batch = Batch::new();
            db::insert(
                &mut batch,
                &post.name,
                &post.driver,
                &post.description,
                State::Pending.to_db(),
            );
            db::add_member(
                &mut batch,
                &post.name,
                member.id,
                State::Pending.to_db(),
                &post.config,
            );
            let outcome = node.propose(batch).await?;
            if outcome.rows_affected.get(1).copied().unwrap_or(0) == 0 {
                // Another request defined it on that member between our read and write.
                return Err(refused(two_phase::TwoPhaseError::AlreadyDefined {
                    resource: Resource::StoragePool,
                    member: member.name.clone(),
                }));
            }
            Ok(Created::PendingOn(member.name.clone()))
        }
        None => create_everywhere(node, post, &snap, current.as_ref()).await,
    }
}

async fn create_everywhere(
    node: &Node,
    post: &StoragePoolsPost,
    snap: &Snapshot,
    current: Option<&Existing>,
) -> Result<Created> {
    let names: Vec<String> = snap.members.iter().map(|m| m.name.clone()).collect();
    let plan = two_phase::plan_cluster_create(
        Resource::StoragePool,
        current,
        &names,
        &post.driver,
        &post.config,
    )
    .map_err(refused)?;
    let own = node.id();
    let (global, own_keys) = two_phase::split_config(Resource::StoragePool, &post.config);
    let mut batch = Batch::new();
    if plan.insert_resource {
        db::insert(
            &mut batch,
            &post.name,
            &post.driver,
            &post.description,
            two_phase::STATE_WHILE_CREATING.to_db(),
        );
        db::add_member(
            &mut batch,
            &post.name,
            own,
            State::Pending.to_db(),
            &own_keys,
        );
    }
    if plan.store_global_config {
        db::put_config(&mut batch, &post.name, &global);
        if !post.description.is_empty() {
            db::set_description(&mut batch, &post.name, &post.description);
        }
    }
    // Assume failure: whatever stops the create below leaves the pool Errored, for a re-run.
    db::set_state(
        &mut batch,
        &post.name,
        two_phase::STATE_WHILE_CREATING.to_db(),
    );
    node.propose(batch).await?;

    let others: Vec<&Member> = snap
        .members
        .iter()
        .filter(|m| m.id != own && plan.create_on.contains(&m.name))
        .collect();
    let retry = format!(
        "the pool stays Errored: once every member runs, re-run 'corral storage create {} {}' to finish",
        post.name, post.driver
    );
    if !others.is_empty() {
        let offline = offline_members(node, &others).await;
        if !offline.is_empty() {
            return Err(Error::Unavailable(format!(
                "Cluster member{} {} {} offline, so storage pool {:?} cannot be created on {}; {retry}",
                if offline.len() > 1 { "s" } else { "" },
                offline.join(", "),
                if offline.len() > 1 { "are" } else { "is" },
                post.name,
                if offline.len() > 1 { "them" } else { "it" },
            )));
        }
    }
    if snap
        .members
        .iter()
        .any(|m| m.id == own && plan.create_on.contains(&m.name))
    {
        create_here(node, &post.name).await?;
    }
    if !others.is_empty() {
        let peers = Peers::of(node)?;
        let targets = others
            .iter()
            .map(|m| (m.name.clone(), m.address.clone()))
            .collect();
        let pool = post.name.clone();
        let answers = peers
            .fan_out(targets, MEMBER_WAIT, move |member| {
                let pool = pool.clone();
                async move { member.create_pool_here(&pool).await }
            })
            .await;
        let failures: Vec<String> = answers
            .into_iter()
            .filter_map(|(name, answer)| answer.err().map(|e| member_failure(&name, &e)))
            .collect();
        if !failures.is_empty() {
            return Err(Error::Unavailable(format!(
                "{}; {retry}",
                failures.join("; ")
            )));
        }
    }
    let mut batch = Batch::new();
    db::set_created_if_complete(&mut batch, &post.name);
    let outcome = node.propose(batch).await?;
    if outcome.rows_affected.first().copied().unwrap_or(0) == 0 {
        return Err(Error::Conflict(format!(
            "Storage pool {:?} was created on every member asked, but a member's part is not Created; {retry}",
            post.name
        )));
    }
    Ok(Created::Everywhere)
}

/// How a member's failure reads: LXD's "failed to notify peer" for a refusal, the member
/// named when it could not be reached.
fn member_failure(name: &str, e: &PeerError) -> String {
    match e {
        PeerError::Refused { message, .. } => format!("failed to notify peer {name}: {message}"),
        PeerError::Unreachable { address, reason } => {
            format!("Cluster member {name} at {address} could not be reached ({reason})")
        }
        other => format!("Cluster member {name}: {other}"),
    }
}

/// The members among `members` the heartbeats say are offline, by name.
async fn offline_members(node: &Node, members: &[&Member]) -> Vec<String> {
    let Ok(listed) = members::list(node).await else {
        return Vec::new();
    };
    members
        .iter()
        .filter(|m| {
            listed
                .iter()
                .any(|l| l.server_name == m.name && l.status == MemberStatus::Offline)
        })
        .map(|m| m.name.clone())
        .collect()
}

/// This member's part of a cluster-wide create: makes its directory and marks its own part
/// Created (nothing to do when it is Created already: a re-run skips it).
pub async fn create_here(node: &Node, name: &str) -> Result<()> {
    let own = node.id();
    let pool = name.to_owned();
    let record = node
        .read_current(move |c| db::pool(c, &pool))
        .await?
        .value
        .ok_or_else(|| Error::NotFound(NOT_FOUND.into()))?;
    let part = record.members.iter().find(|m| m.id == own).ok_or_else(|| {
        Error::BadRequest(format!(
            "Storage pool {name:?} is not defined on this member; define it with --target first"
        ))
    })?;
    if State::from_db(part.state) == State::Created {
        return Ok(());
    }
    let source = part.config.get("source").filter(|s| !s.is_empty()).cloned();
    let path = dir::pool_dir(node.dirs.root(), name, source.as_deref());
    let given = source.is_some();
    let made = tokio::task::spawn_blocking(move || dir::create(&path, given))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    made.map_err(|e| Error::BadRequest(e.to_string()))?;
    let mut batch = Batch::new();
    db::set_member_state(
        &mut batch,
        name,
        own,
        two_phase::member_state_after(State::from_db(part.state), true).to_db(),
    );
    node.propose(batch).await?;
    Ok(())
}

/// This member's part of a delete: removes its directory (the pool's rows go afterwards).
pub async fn delete_here(node: &Node, name: &str) -> Result<()> {
    let own = node.id();
    let pool = name.to_owned();
    let record = node
        .read_current(move |c| db::pool(c, &pool))
        .await?
        .value
        .ok_or_else(|| Error::NotFound(NOT_FOUND.into()))?;
    let Some(part) = record.members.iter().find(|m| m.id == own) else {
        return Ok(());
    };
    let source = part.config.get("source").filter(|s| !s.is_empty()).cloned();
    let path = dir::pool_dir(node.dirs.root(), name, source.as_deref());
    let given = source.is_some();
    tokio::task::spawn_blocking(move || dir::delete(&path, given))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))
}

/// LXD's refusal to delete a pool that still holds a volume, as the member holding it says
/// it (`failed to notify peer ADDRESS: ...` when that is another member).
pub fn volumes_refusal(
    name: &str,
    volumes: &[VolumeRow],
    own: u64,
    address: &str,
) -> Option<String> {
    let v = volumes
        .iter()
        .find(|v| v.member_id == own)
        .or_else(|| volumes.first())?;
    let text = format!(
        "Volume {:?} of type \"custom\" in project {:?} still exists in storage pool {name:?}",
        v.name, v.project
    );
    Some(if v.member_id == own {
        text
    } else {
        format!("failed to notify peer {address}: {text}")
    })
}

/// Deletes pool `name`: refused while a profile or a volume uses it; every member whose part
/// is Created removes its directory, then the pool's rows go (a pending pool only has rows).
pub async fn delete(node: &Node, name: &str) -> Result<()> {
    let snap = snapshot(node).await?.value;
    let record = snap
        .pools
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::NotFound(NOT_FOUND.into()))?;
    let own = node.id();
    let volumes = snap.volumes.get(name).cloned().unwrap_or_default();
    let holder = volumes
        .iter()
        .find(|v| v.member_id == own)
        .or_else(|| volumes.first())
        .and_then(|v| snap.members.iter().find(|m| m.id == v.member_id))
        .map(|m| m.address.clone())
        .unwrap_or_default();
    if let Some(text) = volumes_refusal(name, &volumes, own, &holder) {
        return Err(Error::BadRequest(text));
    }
    if snap.profiles.get(name).is_some_and(|p| !p.is_empty()) {
        return Err(Error::BadRequest(
            "The storage pool is currently in use".into(),
        ));
    }
    let on = two_phase::delete_on(&existing(record));
    let others: Vec<(String, String)> = record
        .members
        .iter()
        .filter(|m| m.id != own && on.contains(&m.name))
        .map(|m| (m.name.clone(), m.address.clone()))
        .collect();
    if !others.is_empty() {
        let peers = Peers::of(node)?;
        let pool = name.to_owned();
        let answers = peers
            .fan_out(others, MEMBER_WAIT, move |member| {
                let pool = pool.clone();
                async move { member.delete_pool_here(&pool).await }
            })
            .await;
        let failures: Vec<String> = answers
            .into_iter()
            .filter_map(|(m, answer)| answer.err().map(|e| member_failure(&m, &e)))
            .collect();
        if !failures.is_empty() {
            return Err(Error::Unavailable(format!(
                "{}; storage pool {name:?} was not deleted: once every member runs, delete it again",
                failures.join("; ")
            )));
        }
    }
    if record
        .members
        .iter()
        .any(|m| m.id == own && on.contains(&m.name))
    {
        delete_here(node, name).await?;
    }
    let mut batch = Batch::new();
    db::delete(&mut batch, name);
    node.propose(batch).await?;
    Ok(())
}

/// Changes pool `name`'s config and description: cluster-wide, or (`target`) that member's
/// own keys. `patch` keeps keys not given.
pub async fn update(
    node: &Node,
    name: &str,
    target: Option<&str>,
    put: &StoragePoolPut,
    patch: bool,
) -> Result<()> {
    let snap = snapshot(node).await?.value;
    let record = snap
        .pools
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::NotFound(NOT_FOUND.into()))?;
    let state = State::from_db(record.state);
    let mut batch = Batch::new();
    match target {
        Some(target) => {
            let member = member_named(&snap.members, target)?;
            let part = record
                .members
                .iter()
                .find(|m| m.id == member.id)
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "Storage pool {name:?} is not defined on member {target:?}"
                    ))
                })?;
            // A client sends back what it read with --target: cluster-wide keys unchanged
            // are not member keys being set.
            let given: BTreeMap<String, String> = put
                .config
                .iter()
                .filter(|(k, v)| record.config.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let keys: Vec<&str> = given.keys().map(String::as_str).collect();
            two_phase::check_update(Resource::StoragePool, state, Some(target), &keys)
                .map_err(refused)?;
            let mut config = if patch {
                part.config.clone()
            } else {
                BTreeMap::new()
            };
            config.extend(given);
            if State::from_db(part.state) == State::Created
                && config.get("source") != part.config.get("source")
            {
                return Err(Error::BadRequest(format!(
                    "The \"source\" of storage pool {name:?} on member {target:?} cannot change once created there; delete the pool and create it again to move it"
                )));
            }
            db::put_member_config(&mut batch, name, member.id, &config);
        }
        None => {
            let keys: Vec<&str> = put.config.keys().map(String::as_str).collect();
            two_phase::check_update(Resource::StoragePool, state, None, &keys).map_err(refused)?;
            check_driver_config(&record.driver, &put.config)?;
            let mut config = if patch {
                record.config.clone()
            } else {
                BTreeMap::new()
            };
            config.extend(put.config.clone());
            db::put_config(&mut batch, name, &config);
        }
    }
    if !patch || !put.description.is_empty() {
        db::set_description(&mut batch, name, &put.description);
    }
    node.propose(batch).await?;
    Ok(())
}

/// Before member `name` leaves the cluster (not forced): refused while it holds custom
/// volumes; else it removes its pools' directories. Its rows go with the member.
pub async fn remove_member(node: &Node, member: &Member) -> Result<()> {
    let snap = snapshot(node).await?.value;
    let held: Vec<String> = snap
        .volumes
        .values()
        .flatten()
        .filter(|v| v.member_id == member.id)
        .map(|v| format!("{}/{}", v.pool, v.name))
        .collect();
    if let Some(first) = held.first() {
        let (pool, vol) = first.split_once('/').unwrap_or_default();
        return Err(Error::BadRequest(format!(
            "Cluster member {} still holds custom volumes ({}); nothing was changed: delete them first ('corral storage volume delete {pool} {vol} --target {}')",
            member.name,
            held.join(", "),
            member.name
        )));
    }
    let pools: Vec<String> = snap
        .pools
        .iter()
        .filter(|p| {
            p.members
                .iter()
                .any(|m| m.id == member.id && State::from_db(m.state) == State::Created)
        })
        .map(|p| p.name.clone())
        .collect();
    let peers = Peers::of(node)?;
    let leaving = peers.member(&member.address);
    for pool in pools {
        if member.id == node.id() {
            delete_here(node, &pool).await?;
        } else {
            leaving.delete_pool_here(&pool).await.map_err(|e| {
                Error::Unavailable(format!(
                    "{}; nothing else was changed: retry the removal, or use --force",
                    member_failure(&member.name, &e)
                ))
            })?;
        }
    }
    Ok(())
}

/// Makes this member's directory of every pool whose part here is Created (after a
/// bootstrap or a join; a directory already there is kept).
pub async fn create_local_parts(node: &Node) -> Result<()> {
    let own = node.id();
    let pools = node.read_current(db::pools).await?.value;
    for pool in pools {
        let Some(part) = pool
            .members
            .iter()
            .find(|m| m.id == own && State::from_db(m.state) == State::Created)
        else {
            continue;
        };
        let source = part.config.get("source").filter(|s| !s.is_empty()).cloned();
        let path = dir::pool_dir(node.dirs.root(), &pool.name, source.as_deref());
        tokio::task::spawn_blocking(move || dir::create(&path, source.is_some()))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::BadRequest(format!("storage pool {:?}: {e}", pool.name)))?;
    }
    Ok(())
}

/// This member's pools' usage (`GET /1.0/cluster/members/NAME/state`), from their real
/// directories: every pool whose part here is Created; one whose directory cannot be read is
/// left out. This member's copy of the database is enough for a live-state answer.
pub async fn local_usage(node: &Node) -> serde_json::Map<String, serde_json::Value> {
    let own = node.id();
    let data = node.dirs.root().to_path_buf();
    let Ok(pools) = node.global.read(db::pools).await else {
        return serde_json::Map::new();
    };
    let dirs: Vec<(String, std::path::PathBuf)> = pools
        .iter()
        .filter_map(|p| {
            let part = p
                .members
                .iter()
                .find(|m| m.id == own && State::from_db(m.state) == State::Created)?;
            let source = part.config.get("source").map(String::as_str);
            Some((p.name.clone(), dir::pool_dir(&data, &p.name, source)))
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        dirs.into_iter()
            .filter_map(|(name, path)| Some((name, dir::usage(&path).ok()?.to_json())))
            .collect()
    })
    .await
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> PoolRecord {
        PoolRecord {
            id: 1,
            name: "p1".into(),
            driver: "dir".into(),
            description: String::new(),
            state: 1,
            config: BTreeMap::new(),
            members: vec![
                PoolMember {
                    id: 1,
                    name: "node1".into(),
                    address: "a:1".into(),
                    state: 1,
                    config: BTreeMap::from([("source".into(), "/n1".into())]),
                },
                PoolMember {
                    id: 2,
                    name: "node2".into(),
                    address: "b:1".into(),
                    state: 0,
                    config: BTreeMap::from([("source".into(), "/n2".into())]),
                },
            ],
        }
    }

    fn volume(name: &str, member_id: u64, member: &str) -> VolumeRow {
        VolumeRow {
            name: name.into(),
            pool: "p1".into(),
            member_id,
            member: member.into(),
            description: String::new(),
            project: "default".into(),
            config: BTreeMap::new(),
        }
    }

    #[test]
    fn the_api_view_is_cluster_wide_or_one_members() {
        let r = record();
        let vols = [volume("v1", 1, "node1"), volume("v1", 2, "node2")];
        let all = to_api(&r, None, &["default".into()], &vols);
        assert!(all.config.is_empty());
        assert_eq!(all.status, "Created");
        assert_eq!(all.locations, ["node1", "node2"]);
        assert_eq!(
            all.used_by,
            [
                "/1.0/profiles/default",
                "/1.0/storage-pools/p1/volumes/custom/v1?target=node1",
                "/1.0/storage-pools/p1/volumes/custom/v1?target=node2"
            ]
        );
        let two = to_api(&r, Some(&r.members[1]), &[], &vols);
        assert_eq!(two.config["source"], "/n2");
        assert_eq!(two.status, "Pending");
        assert_eq!(
            two.used_by,
            ["/1.0/storage-pools/p1/volumes/custom/v1?target=node2"]
        );
    }

    #[test]
    fn a_delete_is_refused_in_lxds_words_by_the_member_holding_a_volume() {
        let vols = [volume("v1", 2, "node2")];
        assert_eq!(
            volumes_refusal("p1", &vols, 1, "127.0.0.12:8443").as_deref(),
            Some(
                "failed to notify peer 127.0.0.12:8443: Volume \"v1\" of type \"custom\" in project \"default\" still exists in storage pool \"p1\""
            )
        );
        assert_eq!(
            volumes_refusal("p1", &vols, 2, "").as_deref(),
            Some(
                "Volume \"v1\" of type \"custom\" in project \"default\" still exists in storage pool \"p1\""
            )
        );
        assert_eq!(volumes_refusal("p1", &[], 1, ""), None);
    }

    #[test]
    fn only_the_dir_driver_and_its_keys_are_taken() {
        let cfg = |k: &str| BTreeMap::from([(k.to_owned(), "1".to_owned())]);
        for (driver, key, ok) in [
            ("dir", "rsync.bwlimit", true),
            ("dir", "user.note", true),
            ("dir", "source", true),
            ("dir", "zfs.pool_name", true),
            ("dir", "volume.size.bogus", false),
            ("zfs", "rsync.bwlimit", false),
            ("", "rsync.bwlimit", false),
        ] {
            assert_eq!(
                check_driver_config(driver, &cfg(key)).is_ok(),
                ok,
                "{driver} {key}"
            );
        }
    }
}
