//! Copies of an image on several members, as LXD's `cluster.images_minimal_replica` asks:
//! the plan (how many copies are wanted, which members get one) is a plain function; the
//! copying is each chosen member fetching the file from a holder and recording itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;

use super::{ImageRecord, Location, holders_and_members, images_and_members};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::Peers;

/// How many members should hold an image: the setting, or every member for -1, never more
/// than there are members.
pub fn desired(setting: i64, members: usize) -> usize {
    if setting < 0 {
        members
    } else {
        (setting as usize).min(members)
    }
}

/// The setting from the cluster config (its default, 3, while unset), as every reader of
/// the cluster settings sees it.
pub fn setting(config: &BTreeMap<String, String>) -> i64 {
    corral_shared::config::ClusterSettings::from_config(config).images_minimal_replica
}

/// Which members get a copy: as many of `candidates` (online members without the image, in
/// the order to pick them) as are missing for `desired` copies among the `held` online
/// holders. Nothing when nobody holds it (there is nothing to copy from).
pub fn targets(desired: usize, held: usize, candidates: &[u64]) -> Vec<u64> {
    if held == 0 || held >= desired {
        return Vec::new();
    }
    candidates.iter().take(desired - held).copied().collect()
}

/// The members (ids) that get a copy of `record`: [`targets`] over the online members
/// lacking it, in random order, as LXD picks them.
fn chosen(record: &ImageRecord, members: &[Location], setting: i64) -> Vec<u64> {
    let online: Vec<&Location> = members.iter().filter(|m| m.online).collect();
    let held = online
        .iter()
        .filter(|m| record.holders.contains(&m.id))
        .count();
    let mut candidates: Vec<u64> = online
        .iter()
        .filter(|m| !record.holders.contains(&m.id))
        .map(|m| m.id)
        .collect();
    candidates.shuffle(&mut rand::thread_rng());
    targets(desired(setting, members.len()), held, &candidates)
}

/// Brings image `fingerprint` up to its number of copies: each chosen member (chosen at
/// random among the online ones lacking it, as LXD does) fetches it from a holder. Waits
/// for every copy; the error names each member that failed.
pub async fn replicate(node: &Node, fingerprint: &str) -> Result<Vec<String>> {
    if !node.is_clustered() {
        return Ok(Vec::new());
    }
    let config = crate::cluster::config::current(node).await?;
    let (record, members) = holders_and_members(node, fingerprint).await?;
    let chosen = chosen(&record, &members, setting(&config));
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let peers = Peers::of(node)?;
    let mut copied = Vec::new();
    let mut failed = Vec::new();
    for id in chosen {
        let Some(member) = members.iter().find(|m| m.id == id) else {
            continue;
        };
        match peers.member(&member.address).pull_image(fingerprint).await {
            Ok(()) => copied.push(member.name.clone()),
            Err(e) => failed.push(format!("{}: {}", member.name, e.reason())),
        }
    }
    if failed.is_empty() {
        Ok(copied)
    } else {
        Err(Error::Unavailable(format!(
            "Failed syncing image between members: {}; the image stays where it is held, and \
             members lacking it fetch it when they need it",
            failed.join("; ")
        )))
    }
}

/// The images only member `leaving` holds, each with the member to copy it to before it
/// goes: the first of `order` (online members, random in use) that is not `leaving`. An
/// image no other member can take is returned with `None`.
pub fn rescues(images: &[ImageRecord], leaving: u64, order: &[u64]) -> Vec<(String, Option<u64>)> {
    let to = order.iter().copied().find(|id| *id != leaving);
    images
        .iter()
        .filter(|i| !i.holders.is_empty() && i.holders.iter().all(|h| *h == leaving))
        .map(|i| (i.fingerprint.clone(), to))
        .collect()
}

/// Before member `leaving` is removed, copies each image only it holds to another online
/// member, so that removing a member loses no image; the images copied. Refused, naming
/// the image, when one cannot be copied: then nothing has been removed.
pub async fn rescue_from(node: &Node, leaving: u64, name: &str) -> Result<Vec<String>> {
    let _turn = COPYING.lock().await;
    let (images, members) = images_and_members(node).await?;
    let mut order: Vec<u64> = members
        .iter()
        .filter(|m| m.online && m.id != leaving)
        .map(|m| m.id)
        .collect();
    order.shuffle(&mut rand::thread_rng());
    let peers = Peers::of(node)?;
    let mut copied = Vec::new();
    for (fingerprint, to) in rescues(&images, leaving, &order) {
        let Some(member) = to.and_then(|id| members.iter().find(|m| m.id == id)) else {
            return Err(Error::Unavailable(format!(
                "Image {fingerprint} is held only by {name}, and no other member is online to                  take a copy: bring another member online, or remove {name} with --force and                  lose the image"
            )));
        };
        peers
            .member(&member.address)
            .pull_image(&fingerprint)
            .await
            .map_err(|e| {
                Error::Unavailable(format!(
                    "Image {fingerprint} is held only by {name}, and copying it to {} failed                      ({}): {name} was not removed; retry, or remove it with --force and lose                      the image",
                    member.name,
                    e.reason()
                ))
            })?;
        tracing::info!(image = %fingerprint, to = %member.name, "copied an image {name} alone held before its removal");
        copied.push(fingerprint);
    }
    Ok(copied)
}

/// How often the leader checks that every image has its copies (LXD does it hourly; a
/// check is one read, so a member that joined gets its copies within seconds instead).
pub const SYNC_PERIOD: Duration = Duration::from_secs(10);

/// One copying at a time on this member: the leader does all of it (an import asks the
/// leader, the background check runs there), so two copyings of one image never choose
/// members at once and overshoot its number of copies.
static COPYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// [`replicate`], after any copying under way on this member.
pub async fn replicate_in_turn(node: &Node, fingerprint: &str) -> Result<Vec<String>> {
    let _turn = COPYING.lock().await;
    replicate(node, fingerprint).await
}

/// Has the leader bring image `fingerprint` up to its number of copies, waiting for them
/// (here, when this member leads).
pub async fn replicate_by_leader(node: &Node, fingerprint: &str) -> Result<()> {
    if !node.is_clustered() {
        return Ok(());
    }
    if node.is_leader() {
        return replicate_in_turn(node, fingerprint).await.map(drop);
    }
    let leader = Peers::of(node)?.leader().ok_or_else(|| {
        Error::Unavailable(
            "No leader is known to copy the image to other members; it is kept here, and \
             the leader copies it once one is elected"
                .into(),
        )
    })?;
    leader
        .replicate_image(fingerprint)
        .await
        .map_err(|e| e.relayed("the leader"))
}

/// The leader's background check, as LXD's image sync task: every image is brought up to
/// its number of copies (after a member joins, after a copy failed, after the setting rose).
pub fn spawn(node: &Arc<Node>) {
    let tasks = node.tasks.clone();
    let node = Arc::downgrade(node);
    tasks.spawn("image copies", async move {
        loop {
            tokio::time::sleep(SYNC_PERIOD).await;
            let Some(n) = node.upgrade() else { return };
            if n.is_clustered() && n.is_leader() {
                sync_all(&n).await;
            }
        }
    });
}

/// One check over every image: the images, members and setting are read once, and only an
/// image short of copies is copied (read again then, under [`COPYING`]); failures are logged
/// and tried again at the next check.
async fn sync_all(node: &Node) {
    let Ok(config) = crate::cluster::config::current(node).await else {
        return;
    };
    let Ok((images, members)) = images_and_members(node).await else {
        return;
    };
    let wanted = setting(&config);
    for image in images
        .iter()
        .filter(|i| !chosen(i, &members, wanted).is_empty())
    {
        match replicate_in_turn(node, &image.fingerprint).await {
            Ok(copied) if !copied.is_empty() => {
                tracing::info!(image = %image.fingerprint, to = ?copied, "copied image");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(image = %image.fingerprint, "copying image: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn images_only_a_leaving_member_holds_go_to_another_member_first() {
        let image = |fp: &str, holders: &[u64]| ImageRecord {
            fingerprint: fp.into(),
            holders: holders.to_vec(),
            ..ImageRecord::default()
        };
        let images = [
            image("alone", &[3]),
            image("shared", &[3, 1]),
            image("elsewhere", &[2]),
            image("nowhere", &[]),
        ];
        assert_eq!(
            rescues(&images, 3, &[3, 2, 1]),
            [("alone".to_owned(), Some(2))]
        );
        assert_eq!(rescues(&images, 3, &[3]), [("alone".to_owned(), None)]);
        assert_eq!(rescues(&images, 1, &[2, 3]), []);
    }

    #[test]
    fn the_number_of_copies_follows_the_setting_and_the_members() {
        for (setting, members, want) in [
            (3, 5, 3),
            (3, 2, 2),
            (1, 4, 1),
            (-1, 4, 4),
            (-1, 1, 1),
            (2, 4, 2),
            (10, 3, 3),
        ] {
            assert_eq!(desired(setting, members), want, "{setting} of {members}");
        }
    }

    #[test]
    fn the_setting_is_read_from_the_config_with_lxds_default() {
        let config = |v: Option<&str>| -> BTreeMap<String, String> {
            v.map(|v| BTreeMap::from([("cluster.images_minimal_replica".to_owned(), v.to_owned())]))
                .unwrap_or_default()
        };
        assert_eq!(setting(&config(None)), 3);
        assert_eq!(setting(&config(Some("-1"))), -1);
        assert_eq!(setting(&config(Some("2"))), 2);
        assert_eq!(setting(&config(Some("x"))), 3);
    }

    #[test]
    fn copies_go_to_as_many_candidates_as_are_missing() {
        for (desired, held, candidates, want) in [
            (3, 1, vec![4, 2, 3], vec![4, 2]),
            (3, 3, vec![4], vec![]),
            (3, 4, vec![5], vec![]),
            (4, 1, vec![2], vec![2]),
            // Nobody holds it: nothing to copy from.
            (3, 0, vec![1, 2, 3], vec![]),
            (1, 1, vec![2, 3], vec![]),
            (2, 1, vec![], vec![]),
        ] {
            assert_eq!(
                targets(desired, held, &candidates),
                want,
                "{desired} wanted, {held} held, {candidates:?}"
            );
        }
    }
}
