//! Importing, deleting and naming images: each checks what LXD checks, records the change
//! through Raft, and moves files where the record says they are.

use std::collections::BTreeMap;

use super::store::{self, Received};
use super::{ImageRecord, NOT_FOUND, find, holders_and_members, replication, tarball};
use crate::db::batch::Batch;
use crate::db::global::images as db;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::Peers;

/// LXD's refusal of an image imported twice.
pub const DUPLICATE: &str = "Image with same fingerprint already exists";

/// What an upload says of itself besides its bytes (LXD's `X-LXD-*` headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upload {
    /// The file name (`X-LXD-filename`).
    pub filename: String,
    /// Whether untrusted clients may see it (`X-LXD-public`).
    pub public: bool,
    /// Properties set over the metadata's (`X-LXD-properties`).
    pub properties: BTreeMap<String, String>,
}

/// The record an image file makes: its metadata, with the upload's properties over them.
pub fn record_of(
    received: &Received,
    metadata: tarball::Metadata,
    upload: &Upload,
    now: &str,
) -> ImageRecord {
    let mut properties = metadata.properties;
    properties.extend(upload.properties.clone());
    ImageRecord {
        id: 0,
        fingerprint: received.fingerprint.clone(),
        filename: upload.filename.clone(),
        size: received.size as i64,
        public: upload.public,
        architecture: metadata.architecture,
        creation_date: super::rfc3339(metadata.creation_date),
        upload_date: now.to_owned(),
        kind: "container".into(),
        properties,
        aliases: Vec::new(),
        holders: Vec::new(),
    }
}

/// Imports a received image file: checks it is LXD's unified format and new to the
/// cluster, keeps it on this member, records it (this member holding it), then copies it
/// to as many members as `cluster.images_minimal_replica` asks, waiting for each copy.
pub async fn import(node: &Node, received: Received, upload: Upload) -> Result<ImageRecord> {
    let temp = received.temp.to_path_buf();
    let metadata = tokio::task::spawn_blocking(move || tarball::inspect(&temp))
        .await
        .map_err(|e| Error::Internal(format!("reading the image stopped: {e}")))?
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    let fp = received.fingerprint.clone();
    let duplicate = || Error::Conflict(format!("{DUPLICATE}: {fp}"));
    node.read_barrier().await?;
    let known = node.global.read(db::images).await?;
    if known.iter().any(|i| i.fingerprint == fp) {
        return Err(duplicate());
    }
    let record = record_of(
        &received,
        metadata,
        &upload,
        &crate::operations::now_rfc3339(),
    );
    store::keep(node.dirs.root(), received)?;
    let mut batch = Batch::new();
    db::insert(&mut batch, &record);
    db::add_holder(&mut batch, &fp, node.id());
    match node.propose(batch).await {
        Ok(_) => {}
        // Imported at the same moment through another member: the file is the same.
        Err(Error::Conflict(e)) if e.contains("UNIQUE") => return Err(duplicate()),
        Err(e) => return Err(e),
    }
    replication::replicate_by_leader(node, &fp).await?;
    tracing::info!(image = %fp, "imported image");
    super::resolve(node, &fp).await
}

/// Deletes the image `name` names, everywhere: refused while a member holding it is
/// offline (its copy could not be removed), as LXD refuses.
pub async fn delete(node: &Node, name: &str) -> Result<String> {
    let fp = super::resolve(node, name).await?.fingerprint;
    let (record, members) = holders_and_members(node, &fp).await?;
    let holders: Vec<_> = members
        .iter()
        .filter(|m| record.holders.contains(&m.id))
        .collect();
    if let Some(gone) = holders.iter().find(|m| !m.online) {
        return Err(Error::Unavailable(format!(
            "Image {fp} is held by member {:?}, which is not online, so its copy cannot be \
             removed: bring the member back (or remove it from the cluster), then delete the image",
            gone.name
        )));
    }
    let mut batch = Batch::new();
    db::delete(&mut batch, &fp);
    node.propose(batch).await?;
    let me = node.id();
    let peers = node.is_clustered().then(|| Peers::of(node)).transpose()?;
    for holder in holders {
        let removed = if holder.id == me {
            store::remove(node.dirs.root(), &fp).map(drop)
        } else if let Some(peers) = &peers {
            peers
                .member(&holder.address)
                .drop_image(&fp)
                .await
                .map_err(|e| Error::Unavailable(e.reason()))
        } else {
            Ok(())
        };
        if let Err(e) = removed {
            // The record is gone; a file left over takes space but names nothing.
            tracing::warn!(image = %fp, member = %holder.name, "removing the image's file failed: {e}");
        }
    }
    // A member that fetched it without being recorded yet keeps no stray copy either.
    store::remove(node.dirs.root(), &fp)?;
    Ok(fp)
}

/// Checks an alias name (LXD's rules: not empty, no slash; not a colon, which names remotes).
pub fn check_alias_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::BadRequest(
            "An alias name is required: name it, e.g. 'corral image alias create busybox FINGERPRINT'"
                .into(),
        ));
    }
    if name.contains('/') || name.contains(':') || name.chars().any(char::is_whitespace) {
        return Err(Error::BadRequest(format!(
            "Invalid alias name {name:?}: it may not contain slashes, colons or spaces"
        )));
    }
    Ok(())
}

/// LXD's refusal of an alias name in use.
fn alias_exists(name: &str) -> Error {
    Error::Conflict(format!("Alias '{name}' already exists"))
}

/// Names image `target` (a fingerprint or a unique prefix) `name`.
pub async fn create_alias(
    node: &Node,
    name: &str,
    description: &str,
    target: &str,
) -> Result<String> {
    check_alias_name(name)?;
    node.read_barrier().await?;
    let images = node.global.read(db::images).await?;
    let exists = || alias_exists(name);
    if images
        .iter()
        .any(|i| i.aliases.iter().any(|(a, _)| a == name))
    {
        return Err(exists());
    }
    if target.is_empty() {
        return Err(Error::BadRequest(
            "The alias needs a target: the fingerprint of the image it names".into(),
        ));
    }
    let fp = find(&images, target)?.fingerprint.clone();
    let mut batch = Batch::new();
    db::add_alias(&mut batch, name, description, &fp);
    match node.propose(batch).await {
        Ok(o) if o.rows_affected.first() == Some(&0) => Err(Error::NotFound(format!(
            "{NOT_FOUND}: image {fp} was deleted meanwhile"
        ))),
        Ok(_) => Ok(fp),
        Err(Error::Conflict(e)) if e.contains("UNIQUE") => Err(exists()),
        Err(e) => Err(e),
    }
}

/// Renames alias `old` to `new` (the image it names stays).
pub async fn rename_alias(node: &Node, old: &str, new: &str) -> Result<()> {
    check_alias_name(new)?;
    let mut batch = Batch::new();
    db::rename_alias(&mut batch, old, new);
    match node.propose(batch).await {
        Ok(o) if o.rows_affected.first().copied().unwrap_or(0) == 0 => {
            Err(Error::NotFound(format!(
                "Image alias not found: there is no alias {old:?} (see 'corral image alias list')"
            )))
        }
        Ok(_) => Ok(()),
        Err(Error::Conflict(e)) if e.contains("UNIQUE") => Err(alias_exists(new)),
        Err(e) => Err(e),
    }
}

/// Deletes alias `name` (not the image it names).
pub async fn delete_alias(node: &Node, name: &str) -> Result<()> {
    let mut batch = Batch::new();
    db::delete_alias(&mut batch, name);
    let outcome = node.propose(batch).await?;
    if outcome.rows_affected.first().copied().unwrap_or(0) == 0 {
        return Err(Error::NotFound(format!(
            "Image alias not found: there is no alias {name:?} (see 'corral image alias list')"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_lxds_rules() {
        for (name, ok) in [
            ("busybox", true),
            ("busybox-1.36", true),
            ("", false),
            ("a/b", false),
            ("local:busybox", false),
            ("two words", false),
        ] {
            assert_eq!(check_alias_name(name).is_ok(), ok, "{name:?}");
        }
    }

    #[test]
    fn an_uploads_properties_go_over_the_metadatas() {
        let root = tempfile::tempdir().unwrap();
        let mut incoming = store::Incoming::new(root.path()).unwrap();
        incoming.write(b"image").unwrap();
        let received = incoming.finish().unwrap();
        let metadata = tarball::Metadata {
            architecture: "x86_64".into(),
            creation_date: 1764583200,
            properties: BTreeMap::from([
                ("os".into(), "busybox".into()),
                ("release".into(), "1.36".into()),
            ]),
        };
        let upload = Upload {
            filename: "busybox.tar.gz".into(),
            public: true,
            properties: BTreeMap::from([("release".into(), "edge".into())]),
        };
        let r = record_of(&received, metadata, &upload, "2026-12-01T12:00:00Z");
        assert_eq!(r.fingerprint, received.fingerprint);
        assert_eq!(r.size, 5);
        assert!(r.public);
        assert_eq!(r.creation_date, "2025-12-01T10:00:00Z");
        assert_eq!(r.properties["os"], "busybox");
        assert_eq!(r.properties["release"], "edge");
        assert_eq!(r.kind, "container");
    }
}
