//! Storage pools: LXD's two-phase creation across members (`--target` per member, then
//! cluster-wide: global Errored first, every member creates its directory and marks its own
//! part Created, then global Created), listing with each member's view, updates, deletes.

mod change;
mod create;

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::StoragePool;

use super::dir;
use crate::cluster::two_phase::{self, Existing, MemberRow, Resource, State};
use crate::db::global::queries::{self, MemberRow as Member};
use crate::db::global::storage_pools::{self as db, PoolMember, PoolRecord};
use crate::db::global::volumes::{self as db_volumes, VolumeRow};
use crate::error::{Error, Result};
use crate::node::{Node, Read};
use crate::peers::{PeerError, Peers};

pub use change::{delete, delete_here, remove_member, update, volumes_refusal};
pub use create::{create, create_here, create_local_parts};

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

/// Which part of a pool another member is asked to do.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// Make its directory and mark its part Created.
    Create,
    /// Remove its directory.
    Delete,
}

/// Asks every member of `targets` (name, address) to do its `part` of pool `pool`, all at
/// once, each bounded by MEMBER_WAIT; the failures, as `member_failure` words them.
async fn ask_members(
    node: &Node,
    targets: Vec<(String, String)>,
    pool: &str,
    part: Part,
) -> Result<Vec<String>> {
    let peers = Peers::of(node)?;
    let pool = pool.to_owned();
    let answers = peers
        .fan_out(targets, MEMBER_WAIT, move |member| {
            let pool = pool.clone();
            async move {
                match part {
                    Part::Create => member.create_pool_here(&pool).await,
                    Part::Delete => member.delete_pool_here(&pool).await,
                }
            }
        })
        .await;
    Ok(answers
        .into_iter()
        .filter_map(|(name, answer)| answer.err().map(|e| member_failure(&name, &e)))
        .collect())
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
#[path = "pools_tests.rs"]
mod tests;
