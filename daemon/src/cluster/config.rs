//! Server configuration: member-local keys (addresses) live in the local database; every
//! other key is cluster-wide and replicated. Every change is validated before anything is
//! written, and cluster-wide changes are committed through Raft before local ones.

use std::collections::BTreeMap;

use corral_shared::config::{ConfigError, apply_changes};

use crate::db::batch::Batch;
use crate::db::global::config as db_config;
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::{Node, Read};

/// Keys that belong to one member, not to the cluster (as in LXD).
pub const LOCAL_KEYS: &[&str] = &["core.https_address", "cluster.https_address"];

/// Keys whose change calls for a role rebalance.
const ROLE_KEYS: &[&str] = &["cluster.max_voters", "cluster.max_standby"];

fn is_local(key: &str) -> bool {
    LOCAL_KEYS.contains(&key)
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::BadRequest(e.to_string())
    }
}

/// The whole server configuration: local and cluster-wide keys together.
pub async fn current(node: &Node) -> Result<BTreeMap<String, String>> {
    Ok(snapshot(node).await?.whole)
}

/// The configuration as one read saw it: the whole of it (what the ETag is computed from),
/// and the cluster-wide part, which a write made with If-Match requires unchanged.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Local and cluster-wide keys together, as [`current`] has them.
    pub whole: BTreeMap<String, String>,
    /// The replicated table alone.
    replicated: BTreeMap<String, String>,
}

/// Reads the configuration once (see [`Snapshot`]).
pub async fn snapshot(node: &Node) -> Result<Snapshot> {
    let replicated = node.global.read(queries::config).await?;
    let mut whole = replicated.clone();
    whole.extend(
        node.local
            .read_config()
            .await?
            .into_iter()
            .filter(|(k, _)| is_local(k)),
    );
    Ok(Snapshot { whole, replicated })
}

/// What `GET /1.0` shows of the replicated state.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The whole configuration, as [`current`] has it.
    pub config: BTreeMap<String, String>,
    /// This member's name, once its row is replicated.
    pub member_name: Option<String>,
}

/// The configuration and this member's name as of now: a linearizable read, or this
/// member's copy marked stale when no leader can confirm it.
pub async fn shown_current(node: &Node) -> Result<Read<Shown>> {
    let id = node.id();
    let read = node
        .read_current(move |c| {
            let name = queries::member_by_id(c, id)?.map(|r| r.name);
            Ok((queries::config(c)?, name))
        })
        .await?;
    let local = node.local.read_config().await?;
    Ok(read.map(|(mut config, member_name)| {
        config.extend(local.into_iter().filter(|(k, _)| is_local(k)));
        Shown {
            config,
            member_name,
        }
    }))
}

/// The statements that turn the cluster-wide `old` config into `new`.
pub fn diff_batch(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Batch {
    let mut batch = Batch::new();
    for (k, v) in new.iter().filter(|(k, _)| !is_local(k)) {
        if old.get(k) != Some(v) {
            db_config::set(&mut batch, k, v);
        }
    }
    for k in old.keys().filter(|k| !is_local(k) && !new.contains_key(*k)) {
        db_config::unset(&mut batch, k);
    }
    batch
}

/// The member-local keys that change between `old` and `new` ("" means removed).
pub fn local_changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    LOCAL_KEYS
        .iter()
        .filter(|k| old.get(**k) != new.get(**k))
        .map(|k| (k.to_string(), new.get(*k).cloned().unwrap_or_default()))
        .collect()
}

/// Refuses what a clustered member may not do to its addresses: be left without one
/// other members reach it on. (Unlike LXD 5.0, it may move: see `cluster::address`.)
pub fn check_clustered_rules(
    clustered: bool,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<()> {
    if clustered {
        super::address::moved(old, new).map_err(Error::BadRequest)?;
    }
    Ok(())
}

/// Config as an API client sends it: JSON values (strings, numbers, booleans) as stored strings.
fn from_view(
    view: &BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, Option<String>>> {
    view.iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                Some(corral_shared::config::value_to_string(k, v)?),
            ))
        })
        .collect()
}

/// PATCH /1.0: changes only the keys given; with `seen` (a write made with If-Match), only
/// if the configuration is still what `seen` read when the change commits.
pub async fn update_from_view(
    node: &Node,
    view: &BTreeMap<String, serde_json::Value>,
    seen: Option<&Snapshot>,
) -> Result<()> {
    update_guarded(node, from_view(view)?, false, seen).await
}

/// PUT /1.0: the config becomes exactly what is given (guarded by `seen` as PATCH is). A
/// trust password given back as `true` (as GET shows a set one) keeps the stored hash
/// instead of becoming the password "true".
pub async fn replace_from_view(
    node: &Node,
    view: &BTreeMap<String, serde_json::Value>,
    seen: Option<&Snapshot>,
) -> Result<()> {
    let mut changes = from_view(view)?;
    if view.get(TRUST_PASSWORD) != Some(&serde_json::Value::Bool(true)) {
        return update_guarded(node, changes, true, seen).await;
    }
    changes.remove(TRUST_PASSWORD);
    let keys = match seen {
        Some(seen) => seen.whole.clone(),
        None => current(node).await?,
    };
    for k in keys.keys().filter(|k| *k != TRUST_PASSWORD) {
        changes.entry(k.clone()).or_insert(None);
    }
    update_guarded(node, changes, false, seen).await
}

const TRUST_PASSWORD: &str = "core.trust_password";

/// Applies `changes` (None or "" unsets) and, with `replace`, unsets every key not named.
pub async fn update(
    node: &Node,
    changes: BTreeMap<String, Option<String>>,
    replace: bool,
) -> Result<()> {
    update_guarded(node, changes, replace, None).await
}

/// As [`update`], computed from `seen` when given and committed only if the replicated
/// configuration is still what `seen` read (else nothing changes and the answer is 412).
pub async fn update_guarded(
    node: &Node,
    mut changes: BTreeMap<String, Option<String>>,
    replace: bool,
    seen: Option<&Snapshot>,
) -> Result<()> {
    let old = match seen {
        Some(seen) => seen.whole.clone(),
        None => current(node).await?,
    };
    if replace {
        for k in old.keys() {
            changes.entry(k.clone()).or_insert(None);
        }
    }
    let new = apply_changes(&old, &changes)?;
    check_clustered_rules(node.is_clustered(), &old, &new)?;
    let batch = diff_batch(&old, &new);
    if !batch.is_empty() {
        match seen {
            None => {
                node.propose(batch).await?;
            }
            Some(seen) => {
                // The check and the change in one entry: a change committed since `seen`
                // rolls this one back on every replica alike.
                let mut guarded = Batch::new();
                db_config::unchanged_since(&mut guarded, &seen.replicated);
                guarded.extend(batch);
                match node.propose(guarded).await {
                    Err(Error::Conflict(_)) => return Err(changed_since_read()),
                    other => {
                        other?;
                    }
                }
            }
        }
    }
    let limits_changed = ROLE_KEYS.iter().any(|k| old.get(*k) != new.get(*k));
    if limits_changed && node.is_clustered() {
        // New limits apply at once, not at the next heartbeat.
        super::rebalance::request(node).await?;
    }
    let local = local_changes(&old, &new);
    if !local.is_empty() {
        node.local.write_config(local.clone()).await?;
        // Listening on a new cluster address first, then telling the cluster: peers
        // dial it only once something answers there.
        let moved = match node.is_clustered() {
            true => super::address::moved(&old, &new).map_err(Error::BadRequest)?,
            false => None,
        };
        let applied = match node.reconcile_listeners().await {
            Ok(()) => match moved {
                Some(address) => super::address::record(node, node.id(), &address).await,
                None => Ok(()),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            // Not bound, or not recorded: put the old addresses back so the member stays
            // reachable where the cluster knows it.
            let undo = local_changes(&new, &old);
            node.local.write_config(undo).await?;
            let _ = node.reconcile_listeners().await;
            return Err(e);
        }
    }
    Ok(())
}

/// The refusal of a write whose If-Match no longer holds (LXD's words and status).
pub fn changed_since_read() -> Error {
    Error::PreconditionFailed(
        "ETag doesn't match: the resource changed since you read it; read it again and retry"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn diff_writes_only_cluster_wide_changes() {
        let old = map(&[
            ("cluster.max_voters", "3"),
            ("user.a", "1"),
            ("core.https_address", "1.2.3.4:8443"),
        ]);
        let new = map(&[
            ("cluster.max_voters", "5"),
            ("core.https_address", "1.2.3.5:8443"),
        ]);
        let batch = diff_batch(&old, &new);
        let sql: Vec<_> = batch
            .statements
            .iter()
            .map(|s| s.sql.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(sql, ["INSERT", "DELETE"]);
        assert_eq!(
            local_changes(&old, &new),
            map(&[("core.https_address", "1.2.3.5:8443")])
        );
    }

    #[test]
    fn clustered_members_may_move_but_not_lose_their_address() {
        let old = map(&[("cluster.https_address", "127.0.0.1:8443")]);
        let new = map(&[("cluster.https_address", "127.0.0.2:8443")]);
        assert!(check_clustered_rules(true, &old, &new).is_ok());
        assert!(check_clustered_rules(true, &old, &old).is_ok());
        let none = map(&[]);
        assert!(check_clustered_rules(true, &old, &none).is_err());
        assert!(check_clustered_rules(false, &old, &none).is_ok());
    }
}
