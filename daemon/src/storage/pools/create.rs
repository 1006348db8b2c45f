//! Creating pools: LXD's two-phase create (per member with `--target`, then cluster-wide),
//! each member's own part of it, and the parts a new member makes after joining.

use corral_shared::api::{MemberStatus, StoragePoolsPost};

use super::{
    Created, NOT_FOUND, Part, Snapshot, ask_members, check_driver_config, existing, member_named,
    refused, snapshot,
};
use crate::cluster::members;
use crate::cluster::two_phase::{self, Existing, Resource, State};
use crate::db::batch::Batch;
use crate::db::global::queries::MemberRow as Member;
use crate::db::global::storage_pools as db;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::storage::dir;

/// Creates pool `post.name`: with `target`, defines it on that member (pending); without,
/// creates it on every member (the two-phase rules decide whether it may).
pub async fn create(node: &Node, post: &StoragePoolsPost, target: Option<&str>) -> Result<Created> {
    crate::storage::check_name("storage pool", &post.name)?;
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
        let targets = others
            .iter()
            .map(|m| (m.name.clone(), m.address.clone()))
            .collect();
        let failures = ask_members(node, targets, &post.name, Part::Create).await?;
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
