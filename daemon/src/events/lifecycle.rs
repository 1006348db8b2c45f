//! Lifecycle events from applied Raft entries. Every member applies every entry, so each
//! member tells its own listeners what happened anywhere in the cluster, in log order,
//! without asking the others. Which write means which action is a plain function of the
//! statements ([`classify`]); naming the members involved reads the database the entry was
//! just applied to.

use std::collections::BTreeMap;

use corral_shared::api::{Action, Event, Operation, OperationStatus, Requestor};

use crate::db::batch::{Batch, BatchOutcome, SqlValue, Statement};
use crate::db::proposal::Proposal;
use crate::events::bus::Listeners;
use crate::raft::NodeId;

/// Where a lifecycle event happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The member with this name.
    Member(String),
    /// The member with this Raft id.
    Id(i64),
    /// The leader that committed the entry: a replicated change does not record which
    /// member was asked, so the member that made it durable stands in.
    Committer,
}

/// One action found in a batch, before member names are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// LXD's action.
    pub action: Action,
    /// The API path it happened to.
    pub source: String,
    /// A rename's old name.
    pub old_name: Option<String>,
    /// Where it happened.
    pub location: Location,
    /// The join token it issued (by uuid), whose operation is announced too.
    pub token: Option<String>,
}

fn text(s: &Statement, i: usize) -> Option<String> {
    match s.params.get(i)? {
        SqlValue::Text(t) => Some(t.clone()),
        SqlValue::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(s: &Statement, i: usize) -> Option<i64> {
    match s.params.get(i)? {
        SqlValue::Integer(n) => Some(*n),
        _ => None,
    }
}

/// The SQL's words, lower-cased and single-spaced, for matching by its start.
fn words(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

const MEMBERS: &str = "/1.0/cluster/members";
const GROUPS: &str = "/1.0/cluster/groups";

/// The lifecycle actions one successfully applied batch performs, in statement order, each
/// once. Writes with no LXD lifecycle action (heartbeats, database roles, a standalone
/// server's own row) find nothing.
pub fn classify(batch: &Batch) -> Vec<Found> {
    let member = |name: String| format!("{MEMBERS}/{name}");
    // A member's removal deletes its certificate by name in the same batch: that names it.
    let removed_by_name = batch.statements.iter().find_map(|s| {
        words(&s.sql)
            .starts_with("delete from certificates where name = ?")
            .then(|| text(s, 0))
            .flatten()
    });
    let mut found: Vec<Found> = Vec::new();
    for s in &batch.statements {
        let sql = words(&s.sql);
        let hit = if sql.starts_with("insert into join_tokens") {
            Some(Found {
                action: Action::ClusterTokenCreated,
                source: MEMBERS.into(),
                old_name: None,
                location: int(s, 7).map_or(Location::Committer, Location::Id),
                token: text(s, 0),
            })
        } else if sql.starts_with("delete from join_tokens where uuid = ?")
            || sql.starts_with("delete from certificate_add_tokens where uuid = ?")
        {
            // LXD 5.0 reports a revoked (or, for a certificate add token, used) token as its
            // operation cancelled.
            text(s, 0).map(|uuid| Found {
                action: Action::OperationCancelled,
                source: format!("/1.0/operations/{uuid}"),
                old_name: None,
                location: Location::Committer,
                token: None,
            })
        } else if sql.starts_with("insert into nodes (") {
            text(s, 1).map(|name| Found {
                action: Action::ClusterMemberAdded,
                source: member(name),
                old_name: None,
                location: Location::Committer,
                token: None,
            })
        } else if sql.starts_with("delete from nodes where name = ?") {
            text(s, 0).map(|name| Found {
                action: Action::ClusterMemberRemoved,
                source: member(name),
                old_name: None,
                location: Location::Committer,
                token: None,
            })
        } else if sql.starts_with("delete from nodes where id = ?") {
            removed_by_name.clone().map(|name| Found {
                action: Action::ClusterMemberRemoved,
                source: member(name),
                old_name: None,
                location: Location::Committer,
                token: None,
            })
        } else if sql.starts_with("update nodes set name = ? where name = ?") {
            text(s, 0).map(|new| Found {
                action: Action::ClusterMemberRenamed,
                source: member(new.clone()),
                old_name: text(s, 1),
                location: Location::Member(new),
                token: None,
            })
        } else if sql.starts_with("update nodes set description = ?") {
            text(s, 2).map(|name| Found {
                action: Action::ClusterMemberUpdated,
                source: member(name.clone()),
                old_name: None,
                location: Location::Member(name),
                token: None,
            })
        } else if sql.starts_with("insert into config") || sql.starts_with("delete from config") {
            Some(Found {
                action: Action::ConfigUpdated,
                source: "/1.0".into(),
                old_name: None,
                location: Location::Committer,
                token: None,
            })
        } else if sql.starts_with("insert into certificates") {
            // Members' own certificates come and go with the members.
            (int(s, 1) != Some(crate::cluster::trust::SERVER))
                .then(|| text(s, 0))
                .flatten()
                .map(|fingerprint| Found {
                    action: Action::CertificateCreated,
                    source: format!("/1.0/certificates/{fingerprint}"),
                    old_name: None,
                    location: Location::Committer,
                    token: None,
                })
        } else if let Some(hit) = group_action(&sql, s) {
            Some(hit)
        } else if let Some(hit) = image_action(&sql, s) {
            Some(hit)
        } else if sql.starts_with("delete from certificates where fingerprint = ?") {
            text(s, 0).map(|fingerprint| Found {
                action: Action::CertificateDeleted,
                source: format!("/1.0/certificates/{fingerprint}"),
                old_name: None,
                location: Location::Committer,
                token: None,
            })
        } else {
            None
        };
        if let Some(hit) = hit.filter(|h| !found.contains(h)) {
            found.push(hit);
        }
    }
    found
}

/// A cluster group's create, update, rename or delete (see `db::global::groups`).
fn group_action(sql: &str, s: &Statement) -> Option<Found> {
    let (action, name, old_name) = if sql.starts_with("insert into cluster_groups") {
        (Action::ClusterGroupCreated, text(s, 0)?, None)
    } else if sql.starts_with("update cluster_groups set description = ?") {
        (Action::ClusterGroupUpdated, text(s, 1)?, None)
    } else if sql.starts_with("update cluster_groups set name = ?") {
        (Action::ClusterGroupRenamed, text(s, 0)?, text(s, 1))
    } else if sql.starts_with("delete from cluster_groups where name = ?") {
        (Action::ClusterGroupDeleted, text(s, 0)?, None)
    } else {
        return None;
    };
    Some(Found {
        action,
        source: format!("{GROUPS}/{name}"),
        old_name,
        location: Location::Committer,
        token: None,
    })
}

/// An image or alias added or deleted (see `db::global::images`): a replicated change
/// alone, so every member names it from the log.
fn image_action(sql: &str, s: &Statement) -> Option<Found> {
    let mut old_name = None;
    let (action, source) = if sql.starts_with("insert into images (") {
        (Action::ImageCreated, format!("/1.0/images/{}", text(s, 0)?))
    } else if sql.starts_with("delete from images where fingerprint = ?") {
        (Action::ImageDeleted, format!("/1.0/images/{}", text(s, 0)?))
    } else if sql.starts_with("update images set public = ?") {
        (Action::ImageUpdated, format!("/1.0/images/{}", text(s, 1)?))
    } else if sql.starts_with("insert into images_aliases (") {
        (
            Action::ImageAliasCreated,
            format!("/1.0/images/aliases/{}", text(s, 0)?),
        )
    } else if sql.starts_with("delete from images_aliases where name = ?") {
        (
            Action::ImageAliasDeleted,
            format!("/1.0/images/aliases/{}", text(s, 0)?),
        )
    } else if sql.starts_with("update images_aliases set name = ?") {
        old_name = text(s, 1);
        (
            Action::ImageAliasRenamed,
            format!("/1.0/images/aliases/{}", text(s, 0)?),
        )
    } else {
        return None;
    };
    Some(Found {
        action,
        source,
        old_name,
        location: Location::Committer,
        token: None,
    })
}

/// Listeners of `/1.0/events` that may want events derived from the log (lifecycle events,
/// join tokens' operations): naming costs a look at every applied batch and a read, so it is
/// done only while one is connected.
pub static LISTENERS: Listeners = Listeners::new();

/// Lifecycle events as they are found while a run of entries is applied.
#[derive(Default)]
pub struct Pending {
    found: Vec<(Found, i64, Option<Requestor>)>,
}

impl Pending {
    /// Notes what the batches of `proposal` that applied (`outcomes`) did; `committer` is
    /// the leader that wrote the entry.
    pub fn applied(&mut self, committer: NodeId, proposal: &Proposal, outcomes: &[BatchOutcome]) {
        for (batch, outcome) in proposal.batches.iter().zip(outcomes) {
            if outcome.error.is_none() {
                let committer = committer as i64;
                self.found.extend(
                    classify(batch)
                        .into_iter()
                        .map(|f| (f, committer, batch.requestor.clone())),
                );
            }
        }
    }

    /// The events, with members named as `conn` (the applying transaction) has them; an
    /// issued join token's operation is announced around its lifecycle event, Pending then
    /// Running, as LXD does. Reads nothing when nothing was found, as for a heartbeat.
    pub fn events(self, conn: &rusqlite::Connection) -> Vec<Event> {
        if self.found.is_empty() {
            return Vec::new();
        }
        let names = names(conn).unwrap_or_default();
        let tokens = if self.found.iter().any(|(f, ..)| f.token.is_some()) {
            crate::db::global::queries::tokens(conn).unwrap_or_default()
        } else {
            Vec::new()
        };
        let timestamp = crate::operations::now_rfc3339();
        let mut out = Vec::new();
        for (f, committer, requestor) in self.found {
            let token = f.token.as_ref().and_then(|uuid| {
                let row = tokens.iter().find(|t| t.uuid == *uuid)?;
                let location = names
                    .get(&(row.node_id as i64))
                    .cloned()
                    .unwrap_or_default();
                Some(crate::cluster::tokens::as_operation(row, &location))
            });
            if let Some(op) = &token {
                let pending = Operation {
                    status: OperationStatus::Pending,
                    status_code: OperationStatus::Pending.code(),
                    ..op.clone()
                };
                out.push(Event::operation(&pending, timestamp.clone()));
            }
            out.extend(
                events(vec![f], &names, committer, &timestamp)
                    .into_iter()
                    .map(|e| e.with_requestor(requestor.as_ref())),
            );
            if let Some(op) = &token {
                out.push(Event::operation(op, timestamp.clone()));
            }
        }
        out
    }
}

/// The events of `found`, with members named as the database has them (`names`;
/// `committer` is the leader's id).
pub fn events(
    found: Vec<Found>,
    names: &BTreeMap<i64, String>,
    committer: i64,
    timestamp: &str,
) -> Vec<Event> {
    let name_of = |id: i64| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
    found
        .into_iter()
        .map(|f| {
            let location = match f.location {
                Location::Member(name) => name,
                Location::Id(id) => name_of(id),
                Location::Committer => name_of(committer),
            };
            let mut context = serde_json::Map::new();
            if let Some(old) = f.old_name {
                context.insert("old_name".into(), old.into());
            }
            Event::lifecycle(f.action, f.source, context, &location, timestamp.to_owned())
        })
        .collect()
}

/// Member names by id, as the database has them.
pub fn names(conn: &rusqlite::Connection) -> rusqlite::Result<BTreeMap<i64, String>> {
    let mut stmt = conn.prepare_cached("SELECT id, name FROM nodes")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(statements: &[(&str, Vec<SqlValue>)]) -> Batch {
        let mut b = Batch::new();
        for (sql, params) in statements {
            b.push(*sql, params.clone());
        }
        b
    }

    fn found(action: Action, source: &str, old: Option<&str>, location: Location) -> Found {
        Found {
            action,
            source: source.into(),
            old_name: old.map(Into::into),
            location,
            token: None,
        }
    }

    #[test]
    fn entries_are_named_while_someone_listens() {
        let listening = LISTENERS.start();
        assert!(LISTENERS.any());
        drop(listening);
    }

    #[test]
    fn each_write_is_named_as_lxd_names_it() {
        use Location::*;
        let t = |s: &str| SqlValue::from(s);
        let cases: Vec<(&str, Batch, Vec<Found>)> = vec![
            (
                "a token issued by member 2",
                batch(&[
                    ("DELETE FROM join_tokens WHERE name = ?", vec![t("node9")]),
                    (
                        "INSERT INTO join_tokens (uuid, name, secret, fingerprint, addresses, expires_at, created_at, node_id)\n   VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        vec![
                            t("u"),
                            t("node9"),
                            t("s"),
                            t("f"),
                            t("a"),
                            t("e"),
                            t("c"),
                            2i64.into(),
                        ],
                    ),
                ]),
                vec![Found {
                    token: Some("u".into()),
                    ..found(
                        Action::ClusterTokenCreated,
                        "/1.0/cluster/members",
                        None,
                        Id(2),
                    )
                }],
            ),
            (
                "a token revoked",
                batch(&[("DELETE FROM join_tokens WHERE uuid = ?", vec![t("u1")])]),
                vec![found(
                    Action::OperationCancelled,
                    "/1.0/operations/u1",
                    None,
                    Committer,
                )],
            ),
            (
                "a certificate add token issued makes no lifecycle event; used or revoked, it is cancelled",
                batch(&[
                    (
                        "INSERT INTO certificate_add_tokens (uuid, name)",
                        vec![t("c1"), t("laptop")],
                    ),
                    (
                        "DELETE FROM certificate_add_tokens WHERE uuid = ?",
                        vec![t("c1")],
                    ),
                ]),
                vec![found(
                    Action::OperationCancelled,
                    "/1.0/operations/c1",
                    None,
                    Committer,
                )],
            ),
            (
                "a member renamed",
                batch(&[
                    (
                        "UPDATE nodes SET name = ? WHERE name = ?",
                        vec![t("m3b"), t("m3")],
                    ),
                    (
                        "UPDATE certificates SET name = ? WHERE name = ? AND type = 2",
                        vec![t("m3b"), t("m3")],
                    ),
                ]),
                vec![found(
                    Action::ClusterMemberRenamed,
                    "/1.0/cluster/members/m3b",
                    Some("m3"),
                    Member("m3b".into()),
                )],
            ),
            (
                "a member edited: one event for the whole edit",
                batch(&[
                    (
                        "UPDATE nodes SET description = ?, failure_domain = ? WHERE name = ?",
                        vec![t(""), t("default"), t("m2")],
                    ),
                    ("DELETE FROM nodes_config WHERE node_id = 2", vec![]),
                ]),
                vec![found(
                    Action::ClusterMemberUpdated,
                    "/1.0/cluster/members/m2",
                    None,
                    Member("m2".into()),
                )],
            ),
            (
                "a member joined",
                batch(&[(
                    "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch, db_role)",
                    vec![5i64.into(), t("m5"), t("127.0.0.5:8443")],
                )]),
                vec![found(
                    Action::ClusterMemberAdded,
                    "/1.0/cluster/members/m5",
                    None,
                    Committer,
                )],
            ),
            (
                "a member removed by id, named by its certificate",
                batch(&[
                    ("DELETE FROM nodes WHERE id = ?", vec![5i64.into()]),
                    (
                        "DELETE FROM certificates WHERE name = ? AND type = ?",
                        vec![t("m5"), 2i64.into()],
                    ),
                ]),
                vec![found(
                    Action::ClusterMemberRemoved,
                    "/1.0/cluster/members/m5",
                    None,
                    Committer,
                )],
            ),
            (
                "two keys set and one unset: one config-updated",
                batch(&[
                    (
                        "INSERT INTO config (key, value) VALUES (?, ?)",
                        vec![t("a"), t("1")],
                    ),
                    (
                        "INSERT INTO config (key, value) VALUES (?, ?)",
                        vec![t("b"), t("2")],
                    ),
                    ("DELETE FROM config WHERE key = ?", vec![t("c")]),
                ]),
                vec![found(Action::ConfigUpdated, "/1.0", None, Committer)],
            ),
            (
                "a client certificate trusted, then removed",
                batch(&[
                    (
                        "INSERT INTO certificates (fingerprint, type, name, certificate)",
                        vec![t("ab"), 1i64.into()],
                    ),
                    (
                        "DELETE FROM certificates WHERE fingerprint = ?",
                        vec![t("ab")],
                    ),
                ]),
                vec![
                    found(
                        Action::CertificateCreated,
                        "/1.0/certificates/ab",
                        None,
                        Committer,
                    ),
                    found(
                        Action::CertificateDeleted,
                        "/1.0/certificates/ab",
                        None,
                        Committer,
                    ),
                ],
            ),
            (
                "a member's own certificate is not news",
                batch(&[(
                    "INSERT INTO certificates (fingerprint, type)",
                    vec![t("cd"), 2i64.into()],
                )]),
                vec![],
            ),
            (
                "heartbeats and database roles are not lifecycle events",
                batch(&[
                    (
                        "UPDATE nodes SET heartbeat = ?, clock_skew_ms = ? WHERE id = ?",
                        vec![],
                    ),
                    ("UPDATE nodes SET db_role = ? WHERE id = ?", vec![]),
                    (
                        "INSERT OR IGNORE INTO nodes (id, name) VALUES (?, ?)",
                        vec![],
                    ),
                ]),
                vec![],
            ),
        ];
        for (what, b, want) in cases {
            assert_eq!(classify(&b), want, "{what}");
        }
    }

    /// A member edit made with If-Match is the member's update alone: the guard put before
    /// it changes no configuration, so it must not be announced as `config-updated`.
    #[test]
    fn a_guarded_member_edit_is_announced_as_the_members_update_alone() {
        use crate::db::global::member_writable;
        let mut b = Batch::new();
        member_writable::unchanged_since(&mut b, "node2", Some("{}"));
        member_writable::replace_writable(
            &mut b,
            "node2",
            &member_writable::Writable {
                description: "d",
                failure_domain: "default",
                config: &Default::default(),
                roles: &[],
                groups: &["default".to_owned()],
            },
        );
        let actions: Vec<Action> = classify(&b).into_iter().map(|f| f.action).collect();
        assert_eq!(actions, vec![Action::ClusterMemberUpdated]);
    }

    /// The statements the database's owners really write, so a change to their SQL that
    /// would hide an action from listeners fails here.
    #[test]
    fn the_owners_writes_are_named() {
        use crate::db::global::{
            certificate_tokens, certificates, config, groups, images, nodes, tokens,
        };
        use certificates::CertificateType;
        type Case = (&'static str, fn(&mut Batch), Vec<Action>);
        let cases: Vec<Case> = vec![
            (
                "a token issued",
                |b| {
                    tokens::revoke_for(b, "node9");
                    tokens::issue(
                        b,
                        &tokens::TokenRow {
                            uuid: "u".into(),
                            name: "node9".into(),
                            secret: "s".into(),
                            fingerprint: "f".into(),
                            addresses: vec![],
                            expires_at: String::new(),
                            created_at: "c".into(),
                            node_id: 2,
                        },
                    );
                },
                vec![Action::ClusterTokenCreated],
            ),
            (
                "a token revoked",
                |b| tokens::revoke(b, "u"),
                vec![Action::OperationCancelled],
            ),
            (
                "a certificate add token issued",
                |b| {
                    certificate_tokens::issue(
                        b,
                        &certificate_tokens::CertificateTokenRow {
                            uuid: "c".into(),
                            name: "laptop".into(),
                            secret: "s".into(),
                            fingerprint: "f".into(),
                            addresses: vec![],
                            expires_at: String::new(),
                            created_at: "c".into(),
                            node_id: 2,
                            request: "{}".into(),
                        },
                    );
                },
                vec![],
            ),
            (
                "a certificate add token used or revoked",
                |b| certificate_tokens::revoke(b, "c"),
                vec![Action::OperationCancelled],
            ),
            (
                "a cluster group created, changed, renamed and deleted",
                |b| {
                    groups::create(b, "gpu", "", &[]);
                    groups::set_description(b, "gpu", "GPUs");
                    groups::rename(b, "gpu", "fast");
                    groups::delete_if_unused(b, "fast");
                },
                vec![
                    Action::ClusterGroupCreated,
                    Action::ClusterGroupUpdated,
                    Action::ClusterGroupRenamed,
                    Action::ClusterGroupDeleted,
                ],
            ),
            (
                "an image imported, named and edited, then the name and the image deleted; holders are not news",
                |b| {
                    images::insert(
                        b,
                        &images::ImageRecord {
                            fingerprint: "ab12".into(),
                            properties: [("os".to_owned(), "busybox".to_owned())].into(),
                            ..Default::default()
                        },
                    );
                    images::add_holder(b, "ab12", 2);
                    images::add_alias(b, "bb", "", "ab12");
                    images::update(
                        b,
                        "ab12",
                        true,
                        &[("os".to_owned(), "bb".to_owned())].into(),
                    );
                    images::remove_holder(b, "ab12", 2);
                    images::rename_alias(b, "bb", "box");
                    images::delete_alias(b, "box");
                    images::delete(b, "ab12");
                },
                vec![
                    Action::ImageCreated,
                    Action::ImageAliasCreated,
                    Action::ImageUpdated,
                    Action::ImageAliasRenamed,
                    Action::ImageAliasDeleted,
                    Action::ImageDeleted,
                ],
            ),
            (
                "a member renamed",
                |b| {
                    nodes::rename(b, "m3", "m3b");
                    certificates::rename_member(b, "m3", "m3b");
                },
                vec![Action::ClusterMemberRenamed],
            ),
            (
                "a member removed",
                |b| {
                    nodes::remove(b, 3);
                    certificates::forget_member(b, "m3");
                },
                vec![Action::ClusterMemberRemoved],
            ),
            (
                "a join undone",
                |b| nodes::remove_named(b, "m4"),
                vec![Action::ClusterMemberRemoved],
            ),
            (
                "configuration",
                |b| {
                    config::set(b, "user.a", "1");
                    config::unset(b, "user.b");
                },
                vec![Action::ConfigUpdated],
            ),
            (
                "a client trusted, another forgotten",
                |b| {
                    certificates::trust(b, "ab", CertificateType::Client, "op", "pem");
                    certificates::forget(b, "cd");
                },
                vec![Action::CertificateCreated, Action::CertificateDeleted],
            ),
            (
                "a member's own certificate, heartbeats and roles",
                |b| {
                    certificates::trust(b, "ef", CertificateType::Server, "m5", "pem");
                    nodes::record_heartbeats(b, "t", &[(2, 0)]);
                    nodes::set_db_role(b, 2, nodes::DbRole::StandBy);
                },
                vec![],
            ),
        ];
        for (what, write, want) in cases {
            let mut b = Batch::new();
            write(&mut b);
            let got: Vec<Action> = classify(&b).into_iter().map(|f| f.action).collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn members_are_named_and_the_committer_stands_in() {
        let names = [(1, "m1".to_owned()), (2, "m2".to_owned())].into();
        let found = vec![
            found(Action::ClusterTokenCreated, MEMBERS, None, Location::Id(2)),
            found(Action::ConfigUpdated, "/1.0", None, Location::Committer),
            found(Action::ConfigUpdated, "/1.0", None, Location::Id(7)),
        ];
        let got: Vec<String> = events(found, &names, 1, "t")
            .into_iter()
            .map(|e| e.location)
            .collect();
        assert_eq!(got, ["m2", "m1", "7"]);
    }
}
