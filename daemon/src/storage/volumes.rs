//! Custom volumes: each lives on one member of a pool (a directory in that member's pool
//! directory), so one name may exist on several members; a name held by more than one
//! member must be aimed at one with `--target`, as LXD requires.

use std::time::Duration;

use corral_shared::api::{StorageVolume, StorageVolumesPost};

use super::{dir, pools};
use crate::cluster::two_phase::State;
use crate::db::batch::Batch;
use crate::db::global::queries::MemberRow as Member;
use crate::db::global::storage_pools::{self as db_pools, PoolRecord};
use crate::db::global::volumes::{self as db, VolumeRow};
use crate::error::{Error, Result};
use crate::node::{Node, Read};
use crate::peers::{PeerError, Peers};

/// LXD's answer for a volume that does not exist.
pub const NOT_FOUND: &str = "Storage volume not found";

/// LXD's refusal of a second volume of one name on one member.
pub const EXISTS: &str = "Volume by that name already exists";

/// How long a member may take to make, remove or rename a volume's directory.
const MEMBER_WAIT: Duration = Duration::from_secs(20);

/// LXD's refusal of a name several members hold, without `--target`.
pub fn ambiguous(name: &str) -> Error {
    Error::BadRequest(format!(
        "More than one cluster member has a volume named {name:?}. Please target a specific member"
    ))
}

/// The one volume `name` (on `target` when given) among `volumes`.
pub fn resolve<'a>(
    volumes: &'a [VolumeRow],
    name: &str,
    target: Option<&str>,
) -> Result<&'a VolumeRow> {
    let found: Vec<&VolumeRow> = volumes
        .iter()
        .filter(|v| v.name == name && target.is_none_or(|t| v.member == t))
        .collect();
    match found.as_slice() {
        [] => Err(Error::NotFound(NOT_FOUND.into())),
        [one] => Ok(one),
        _ => Err(ambiguous(name)),
    }
}

/// A stored volume as the API shows it.
pub fn to_api(v: &VolumeRow) -> StorageVolume {
    StorageVolume {
        config: v.config.clone(),
        description: v.description.clone(),
        name: v.name.clone(),
        kind: "custom".into(),
        used_by: Vec::new(),
        location: v.member.clone(),
        content_type: "filesystem".into(),
        project: v.project.clone(),
        created_at: "0001-01-01T00:00:00Z".into(),
    }
}

struct Scope {
    pool: PoolRecord,
    volumes: Vec<VolumeRow>,
    members: Vec<Member>,
}

async fn scope(node: &Node, pool: &str) -> Result<Read<Scope>> {
    let name = pool.to_owned();
    let read = node
        .read_current(move |c| {
            Ok((
                db_pools::pool(c, &name)?,
                db::volumes(c, &name)?,
                crate::db::global::queries::members(c)?,
            ))
        })
        .await?;
    let (pool, volumes, members) = read.value;
    let pool = pool.ok_or_else(|| Error::NotFound(pools::NOT_FOUND.into()))?;
    Ok(Read {
        value: Scope {
            pool,
            volumes,
            members,
        },
        stale: read.stale,
    })
}

/// The custom volumes of pool `pool` (on `target` only, when given).
pub async fn list(
    node: &Node,
    pool: &str,
    target: Option<&str>,
) -> Result<Read<Vec<StorageVolume>>> {
    let read = scope(node, pool).await?;
    if let Some(t) = target {
        pools::member_named(&read.value.members, t)?;
    }
    let value = read
        .value
        .volumes
        .iter()
        .filter(|v| target.is_none_or(|t| v.member == t))
        .map(to_api)
        .collect();
    Ok(Read {
        value,
        stale: read.stale,
    })
}

/// Custom volume `name` of pool `pool` (on `target`, needed when several members hold one).
pub async fn get(
    node: &Node,
    pool: &str,
    name: &str,
    target: Option<&str>,
) -> Result<Read<StorageVolume>> {
    let read = scope(node, pool).await?;
    let value = to_api(resolve(&read.value.volumes, name, target)?);
    Ok(Read {
        value,
        stale: read.stale,
    })
}

fn member_for<'a>(scope: &'a Scope, node: &Node, target: Option<&str>) -> Result<&'a Member> {
    match target {
        Some(t) => pools::member_named(&scope.members, t),
        None => scope
            .members
            .iter()
            .find(|m| m.id == node.id())
            .ok_or_else(|| Error::Internal("this member is not in the member list".into())),
    }
}

fn relayed(member: &Member, e: PeerError) -> Error {
    match e {
        PeerError::Refused { status, message } => Error::from_status(status, message),
        other => Error::Unavailable(format!(
            "Cluster member {} at {} could not be reached ({other}); start it again and retry",
            member.name, member.address
        )),
    }
}

/// Creates custom volume `post.name` in pool `pool` on `target` (this member when none).
pub async fn create(
    node: &Node,
    pool: &str,
    post: &StorageVolumesPost,
    target: Option<&str>,
) -> Result<()> {
    super::check_name("storage volume", &post.name)?;
    if !post.kind.is_empty() && post.kind != "custom" {
        return Err(Error::BadRequest(format!(
            "Invalid storage volume type {:?}: only \"custom\" volumes can be created",
            post.kind
        )));
    }
    if !post.content_type.is_empty() && post.content_type != "filesystem" {
        return Err(Error::BadRequest(format!(
            "Invalid content type {:?}: the \"dir\" driver has \"filesystem\" volumes only",
            post.content_type
        )));
    }
    let read = scope(node, pool).await?.value;
    let member = member_for(&read, node, target)?;
    if member.id == node.id() {
        return create_here(node, pool, post).await;
    }
    Peers::of(node)?
        .member(&member.address)
        .within(MEMBER_WAIT)
        .create_volume_here(pool, post)
        .await
        .map_err(|e| relayed(member, e))
}

fn own_pool_dir(node: &Node, scope: &Scope) -> Result<std::path::PathBuf> {
    let part = scope
        .pool
        .members
        .iter()
        .find(|m| m.id == node.id())
        .filter(|m| State::from_db(m.state) == State::Created)
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "Storage pool {:?} is not created on this member yet; finish it with 'corral storage create {} {}'",
                scope.pool.name, scope.pool.name, scope.pool.driver
            ))
        })?;
    Ok(dir::pool_dir(
        node.dirs.root(),
        &scope.pool.name,
        part.config.get("source").map(String::as_str),
    ))
}

/// Makes custom volume `post.name` on this member: its directory, then its row.
pub async fn create_here(node: &Node, pool: &str, post: &StorageVolumesPost) -> Result<()> {
    let read = scope(node, pool).await?.value;
    let own = node.id();
    if read
        .volumes
        .iter()
        .any(|v| v.member_id == own && v.name == post.name)
    {
        return Err(Error::Conflict(EXISTS.into()));
    }
    let path = dir::volume_dir(&own_pool_dir(node, &read)?, "default", &post.name);
    let made = path.clone();
    blocking(move || dir::create_volume(&made)).await?;
    let mut batch = Batch::new();
    db::insert(
        &mut batch,
        pool,
        own,
        &post.name,
        &post.description,
        &post.config,
    );
    if let Err(e) = node.propose(batch).await {
        // The row is what says the volume exists: without it, the directory goes too.
        let _ = blocking(move || dir::delete_volume(&path)).await;
        return Err(match e {
            Error::Conflict(_) => Error::Conflict(EXISTS.into()),
            other => other,
        });
    }
    Ok(())
}

async fn blocking(work: impl FnOnce() -> Result<(), dir::DirError> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| match e {
            dir::DirError::VolumeExists => Error::Conflict(EXISTS.into()),
            other => Error::Internal(other.to_string()),
        })
}

/// Deletes custom volume `name` of pool `pool` (on `target`, needed when ambiguous).
pub async fn delete(node: &Node, pool: &str, name: &str, target: Option<&str>) -> Result<()> {
    let read = scope(node, pool).await?.value;
    let volume = resolve(&read.volumes, name, target)?;
    let member = pools::member_named(&read.members, &volume.member)?;
    if member.id == node.id() {
        return delete_here(node, pool, name).await;
    }
    Peers::of(node)?
        .member(&member.address)
        .within(MEMBER_WAIT)
        .delete_volume_here(pool, name)
        .await
        .map_err(|e| relayed(member, e))
}

/// Removes custom volume `name` on this member: its directory, then its row.
pub async fn delete_here(node: &Node, pool: &str, name: &str) -> Result<()> {
    let read = scope(node, pool).await?.value;
    let own = node.id();
    if !read
        .volumes
        .iter()
        .any(|v| v.member_id == own && v.name == name)
    {
        return Err(Error::NotFound(NOT_FOUND.into()));
    }
    let path = dir::volume_dir(&own_pool_dir(node, &read)?, "default", name);
    blocking(move || dir::delete_volume(&path)).await?;
    let mut batch = Batch::new();
    db::delete(&mut batch, pool, own, name);
    node.propose(batch).await?;
    Ok(())
}

/// Renames custom volume `name` of pool `pool` (on `target`, needed when ambiguous) to `to`.
pub async fn rename(
    node: &Node,
    pool: &str,
    name: &str,
    to: &str,
    target: Option<&str>,
) -> Result<()> {
    super::check_name("storage volume", to)?;
    let read = scope(node, pool).await?.value;
    let volume = resolve(&read.volumes, name, target)?;
    let member = pools::member_named(&read.members, &volume.member)?;
    if member.id == node.id() {
        return rename_here(node, pool, name, to).await;
    }
    Peers::of(node)?
        .member(&member.address)
        .within(MEMBER_WAIT)
        .rename_volume_here(pool, name, to)
        .await
        .map_err(|e| relayed(member, e))
}

/// Renames custom volume `name` on this member: its directory, then its row.
pub async fn rename_here(node: &Node, pool: &str, name: &str, to: &str) -> Result<()> {
    let read = scope(node, pool).await?.value;
    let own = node.id();
    let mine = |n: &str| {
        read.volumes
            .iter()
            .any(|v| v.member_id == own && v.name == n)
    };
    if !mine(name) {
        return Err(Error::NotFound(NOT_FOUND.into()));
    }
    if mine(to) {
        return Err(Error::Conflict(EXISTS.into()));
    }
    let pool_dir = own_pool_dir(node, &read)?;
    let from = dir::volume_dir(&pool_dir, "default", name);
    let dest = dir::volume_dir(&pool_dir, "default", to);
    let (f, d) = (from.clone(), dest.clone());
    blocking(move || dir::rename_volume(&f, &d)).await?;
    let mut batch = Batch::new();
    db::rename(&mut batch, pool, own, name, to);
    if let Err(e) = node.propose(batch).await {
        let _ = blocking(move || dir::rename_volume(&dest, &from)).await;
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vol(name: &str, member: &str) -> VolumeRow {
        VolumeRow {
            name: name.into(),
            pool: "p1".into(),
            member_id: if member == "node2" { 2 } else { 3 },
            member: member.into(),
            description: String::new(),
            project: "default".into(),
            config: BTreeMap::new(),
        }
    }

    #[test]
    fn a_name_on_two_members_needs_a_target() {
        let vols = [vol("v1", "node2"), vol("v1", "node3"), vol("v2", "node2")];
        let cases: Vec<(&str, Option<&str>, Result<&str, String>)> = vec![
            ("v2", None, Ok("node2")),
            ("v1", Some("node3"), Ok("node3")),
            (
                "v1",
                None,
                Err("More than one cluster member has a volume named \"v1\". Please target a specific member".into()),
            ),
            ("v3", None, Err("Storage volume not found".into())),
            ("v2", Some("node3"), Err("Storage volume not found".into())),
        ];
        for (name, target, want) in cases {
            let got = resolve(&vols, name, target)
                .map(|v| v.member.as_str())
                .map_err(|e| e.to_string());
            assert_eq!(got, want, "{name} {target:?}");
        }
    }

    #[test]
    fn volumes_show_as_lxd_shows_them() {
        let v = to_api(&vol("v1", "node3"));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["type"], "custom");
        assert_eq!(json["location"], "node3");
        assert_eq!(json["content_type"], "filesystem");
        assert_eq!(json["created_at"], "0001-01-01T00:00:00Z");
    }
}
