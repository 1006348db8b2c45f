//! Images, as LXD keeps them in a cluster: a record per image in the replicated database
//! (fingerprint = SHA-256 of the file, properties, aliases, which members hold the file),
//! the file itself on as many members as `cluster.images_minimal_replica` asks, and any
//! other member fetching it from a holder when it needs it (streamed over the cluster
//! connection and checked against the fingerprint before it is kept).
//!
//! For instances: [`resolve`] names an image by alias or fingerprint (prefix), and
//! [`ensure_rootfs`] unpacks its root filesystem on this member, fetching it first if needed.

pub mod edit;
mod fetch;
pub mod manage;
pub mod replication;
pub mod store;
pub mod tarball;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use corral_shared::api::{Image, ImageAlias, MemberStatus};

use crate::db::batch::Batch;
use crate::db::global::images as db;
pub use crate::db::global::images::ImageRecord;
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::{Node, Read};

/// LXD's answer when no image matches.
pub const NOT_FOUND: &str = "Image not found";

/// Finds the image `name` names among `images`: an alias first, then a whole fingerprint,
/// then a fingerprint prefix naming exactly one image.
pub fn find<'a>(images: &'a [ImageRecord], name: &str) -> Result<&'a ImageRecord> {
    if let Some(image) = images
        .iter()
        .find(|i| i.aliases.iter().any(|(alias, _)| alias == name))
    {
        return Ok(image);
    }
    let prefix = name.to_ascii_lowercase();
    if let Some(image) = images.iter().find(|i| i.fingerprint == prefix) {
        return Ok(image);
    }
    let hex = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_hexdigit());
    let matching: Vec<&ImageRecord> = images
        .iter()
        .filter(|i| hex && i.fingerprint.starts_with(&prefix))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::NotFound(format!(
            "{NOT_FOUND}: no image has the alias or fingerprint {name:?}; see 'corral image list', \
             or import one with 'corral image import TARBALL --alias NAME'"
        ))),
        _ => Err(Error::BadRequest(format!(
            "More than one image matches {name:?}: give more of the fingerprint"
        ))),
    }
}

/// The image `name` names (an alias, a fingerprint or a unique prefix of one), as of now.
pub async fn resolve(node: &Node, name: &str) -> Result<ImageRecord> {
    node.read_barrier().await?;
    let images = node.global.read(db::images).await?;
    find(&images, name).cloned()
}

/// Every image, as of now (marked stale when no leader could confirm this member's copy).
pub async fn list_current(node: &Node) -> Result<Read<Vec<ImageRecord>>> {
    node.read_current(db::images).await
}

/// The image `name` names, as [`list_current`] reads.
pub async fn get_current(node: &Node, name: &str) -> Result<Read<Result<ImageRecord>>> {
    let name = name.to_owned();
    Ok(list_current(node)
        .await?
        .map(|all| find(&all, &name).cloned()))
}

/// RFC 3339 for a time in seconds since the epoch (LXD's zero time for 0).
pub fn rfc3339(seconds: i64) -> String {
    if seconds <= 0 {
        return ZERO_TIME.into();
    }
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ZERO_TIME.into())
}

/// How LXD writes a time that was never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An image as LXD's API shows it.
pub fn view(record: &ImageRecord) -> Image {
    Image {
        aliases: record
            .aliases
            .iter()
            .map(|(name, description)| ImageAlias {
                name: name.clone(),
                description: description.clone(),
            })
            .collect(),
        architecture: record.architecture.clone(),
        auto_update: false,
        cached: false,
        created_at: record.creation_date.clone(),
        expires_at: ZERO_TIME.into(),
        filename: record.filename.clone(),
        fingerprint: record.fingerprint.clone(),
        last_used_at: ZERO_TIME.into(),
        profiles: vec!["default".into()],
        properties: record.properties.clone(),
        public: record.public,
        size: record.size,
        kind: record.kind.clone(),
        uploaded_at: record.upload_date.clone(),
    }
}

/// A member as images see it: where to reach it and whether it is online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Member id.
    pub id: u64,
    /// Member name.
    pub name: String,
    /// Cluster address (`host:port`).
    pub address: String,
    /// Whether it is online (neither offline nor evacuated).
    pub online: bool,
}

/// Image `fingerprint`'s record as of now, and every member with its status.
pub(crate) async fn holders_and_members(
    node: &Node,
    fingerprint: &str,
) -> Result<(ImageRecord, Vec<Location>)> {
    let (images, members) = images_and_members(node).await?;
    let record = images
        .into_iter()
        .find(|i| i.fingerprint == fingerprint)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{NOT_FOUND}: no image has fingerprint {fingerprint}"
            ))
        })?;
    Ok((record, members))
}

/// Every image's record as of now, and every member with its status.
pub(crate) async fn images_and_members(node: &Node) -> Result<(Vec<ImageRecord>, Vec<Location>)> {
    node.read_barrier().await?;
    let (images, rows) = node
        .global
        .read(|c| Ok((db::images(c)?, queries::members(c)?)))
        .await?;
    let statuses: HashMap<String, MemberStatus> = if node.is_clustered() {
        crate::cluster::members::list(node)
            .await?
            .into_iter()
            .map(|m| (m.server_name, m.status))
            .collect()
    } else {
        HashMap::new()
    };
    let members = rows
        .into_iter()
        .map(|r| Location {
            online: !node.is_clustered()
                || r.id == node.id()
                || statuses.get(&r.name) == Some(&MemberStatus::Online),
            id: r.id,
            name: r.name,
            address: r.address,
        })
        .collect();
    Ok((images, members))
}

/// One lock per image file on this member, so that two instances created at once from an
/// image this member lacks fetch it once.
fn file_lock(root: &Path, fingerprint: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    LOCKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(store::file(root, fingerprint))
        .or_default()
        .clone()
}

/// Makes sure this member holds image `fingerprint` (a whole fingerprint): fetches it from
/// a holder when it lacks it, and records itself as a holder. Returns its file.
pub async fn ensure_local(node: &Node, fingerprint: &str) -> Result<PathBuf> {
    if !store::is_fingerprint(fingerprint) {
        return Err(Error::BadRequest(format!(
            "{fingerprint:?} is not an image fingerprint (64 hex digits): resolve the image's \
             name first"
        )));
    }
    let root = node.dirs.root().to_owned();
    let path = store::file(&root, fingerprint);
    let lock = file_lock(&root, fingerprint);
    let _held = lock.lock().await;
    let (record, members) = holders_and_members(node, fingerprint).await?;
    if !path.is_file() {
        fetch::from_holders(node, &record, &members).await?;
    }
    if !record.holders.contains(&node.id()) {
        let mut batch = Batch::new();
        db::add_holder(&mut batch, fingerprint, node.id());
        node.propose(batch).await?;
    }
    Ok(path)
}

/// Makes sure this member holds image `fingerprint` (fetching it from a holder if not, and
/// recording itself as one), then unpacks its `rootfs/` into `dest`, a directory that must
/// not exist yet or be empty.
pub async fn ensure_rootfs(node: &Node, fingerprint: &str, dest: &Path) -> Result<()> {
    let file = ensure_local(node, fingerprint).await?;
    let dest = dest.to_owned();
    tokio::task::spawn_blocking(move || tarball::unpack_rootfs(&file, &dest))
        .await
        .map_err(|e| Error::Internal(format!("unpacking the image stopped: {e}")))?
        .map_err(|e| Error::Internal(format!("unpacking image {fingerprint}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(fp: &str, aliases: &[&str]) -> ImageRecord {
        ImageRecord {
            fingerprint: fp.into(),
            aliases: aliases
                .iter()
                .map(|a| ((*a).to_owned(), String::new()))
                .collect(),
            ..ImageRecord::default()
        }
    }

    #[test]
    fn names_resolve_to_an_alias_a_fingerprint_or_a_unique_prefix() {
        let images = [
            image("abc123", &["busybox"]),
            image("abd456", &[]),
            image("ffee00", &["abd"]),
        ];
        for (name, want) in [
            ("busybox", Ok("abc123")),
            ("abc123", Ok("abc123")),
            ("abc", Ok("abc123")),
            ("ABC", Ok("abc123")),
            // An alias wins over a prefix it also is.
            ("abd", Ok("ffee00")),
            ("ab", Err("More than one image matches")),
            ("zz", Err(NOT_FOUND)),
            ("", Err(NOT_FOUND)),
            ("abd456x", Err(NOT_FOUND)),
        ] {
            let got = find(&images, name).map(|i| i.fingerprint.as_str());
            match (got, want) {
                (Ok(fp), Ok(w)) => assert_eq!(fp, w, "{name}"),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{name}: {e}"),
                (got, want) => panic!("{name}: got {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn times_are_written_as_lxd_writes_them() {
        assert_eq!(rfc3339(0), ZERO_TIME);
        assert_eq!(rfc3339(1764583200), "2025-12-01T10:00:00Z");
    }
}
