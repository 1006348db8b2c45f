//! Fetching an image's file from a member that holds it: streamed over the cluster
//! connection into a temporary file, hashed as it arrives, and kept only if its SHA-256 is
//! the image's fingerprint. A holder that is offline, fails or sends other bytes is passed
//! over for the next; the error names each one tried.

use super::{ImageRecord, Location, store};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::Peers;

/// The path a holder serves an image's file on (its own copy only).
pub fn file_path(fingerprint: &str) -> String {
    format!("/internal/images/{fingerprint}/file")
}

/// The holders to try, in order: online ones first, this member never.
pub fn sources<'a>(record: &ImageRecord, members: &'a [Location], me: u64) -> Vec<&'a Location> {
    let mut holders: Vec<&Location> = members
        .iter()
        .filter(|m| m.id != me && record.holders.contains(&m.id))
        .collect();
    holders.sort_by_key(|m| !m.online);
    holders
}

/// Fetches `record`'s file onto this member from one of its holders.
pub(super) async fn from_holders(
    node: &Node,
    record: &ImageRecord,
    members: &[Location],
) -> Result<()> {
    let fp = &record.fingerprint;
    let holders = sources(record, members, node.id());
    if holders.is_empty() {
        return Err(Error::NotFound(format!(
            "No member holds the file of image {fp}: delete the image and import it again"
        )));
    }
    let peers = Peers::of(node)?;
    let mut tried = Vec::new();
    for holder in holders {
        if !holder.online {
            tried.push(format!("{} is offline", holder.name));
            continue;
        }
        match from_holder(node, &peers, holder, fp).await {
            Ok(()) => {
                tracing::info!(image = %fp, from = %holder.name, "fetched image");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(image = %fp, from = %holder.name, "fetching image failed: {e}");
                tried.push(format!("from {}: {e}", holder.name));
            }
        }
    }
    Err(Error::Unavailable(format!(
        "Image {fp} could not be fetched from any member holding it ({}); bring a holder back \
         online, or import the image again",
        tried.join("; ")
    )))
}

async fn from_holder(node: &Node, peers: &Peers, holder: &Location, fp: &str) -> Result<()> {
    let root = node.dirs.root();
    let mut incoming = store::Incoming::new(root)?;
    peers
        .member(&holder.address)
        .download(&file_path(fp), |chunk| incoming.write(chunk))
        .await
        .map_err(|e| Error::Unavailable(e.reason()))?;
    let received = incoming.finish()?;
    if received.fingerprint != fp {
        return Err(Error::Conflict(format!(
            "the copy received ({} bytes) has SHA-256 {}, not the image's fingerprint: refused \
             (the holder's file is damaged, or the transfer was)",
            received.size, received.fingerprint
        )));
    }
    store::keep(root, received)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_are_tried_online_first_and_never_this_member() {
        let at = |id: u64, online: bool| Location {
            id,
            name: format!("m{id}"),
            address: format!("127.0.0.1:{id}"),
            online,
        };
        let members = [at(1, true), at(2, false), at(3, true), at(4, true)];
        let record = ImageRecord {
            holders: vec![1, 2, 3],
            ..ImageRecord::default()
        };
        let order: Vec<u64> = sources(&record, &members, 1).iter().map(|m| m.id).collect();
        assert_eq!(order, [3, 2]);
        let order: Vec<u64> = sources(&record, &members, 4).iter().map(|m| m.id).collect();
        assert_eq!(order, [1, 3, 2]);
    }
}
