//! Changing an instance's configuration and description from any member. The member
//! holding the instance records the change and announces `instance-updated`, as LXD, which
//! forwards the request to it; keys are checked before anything is sent.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::Action;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::config as keys;
use super::lifecycle::{self, announce, holder_of};
use crate::db::batch::Batch;
use crate::db::global::instances::{self as db, InstanceRow};
use crate::error::{Error, Result};
use crate::node::Node;

/// How long a holder may take to record a change.
const CHANGE_BOUND: Duration = Duration::from_secs(30);

/// A change to an instance's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A PATCH: `Some` sets a key, `None` unsets it.
    Keys {
        /// The keys changed.
        changes: BTreeMap<String, Option<String>>,
    },
    /// A PUT: the user configuration (its `volatile.*` keys stay) and description replaced.
    Whole {
        /// The whole user configuration.
        config: BTreeMap<String, String>,
        /// The description.
        description: String,
    },
}

/// Checks the keys `change` sets (pure); `volatile.*` keys may be set, as LXD lets them be.
pub fn check(change: &Change) -> Result<()> {
    match change {
        Change::Keys { changes } => changes
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            .try_for_each(|(k, v)| keys::check_key(k, v)),
        Change::Whole { config, .. } => keys::check(config),
    }
}

/// The statements that make `change` to `current`'s instance (pure).
pub fn statements(current: &InstanceRow, change: &Change) -> Batch {
    let name = &current.name;
    let mut batch = Batch::new();
    match change {
        Change::Keys { changes } => {
            for (key, value) in changes {
                match value {
                    Some(v) => db::set_config(&mut batch, name, key, v),
                    None => db::unset_config(&mut batch, name, key),
                }
            }
        }
        Change::Whole {
            config,
            description,
        } => {
            for key in current.config.keys() {
                if !key.starts_with("volatile.") && !config.contains_key(key) {
                    db::unset_config(&mut batch, name, key);
                }
            }
            for (key, value) in config {
                db::set_config(&mut batch, name, key, value);
            }
            db::set_description(&mut batch, name, description);
        }
    }
    batch
}

/// Makes `change` to `current`'s instance (as the caller just read it), on its holder.
pub async fn apply(node: &Node, current: &InstanceRow, change: &Change) -> Result<()> {
    check(change)?;
    match holder_of(node, current) {
        None => apply_here(node, &current.name, change).await,
        Some(h) => {
            let body = serde_json::to_value(change).map_err(|e| Error::Internal(e.to_string()))?;
            h.call::<serde_json::Value>(
                node,
                "PATCH",
                &lifecycle::path(&current.name, ""),
                Some(body),
                CHANGE_BOUND,
            )
            .await
            .map(drop)
        }
    }
}

/// Holder side: makes `change` to instance `name` and announces it.
pub async fn apply_here(node: &Node, name: &str, change: &Change) -> Result<()> {
    check(change)?;
    let current = lifecycle::row(node, name).await?;
    node.propose(statements(&current, change)).await?;
    announce(Action::InstanceUpdated, name, Map::new());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> InstanceRow {
        InstanceRow {
            id: 1,
            name: "c1".into(),
            node_id: 2,
            location: "node2".into(),
            address: "127.0.0.2:8443".into(),
            architecture: "x86_64".into(),
            ephemeral: false,
            description: String::new(),
            creation_date: String::new(),
            last_use_date: String::new(),
            config: BTreeMap::from([
                ("user.a".into(), "1".into()),
                ("user.b".into(), "2".into()),
                ("volatile.uuid".into(), "u".into()),
            ]),
        }
    }

    fn sql(batch: &Batch) -> Vec<(String, usize)> {
        batch
            .statements
            .iter()
            .map(|s| {
                (
                    s.sql
                        .split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" "),
                    s.params.len(),
                )
            })
            .collect()
    }

    #[test]
    fn a_put_keeps_volatile_keys_and_a_patch_touches_only_what_it_names() {
        let put = Change::Whole {
            config: BTreeMap::from([("user.a".into(), "9".into())]),
            description: "web".into(),
        };
        // user.b unset (not volatile.uuid), user.a set, the description set.
        let got = sql(&statements(&row(), &put));
        assert_eq!(
            got,
            [
                ("DELETE FROM".to_owned(), 2),
                ("INSERT INTO".to_owned(), 3),
                ("UPDATE instances".to_owned(), 2),
            ]
        );
        assert_eq!(
            statements(&row(), &put).statements[0].params[1],
            "user.b".into()
        );
        let patch = Change::Keys {
            changes: BTreeMap::from([("user.c".into(), Some("3".into())), ("user.a".into(), None)]),
        };
        assert_eq!(
            sql(&statements(&row(), &patch)),
            [("DELETE FROM".to_owned(), 2), ("INSERT INTO".to_owned(), 3)]
        );
    }

    #[test]
    fn keys_are_checked_before_anything_is_sent_and_the_change_travels_as_json() {
        let bad = Change::Keys {
            changes: BTreeMap::from([("flavour".into(), Some("x".into()))]),
        };
        assert!(check(&bad).unwrap_err().to_string().contains("\"flavour\""));
        let unset_anything = Change::Keys {
            changes: BTreeMap::from([("flavour".into(), None)]),
        };
        assert!(check(&unset_anything).is_ok());
        let put = Change::Whole {
            config: BTreeMap::new(),
            description: "d".into(),
        };
        let text = serde_json::to_string(&put).unwrap();
        assert_eq!(serde_json::from_str::<Change>(&text).unwrap(), put);
    }
}
