//! Applying a preseed: server config, storage pools, networks and profiles, and (with
//! `cluster.enabled`) bootstrapping a one-member cluster whose certificate every later
//! member will present. The plan is pure; `apply` checks, commits, then adopts it.

use std::collections::BTreeMap;
use std::sync::Arc;

use corral_shared::config::apply_changes;
use corral_shared::preseed::{ClusterPreseed, Preseed};
use openraft::{BasicNode, ChangeMembers};

use super::config::{self as server_config, check_clustered_rules, diff_batch, local_changes};
use crate::db::batch::Batch;
use crate::db::global::{entities, nodes, queries, storage_pools};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::tls::Identity;

mod undo;
use undo::{own_raft_address, restore, snapshot};

/// What applying a preseed will write.
#[derive(Debug, Default)]
pub struct Plan {
    /// The replicated statements, committed as one Raft entry.
    pub batch: Batch,
    /// Member-local config changes ("" removes).
    pub local: BTreeMap<String, String>,
    /// With clustering: the member name and the address other members reach it on.
    pub cluster: Option<(String, String)>,
}

/// What the cluster already holds, for the plan to check names against.
#[derive(Debug, Default)]
pub struct Existing {
    /// Current server config (local and cluster-wide keys).
    pub config: BTreeMap<String, String>,
    /// Storage pool names.
    pub pools: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
    /// Profile names.
    pub profiles: Vec<String>,
    /// Whether this member is already clustered.
    pub clustered: bool,
}

fn bad(message: String) -> Error {
    Error::BadRequest(message)
}

/// Refuses a profile device naming a storage pool or network that neither the preseed
/// nor the server defines, so `init` never points a profile at something missing.
fn check_references(preseed: &Preseed, existing: &Existing) -> Result<()> {
    for (i, profile) in preseed.profiles.iter().enumerate() {
        for (device, keys) in &profile.devices {
            let kind = keys.get("type").map(String::as_str).unwrap_or_default();
            let (key, what, section, known, ours): (_, _, _, &[String], Vec<&String>) = match kind {
                "disk" => (
                    "pool",
                    "storage pool",
                    "storage_pools",
                    &existing.pools,
                    preseed.storage_pools.iter().map(|p| &p.name).collect(),
                ),
                "nic" => (
                    "network",
                    "network",
                    "networks",
                    &existing.networks,
                    preseed.networks.iter().map(|n| &n.name).collect(),
                ),
                _ => continue,
            };
            let Some(target) = keys.get(key).filter(|t| !t.is_empty()) else {
                continue;
            };
            if !known.contains(target) && !ours.contains(&target) {
                return Err(bad(format!(
                    "profiles[{i}].devices.{device}.{key}: cannot set '{key}' to '{target}': {what} \"{target}\" is defined neither in this preseed nor on this server; add it under {section} or use the name of one that is"
                )));
            }
        }
    }
    Ok(())
}

/// Works out what a validated preseed writes for member `member_id`, refusing it whole if
/// any part conflicts with what exists.
pub fn plan(preseed: &Preseed, existing: &Existing, member_id: u64) -> Result<Plan> {
    let changes = preseed
        .config
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    let config = apply_changes(&existing.config, &changes)?;
    check_clustered_rules(existing.clustered, &existing.config, &config)?;
    if existing.clustered
        && let Ok(Some(address)) = super::address::moved(&existing.config, &config)
    {
        // A preseed writes local config without telling the cluster; a move must.
        return Err(bad(format!(
            "a preseed cannot move a cluster member to {address}; run 'corral config set \
             cluster.https_address {address}' on it instead"
        )));
    }

    check_references(preseed, existing)?;
    let mut batch = diff_batch(&existing.config, &config);
    for pool in &preseed.storage_pools {
        if existing.pools.contains(&pool.name) {
            return Err(Error::Conflict(format!(
                "storage_pools: a storage pool named '{}' already exists; remove it from the preseed or pick another name",
                pool.name
            )));
        }
        storage_pools::add_created(
            &mut batch,
            &pool.name,
            &pool.driver,
            &pool.description,
            &pool.config,
            member_id,
        );
    }
    for net in &preseed.networks {
        if existing.networks.contains(&net.name) {
            return Err(Error::Conflict(format!(
                "networks: a network named '{}' already exists; remove it from the preseed or pick another name",
                net.name
            )));
        }
        let project = if net.project.is_empty() {
            "default"
        } else {
            net.project.as_str()
        };
        entities::add_network(
            &mut batch,
            project,
            &net.name,
            net.effective_kind(),
            &net.description,
            &net.config,
        );
    }
    if !preseed.networks.is_empty() {
        crate::db::global::networks::created_everywhere_on(&mut batch, member_id);
    }
    for profile in &preseed.profiles {
        entities::put_profile(
            &mut batch,
            existing.profiles.contains(&profile.name),
            &entities::Profile {
                name: &profile.name,
                description: &profile.description,
                config: &profile.config,
                devices: &profile.devices,
            },
        );
    }

    let mut cluster = None;
    if let Some(c) = preseed.cluster.as_ref().filter(|c| c.enabled) {
        if existing.clustered {
            return Err(bad(
                "This server is already clustered; to start over, remove it from its cluster first"
                    .into(),
            ));
        }
        let address = config
            .get("cluster.https_address")
            .or_else(|| config.get("core.https_address"))
            .cloned()
            .ok_or_else(|| {
                bad("clustering needs core.https_address or cluster.https_address: the address other members reach this one on".into())
            })?;
        let address = corral_shared::config::canonical_address(&address).map_err(bad)?;
        nodes::set_identity(&mut batch, member_id, &c.server_name, &address);
        cluster = Some((c.server_name.clone(), address));
    }
    Ok(Plan {
        batch,
        local: local_changes(&existing.config, &config),
        cluster,
    })
}

async fn existing(node: &Node) -> Result<Existing> {
    let config = server_config::current(node).await?;
    let (pools, networks, profiles) = node
        .global
        .read(|c| {
            Ok((
                queries::storage_pools(c)?
                    .into_iter()
                    .map(|p| p.name)
                    .collect(),
                queries::networks(c)?.into_iter().map(|n| n.name).collect(),
                queries::profiles(c)?,
            ))
        })
        .await?;
    Ok(Existing {
        config,
        pools,
        networks,
        profiles,
        clustered: node.is_clustered(),
    })
}

/// The preseed equivalent to LXD's `PUT /1.0/cluster`: the cluster section given, with
/// this server's own addresses from its config (as when LXD enables clustering). Refused at
/// once if invalid, rather than as a failed operation later.
pub async fn preseed_for_cluster(node: &Node, cluster: ClusterPreseed) -> Result<Preseed> {
    let addresses = server_config::current(node)
        .await?
        .into_iter()
        .filter(|(k, _)| server_config::LOCAL_KEYS.contains(&k.as_str()))
        .collect();
    let preseed = Preseed {
        config: addresses,
        cluster: Some(cluster),
        ..Default::default()
    };
    if let Err(violations) = preseed.validate() {
        let lines: Vec<String> = violations.iter().map(|v| v.message()).collect();
        return Err(bad(lines.join("; ")));
    }
    Ok(preseed)
}

/// Validates and applies a preseed on this member (bootstrapping or joining a cluster, or
/// configuring a standalone server); nothing changes if any part is refused, and a step
/// that fails after the commit is undone, so a refusal always leaves the server as it was.
pub async fn apply(node: &Arc<Node>, preseed: &Preseed) -> Result<()> {
    if let Err(violations) = preseed.validate() {
        let lines: Vec<String> = violations.iter().map(|v| v.message()).collect();
        return Err(bad(format!("invalid preseed: {}", lines.join("; "))));
    }
    if preseed.is_join() {
        return super::join::join(node, preseed).await;
    }
    let existing = existing(node).await?;
    let plan = plan(preseed, &existing, node.id())?;
    let served = node.listening_addresses().await;
    let after = local_after(&existing.config, &plan.local);
    for address in to_bind(&after, &served) {
        check_bindable(&address).await?;
    }
    // Made before the commit so that a failure to make it changes nothing.
    let identity = match &plan.cluster {
        Some((name, address)) => Some(
            Identity::generate(
                &format!("root@{name}"),
                vec![name.clone(), host_of(address)],
            )
            .map_err(|e| Error::Internal(e.to_string()))?,
        ),
        None => None,
    };
    let before = snapshot(node).await?;
    let raft_address = own_raft_address(node);
    if !plan.batch.is_empty() {
        node.propose(plan.batch).await?;
    }
    let plan_bootstraps = plan.cluster.is_some();
    let result = adopt(node, &plan.local, identity, plan.cluster).await;
    if let Err(e) = result {
        let undo = local_changes(&after, &existing.config);
        let drop_identity = plan_bootstraps && !existing.clustered;
        restore(node, before, &undo, raft_address, drop_identity).await;
        return Err(e);
    }
    if let Err(e) = crate::storage::pools::create_local_parts(node).await {
        tracing::warn!("a storage pool's directory could not be made here: {e}");
    }
    Ok(())
}

/// The steps after the commit: local config, cluster certificate, Raft address, listeners.
async fn adopt(
    node: &Arc<Node>,
    local: &BTreeMap<String, String>,
    identity: Option<Identity>,
    cluster: Option<(String, String)>,
) -> Result<()> {
    if !local.is_empty() {
        node.local.write_config(local.clone()).await?;
    }
    if let (Some(identity), Some((name, address))) = (identity, cluster) {
        identity
            .save(node.dirs.root(), "cluster")
            .map_err(|e| Error::Internal(format!("cannot save the cluster certificate: {e}")))?;
        node.set_cluster_identity(identity)?;
        // Raft's own record of where this member is, used by members forwarding to it.
        let nodes = BTreeMap::from([(node.id(), BasicNode::new(address))]);
        node.change_membership(
            ChangeMembers::SetNodes(nodes),
            false,
            "record this member's address in Raft",
        )
        .await?;
        node.operations.set_location(&name);
    }
    node.reconcile_listeners().await
}

/// The member-local config once `changes` ("" removes) are made to `config`.
fn local_after(
    config: &BTreeMap<String, String>,
    changes: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut after = config.clone();
    for (k, v) in changes {
        if v.is_empty() {
            after.remove(k);
        } else {
            after.insert(k.clone(), v.clone());
        }
    }
    after
}

/// The addresses `config` asks the listeners for that are not served yet (the running
/// daemon may already listen on the address a preseed names; that one is fine).
pub fn to_bind(config: &BTreeMap<String, String>, served: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in ["core.https_address", "cluster.https_address"] {
        let Some(address) = config.get(key).filter(|a| !a.is_empty()) else {
            continue;
        };
        let address =
            corral_shared::config::canonical_address(address).unwrap_or_else(|_| address.clone());
        if !served.contains(&address) && !out.contains(&address) {
            out.push(address);
        }
    }
    out
}

/// Refuses an address this machine cannot listen on, before anything is changed.
pub async fn check_bindable(address: &str) -> Result<()> {
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(e) => Err(bad(format!(
            "cannot listen on {address}: {e}; choose an address of this machine that is free (core.https_address or server_address)"
        ))),
    }
}

fn host_of(address: &str) -> String {
    address
        .rsplit_once(':')
        .map_or(address, |(h, _)| h)
        .trim_matches(|c| c == '[' || c == ']')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::preseed::{ClusterPreseed, ProfilePreseed, StoragePoolPreseed};

    /// A preseed that only sets the API address, to `address`.
    fn addressed(address: &str) -> Preseed {
        Preseed {
            config: BTreeMap::from([("core.https_address".into(), address.into())]),
            ..Default::default()
        }
    }

    fn bootstrap() -> Preseed {
        Preseed {
            config: BTreeMap::from([("core.https_address".into(), "127.0.0.1:8443".into())]),
            storage_pools: vec![StoragePoolPreseed {
                name: "default".into(),
                driver: "dir".into(),
                ..Default::default()
            }],
            cluster: Some(ClusterPreseed {
                server_name: "node1".into(),
                enabled: true,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A preseed that only gives the default profile one device of `kind` with `key: value`.
    fn profile_device(kind: &str, key: &str, value: &str) -> Preseed {
        let device = BTreeMap::from([
            ("type".to_owned(), kind.to_owned()),
            (key.to_owned(), value.to_owned()),
        ]);
        Preseed {
            profiles: vec![ProfilePreseed {
                name: "default".into(),
                devices: BTreeMap::from([("dev0".to_owned(), device)]),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_missing_reference_is_named_with_what_to_do() {
        let refused = plan(
            &profile_device("nic", "network", "br9"),
            &Existing::default(),
            1,
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("profiles[0].devices.dev0.network: cannot set 'network' to 'br9'"),
            "{refused}"
        );
        assert!(refused.contains("add it under networks"), "{refused}");
    }

    #[test]
    fn plans_refuse_what_conflicts_and_take_what_does_not() {
        struct Case {
            name: &'static str,
            preseed: Preseed,
            existing: Existing,
            ok: bool,
        }
        let clustered_at = |address: &str| Existing {
            clustered: true,
            config: BTreeMap::from([("core.https_address".into(), address.into())]),
            ..Default::default()
        };
        let mut no_address = bootstrap();
        no_address.config.clear();
        let cases = vec![
            Case {
                name: "fresh bootstrap",
                preseed: bootstrap(),
                existing: Existing::default(),
                ok: true,
            },
            Case {
                name: "already clustered",
                preseed: bootstrap(),
                existing: Existing {
                    clustered: true,
                    ..Default::default()
                },
                ok: false,
            },
            Case {
                name: "a clustered member moved by a preseed",
                preseed: addressed("127.0.0.2:8443"),
                existing: clustered_at("127.0.0.1:8443"),
                ok: false,
            },
            Case {
                name: "a clustered member naming its own address again",
                preseed: addressed("127.0.0.1:8443"),
                existing: clustered_at("127.0.0.1:8443"),
                ok: true,
            },
            Case {
                name: "pool exists",
                preseed: bootstrap(),
                existing: Existing {
                    pools: vec!["default".into()],
                    ..Default::default()
                },
                ok: false,
            },
            Case {
                name: "a profile's NIC on a network the server has",
                preseed: profile_device("nic", "network", "lan0"),
                existing: Existing {
                    networks: vec!["lan0".into()],
                    ..Default::default()
                },
                ok: true,
            },
            Case {
                name: "a profile's NIC on a network nobody defines",
                preseed: profile_device("nic", "network", "br9"),
                existing: Existing::default(),
                ok: false,
            },
            Case {
                name: "a profile's disk on a pool the server has",
                preseed: profile_device("disk", "pool", "fast"),
                existing: Existing {
                    pools: vec!["fast".into()],
                    ..Default::default()
                },
                ok: true,
            },
            Case {
                name: "a profile's disk on a pool nobody defines",
                preseed: profile_device("disk", "pool", "fast"),
                existing: Existing::default(),
                ok: false,
            },
            Case {
                name: "a profile's disk on the pool the preseed makes",
                preseed: {
                    let mut p = bootstrap();
                    p.profiles = profile_device("disk", "pool", "default").profiles;
                    p
                },
                existing: Existing::default(),
                ok: true,
            },
            Case {
                name: "no address",
                preseed: no_address,
                existing: Existing::default(),
                ok: false,
            },
        ];
        for case in cases {
            assert_eq!(
                plan(&case.preseed, &case.existing, 1).is_ok(),
                case.ok,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn a_bootstrap_plan_names_the_member_and_its_address() {
        let p = plan(&bootstrap(), &Existing::default(), 1).unwrap();
        assert_eq!(p.cluster, Some(("node1".into(), "127.0.0.1:8443".into())));
        assert_eq!(
            p.local.get("core.https_address").map(String::as_str),
            Some("127.0.0.1:8443")
        );
        assert!(
            p.batch
                .statements
                .iter()
                .any(|s| s.sql.starts_with("UPDATE nodes"))
        );
    }

    #[test]
    fn only_addresses_not_served_yet_need_binding() {
        let config = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let served = vec!["127.0.0.1:8443".to_owned()];
        let cases: Vec<(&str, BTreeMap<String, String>, Vec<&str>)> = vec![
            ("nothing asked", config(&[]), vec![]),
            (
                "already served",
                config(&[("core.https_address", "127.0.0.1:8443")]),
                vec![],
            ),
            (
                "served, spelled without the port",
                config(&[("core.https_address", "127.0.0.1")]),
                vec![],
            ),
            (
                "a new one",
                config(&[("core.https_address", "127.0.0.2:8443")]),
                vec!["127.0.0.2:8443"],
            ),
            (
                "both keys, same address",
                config(&[
                    ("core.https_address", "127.0.0.2:8443"),
                    ("cluster.https_address", "127.0.0.2"),
                ]),
                vec!["127.0.0.2:8443"],
            ),
            (
                "other keys are not addresses",
                config(&[("user.x", "127.0.0.3:1")]),
                vec![],
            ),
        ];
        for (name, config, want) in cases {
            assert_eq!(to_bind(&config, &served), want, "{name}");
        }
    }

    #[test]
    fn local_after_applies_removals() {
        let config = BTreeMap::from([("core.https_address".to_owned(), "a:1".to_owned())]);
        let changes = BTreeMap::from([("core.https_address".to_owned(), String::new())]);
        assert!(local_after(&config, &changes).is_empty());
    }

    #[test]
    fn host_is_taken_from_addresses() {
        for (addr, host) in [
            ("127.0.0.1:8443", "127.0.0.1"),
            ("[::1]:8443", "::1"),
            ("node", "node"),
        ] {
            assert_eq!(host_of(addr), host);
        }
    }
}
