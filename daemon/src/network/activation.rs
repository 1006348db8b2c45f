//! Starting and stopping this member's bridges as a whole, as LXD does with its networks:
//! they start with the daemon (unless the member is evacuated) and when the member is
//! restored, and stop once the member is evacuated. Stopping removes the bridge interface
//! but not the member's record of it, so the next start makes it again.

use super::{PROJECT, apply_here, bridge, bridge_error, current};
use crate::db::global::networks;
use crate::error::{Error, Result};
use crate::node::Node;

/// Which of this member's bridges a start makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Every one, brought up to date (a restore).
    All,
    /// Only those whose interface is gone (the daemon's start: bridges that survived a
    /// daemon restart keep serving their instances untouched).
    Missing,
}

/// The networks made as bridges on this member (Created parts of realised networks).
async fn own_networks(node: &Node) -> Result<Vec<String>> {
    let own = node.id();
    current(
        node.read_current(move |c| networks::realised_on(c, PROJECT, own))
            .await?,
    )
}

/// Makes this member's bridges; each is tried, and the error names every one that failed.
pub async fn start(node: &Node, which: Start) -> Result<usize> {
    let mut started = 0;
    let mut failed = Vec::new();
    for name in own_networks(node).await? {
        if which == Start::Missing && bridge::exists(&name).await {
            continue;
        }
        match apply_here(node, &name).await {
            Ok(()) => started += 1,
            Err(e) => failed.push(format!("network {name:?}: {e}")),
        }
    }
    if failed.is_empty() {
        return Ok(started);
    }
    Err(Error::Unavailable(format!(
        "{}; once the cause is fixed, set any of the network's keys again ('corral network set') to make its bridge here",
        failed.join("; ")
    )))
}

/// Removes the interfaces of this member's bridges, keeping its record of them.
pub async fn stop(node: &Node) -> Result<usize> {
    let mut stopped = 0;
    for name in own_networks(node).await? {
        if bridge::stop(node.dirs.root(), &name)
            .await
            .map_err(bridge_error)?
        {
            stopped += 1;
        }
    }
    Ok(stopped)
}
