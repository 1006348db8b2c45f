//! The current configuration as a preseed (`corrald init --dump`): server config, storage
//! pools, networks and profiles with their config and devices, and the cluster section.
//! The trust password is left out: only its hash is stored.

use corral_shared::preseed::{ClusterPreseed, Preseed};

use super::{config, members};
use crate::db::global::entities;
use crate::error::Result;
use crate::node::Node;

/// Config keys never dumped.
const HIDDEN: &[&str] = &["core.trust_password"];

/// This server's configuration as a preseed that would set it up the same way.
pub async fn current(node: &Node) -> Result<Preseed> {
    let config = config::current(node)
        .await?
        .into_iter()
        .filter(|(k, _)| !HIDDEN.contains(&k.as_str()))
        .collect();
    let member = node.id() as i64;
    let (storage_pools, networks, profiles) = node
        .global
        .read(move |c| {
            Ok((
                entities::pool_preseeds(c, member)?,
                entities::network_preseeds(c, member)?,
                entities::profile_preseeds(c)?,
            ))
        })
        .await?;
    let cluster = if node.is_clustered() {
        Some(ClusterPreseed {
            server_name: members::own_name(node).await?,
            enabled: true,
            ..Default::default()
        })
    } else {
        None
    };
    Ok(Preseed {
        config,
        networks,
        storage_pools,
        profiles,
        cluster,
    })
}
