//! Changing and removing pools: config and description updates (cluster-wide or one
//! member's keys), deletes across members, and a leaving member's parts.

use std::collections::BTreeMap;

use corral_shared::api::StoragePoolPut;

use super::{
    NOT_FOUND, Part, ask_members, check_driver_config, existing, member_failure, member_named,
    refused, snapshot,
};
use crate::cluster::two_phase::{self, Resource, State};
use crate::db::batch::Batch;
use crate::db::global::queries::MemberRow as Member;
use crate::db::global::storage_pools as db;
use crate::db::global::volumes::VolumeRow;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::Peers;
use crate::storage::dir;

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
        let failures = ask_members(node, others, name, Part::Delete).await?;
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
