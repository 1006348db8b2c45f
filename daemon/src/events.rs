//! What watchers see: the cluster as one snapshot, read from this member, and the
//! differences between two snapshots as `WatchEvent`s. The diff and the Raft summary are
//! pure functions; only `look`, `raft_view` and [`voters`] touch the node.

pub mod bus;
pub mod forward;
pub mod hub;
pub mod lifecycle;
pub mod logging;
pub mod requestor;
pub mod voters;

use std::collections::{BTreeMap, BTreeSet};

use corral_shared::api::{ClusterMember, ClusterSnapshot, Operation, RaftState, WatchEvent};
use openraft::{BasicNode, RaftMetrics};

use crate::cluster::{config, members, tokens};
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::raft::NodeId;

/// Member names by Raft id.
pub type Names = BTreeMap<NodeId, String>;

/// The cluster as this member sees it now.
pub async fn snapshot(node: &Node) -> Result<ClusterSnapshot> {
    look(node).await.map(|(snapshot, _)| snapshot)
}

/// Raft's view alone (cheap enough to look at several times a second), with `names` from
/// the last full look.
pub async fn raft_view(node: &Node, names: &Names) -> RaftState {
    let metrics = node.raft().metrics().borrow().clone();
    let mut state = raft_state(&metrics, names);
    voters::fill(node, &metrics, names, &mut state).await;
    state
}

/// The cluster as this member sees it now, the member names it used, and the applied
/// index its rows are at.
pub async fn look(node: &Node) -> Result<(ClusterSnapshot, Names)> {
    look_at(node)
        .await
        .map(|(snapshot, names, _)| (snapshot, names))
}

/// What one look read from the replica, in one read transaction.
struct Rows {
    members: Vec<queries::MemberRow>,
    config: BTreeMap<String, String>,
    tokens: Vec<queries::TokenRow>,
    instances: BTreeMap<String, u64>,
    applied: u64,
}

fn read_rows(c: &rusqlite::Connection) -> rusqlite::Result<Rows> {
    Ok(Rows {
        members: queries::members(c)?,
        config: queries::config(c)?,
        tokens: queries::tokens(c)?,
        instances: crate::db::global::instances::counts(c)?,
        applied: crate::raft::state_machine::read_applied(c)?.map_or(0, |l| l.index),
    })
}

/// [`look`], with the applied index at which the rows were read: every replicated part of
/// the snapshot comes from one read transaction, so they agree with each other.
pub async fn look_at(node: &Node) -> Result<(ClusterSnapshot, Names, u64)> {
    // Metrics first: the database can only be as new as or newer than what they say, so a
    // watcher never sees an index that runs ahead of the rows.
    let metrics = node.raft().metrics().borrow().clone();
    let clustered = node.is_clustered();
    let rows = node.global.read(read_rows).await?;
    let names: Names = rows
        .members
        .iter()
        .map(|r| (r.id, r.name.clone()))
        .collect();
    let server_name = match names.get(&node.id()) {
        Some(name) => name.clone(),
        None if !clustered => members::STANDALONE_NAME.to_owned(),
        None => {
            return Err(Error::Unavailable(
                "this member has not yet caught up with the cluster database; retry in a few seconds"
                    .into(),
            ));
        }
    };
    let mut operations = node.operations.list();
    let (member_list, heartbeats) = if clustered {
        let heartbeats = rows
            .members
            .iter()
            .map(|r| (r.name.clone(), r.heartbeat.clone()))
            .collect();
        let judgement = members::Judgement {
            rows: &rows.members,
            self_id: node.id(),
            now: time::OffsetDateTime::now_utc(),
            offline_threshold: corral_shared::config::ClusterSettings::from_config(&rows.config)
                .offline_threshold,
        };
        let raft = members::RaftView::of(node);
        let list = rows
            .members
            .iter()
            .map(|r| members::view(r, &raft, &judgement))
            .collect();
        operations.extend(rows.tokens.iter().map(|t| {
            let location = names.get(&t.node_id).cloned().unwrap_or_default();
            tokens::as_operation(t, &location)
        }));
        (list, heartbeats)
    } else {
        // A standalone server has no members to show, as `GET /1.0/cluster/members` refuses.
        (Vec::new(), BTreeMap::new())
    };
    let mut config = rows.config;
    config.extend(
        node.local
            .config()?
            .into_iter()
            .filter(|(k, _)| config::LOCAL_KEYS.contains(&k.as_str())),
    );
    let mut raft = raft_state(&metrics, &names);
    voters::fill(node, &metrics, &names, &mut raft).await;
    let snapshot = ClusterSnapshot {
        server_name,
        taken_at: crate::operations::now_rfc3339(),
        members: member_list,
        heartbeats,
        raft,
        config: corral_shared::config::public_view(&config),
        operations,
        instances: rows.instances,
    };
    Ok((snapshot, names, rows.applied))
}

/// The Raft summary watchers see, from this member's metrics; `names` maps ids to members.
pub fn raft_state(
    metrics: &RaftMetrics<NodeId, BasicNode>,
    names: &BTreeMap<NodeId, String>,
) -> RaftState {
    let voters: BTreeSet<NodeId> = metrics.membership_config.membership().voter_ids().collect();
    let applied = metrics.last_applied.map_or(0, |l| l.index);
    // openraft 0.9 does not publish its commit index. A leader knows what each voter has
    // stored, so it can work it out; a follower only knows what it applied, which is
    // committed and trails the real index by at most one round trip.
    let matched = metrics.replication.as_ref().map(|progress| {
        voters
            .iter()
            .map(|id| match progress.get(id) {
                Some(log) => log.map_or(0, |l| l.index),
                None if *id == metrics.id => metrics.last_log_index.unwrap_or(0),
                None => 0,
            })
            .collect::<Vec<_>>()
    });
    RaftState {
        leader: metrics
            .current_leader
            .map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string())),
        term: metrics.current_term,
        commit_index: commit_index(matched.as_deref(), applied),
        applied_index: applied,
        voters: voters.len(),
        quorum: quorum(voters.len()),
        ..RaftState::default()
    }
}

/// Voters that must be up for a write to commit: a strict majority (none without voters).
pub fn quorum(voters: usize) -> usize {
    corral_shared::quorum::quorum(voters)
}

/// The highest index stored by a majority of voters (`matched`, known to a leader only),
/// never below what this member has applied.
pub fn commit_index(matched: Option<&[u64]>, applied: u64) -> u64 {
    let Some(matched) = matched.filter(|m| !m.is_empty()) else {
        return applied;
    };
    let mut sorted = matched.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted[quorum(sorted.len()) - 1].max(applied)
}

/// The events that turn `before` into `after`, in a stable order: members, heartbeats,
/// Raft, configuration, operations. A change of `server_name` means the stream now speaks
/// for another member (a standalone server joined a cluster): only a new snapshot says that.
pub fn diff(before: &ClusterSnapshot, after: &ClusterSnapshot) -> Vec<WatchEvent> {
    if before.server_name != after.server_name {
        return vec![WatchEvent::Snapshot(after.clone())];
    }
    let mut events = Vec::new();
    let members = |s: &ClusterSnapshot| -> BTreeMap<String, ClusterMember> {
        s.members
            .iter()
            .map(|m| (m.server_name.clone(), m.clone()))
            .collect()
    };
    for (name, after) in changes(&members(before), &members(after), member_changed) {
        events.push(WatchEvent::Member { name, after });
    }
    for (name, at) in changes(&before.heartbeats, &after.heartbeats, |a, b| a != b) {
        // A member that left takes its heartbeat with it; its `Member` event says so.
        if let Some(at) = at {
            events.push(WatchEvent::Heartbeat { name, at });
        }
    }
    if before.raft != after.raft {
        events.push(WatchEvent::Raft(after.raft.clone()));
    }
    for (key, value) in changes(&before.config, &after.config, |a, b| a != b) {
        events.push(WatchEvent::Config { key, value });
    }
    let operations = |s: &ClusterSnapshot| -> BTreeMap<String, Operation> {
        s.operations
            .iter()
            .map(|o| (o.id.clone(), o.clone()))
            .collect()
    };
    for (id, after) in changes(&operations(before), &operations(after), |a, b| a != b) {
        events.push(WatchEvent::Operation { id, after });
    }
    if before.instances != after.instances {
        events.push(WatchEvent::Instances(after.instances.clone()));
    }
    events
}

/// Whether a member changed in a way worth telling. An offline member's message counts its
/// silence in seconds and so changes on every look; while its status holds, that is not news.
fn member_changed(before: &ClusterMember, after: &ClusterMember) -> bool {
    if before.status == after.status {
        let mut same_message = after.clone();
        same_message.message.clone_from(&before.message);
        *before != same_message
    } else {
        true
    }
}

/// Keys added or changed (with their new value) and removed (with None), in key order.
fn changes<V: Clone>(
    before: &BTreeMap<String, V>,
    after: &BTreeMap<String, V>,
    changed: impl Fn(&V, &V) -> bool,
) -> Vec<(String, Option<V>)> {
    let mut out: Vec<(String, Option<V>)> = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_none_or(|old| changed(old, v)))
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    out.extend(
        before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .map(|k| (k.clone(), None)),
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::api::{MemberStatus, OperationClass, OperationStatus, Role};
    use serde_json::json;

    fn member(name: &str, status: MemberStatus, message: &str) -> ClusterMember {
        ClusterMember {
            roles: vec![Role::Database],
            failure_domain: "default".into(),
            description: String::new(),
            config: BTreeMap::new(),
            groups: vec!["default".into()],
            server_name: name.into(),
            url: format!("https://{name}:8443"),
            database: true,
            status,
            message: message.into(),
            architecture: "x86_64".into(),
        }
    }

    fn online(name: &str) -> ClusterMember {
        member(name, MemberStatus::Online, "Fully operational")
    }

    fn operation(id: &str, status: OperationStatus) -> Operation {
        Operation {
            id: id.into(),
            class: OperationClass::Task,
            description: "work".into(),
            created_at: "2024-01-01T00:00:00Z".into(),
            updated_at: "2024-01-01T00:00:00Z".into(),
            status,
            status_code: status.code(),
            resources: BTreeMap::new(),
            metadata: serde_json::Value::Null,
            may_cancel: false,
            err: String::new(),
            location: "node1".into(),
        }
    }

    fn base() -> ClusterSnapshot {
        ClusterSnapshot {
            server_name: "node1".into(),
            taken_at: "2024-01-01T00:00:00Z".into(),
            members: vec![online("node1"), online("node2")],
            heartbeats: [
                ("node1".to_owned(), "2024-01-01T00:00:00Z".to_owned()),
                ("node2".to_owned(), "2024-01-01T00:00:00Z".to_owned()),
            ]
            .into(),
            raft: RaftState {
                leader: Some("node1".into()),
                term: 1,
                commit_index: 10,
                applied_index: 10,
                voters: 2,
                quorum: 2,
                ..RaftState::default()
            },
            config: [("user.a".to_owned(), json!("1"))].into(),
            operations: vec![operation("op1", OperationStatus::Running)],
            instances: [("node1".to_owned(), 2)].into(),
        }
    }

    #[test]
    fn diff_names_each_change() {
        type Case = (&'static str, fn(&mut ClusterSnapshot), Vec<WatchEvent>);
        let cases: Vec<Case> = vec![
            ("nothing changed", |_| {}, vec![]),
            (
                "only the time of the snapshot moved",
                |s| s.taken_at = "2024-01-01T00:00:09Z".into(),
                vec![],
            ),
            (
                "a member appeared",
                |s| s.members.push(online("node3")),
                vec![WatchEvent::Member {
                    name: "node3".into(),
                    after: Some(online("node3")),
                }],
            ),
            (
                "a member went offline",
                |s| s.members[1] = member("node2", MemberStatus::Offline, "No heartbeat for 21s"),
                vec![WatchEvent::Member {
                    name: "node2".into(),
                    after: Some(member(
                        "node2",
                        MemberStatus::Offline,
                        "No heartbeat for 21s",
                    )),
                }],
            ),
            (
                "a member left, taking its heartbeat",
                |s| {
                    s.members.pop();
                    s.heartbeats.remove("node2");
                },
                vec![WatchEvent::Member {
                    name: "node2".into(),
                    after: None,
                }],
            ),
            (
                "a member's roles changed",
                |s| s.members[1].roles = vec![Role::DatabaseStandby],
                vec![WatchEvent::Member {
                    name: "node2".into(),
                    after: Some({
                        let mut m = online("node2");
                        m.roles = vec![Role::DatabaseStandby];
                        m
                    }),
                }],
            ),
            (
                "a heartbeat was recorded",
                |s| {
                    s.heartbeats
                        .insert("node2".into(), "2024-01-01T00:00:05Z".into());
                },
                vec![WatchEvent::Heartbeat {
                    name: "node2".into(),
                    at: "2024-01-01T00:00:05Z".into(),
                }],
            ),
            (
                "the indexes moved",
                |s| {
                    s.raft.commit_index = 11;
                    s.raft.applied_index = 11;
                },
                vec![WatchEvent::Raft(RaftState {
                    leader: Some("node1".into()),
                    term: 1,
                    commit_index: 11,
                    applied_index: 11,
                    voters: 2,
                    quorum: 2,
                    ..RaftState::default()
                })],
            ),
            (
                "a key was set, another changed",
                |s| {
                    s.config.insert("user.b".into(), json!("2"));
                    s.config.insert("user.a".into(), json!("3"));
                },
                vec![
                    WatchEvent::Config {
                        key: "user.a".into(),
                        value: Some(json!("3")),
                    },
                    WatchEvent::Config {
                        key: "user.b".into(),
                        value: Some(json!("2")),
                    },
                ],
            ),
            (
                "a key was unset",
                |s| s.config.clear(),
                vec![WatchEvent::Config {
                    key: "user.a".into(),
                    value: None,
                }],
            ),
            (
                "an operation finished and another began",
                |s| {
                    s.operations = vec![
                        operation("op1", OperationStatus::Success),
                        operation("op2", OperationStatus::Running),
                    ]
                },
                vec![
                    WatchEvent::Operation {
                        id: "op1".into(),
                        after: Some(operation("op1", OperationStatus::Success)),
                    },
                    WatchEvent::Operation {
                        id: "op2".into(),
                        after: Some(operation("op2", OperationStatus::Running)),
                    },
                ],
            ),
            (
                "an instance moved between members",
                |s| s.instances = [("node1".to_owned(), 1), ("node2".to_owned(), 1)].into(),
                vec![WatchEvent::Instances(
                    [("node1".to_owned(), 1), ("node2".to_owned(), 1)].into(),
                )],
            ),
            (
                "an operation is gone",
                |s| s.operations.clear(),
                vec![WatchEvent::Operation {
                    id: "op1".into(),
                    after: None,
                }],
            ),
            (
                "several things at once, in a stable order",
                |s| {
                    s.operations.clear();
                    s.config.clear();
                    s.raft.term = 2;
                    s.members.pop();
                },
                vec![
                    WatchEvent::Member {
                        name: "node2".into(),
                        after: None,
                    },
                    WatchEvent::Raft(RaftState {
                        leader: Some("node1".into()),
                        term: 2,
                        commit_index: 10,
                        applied_index: 10,
                        voters: 2,
                        quorum: 2,
                        ..RaftState::default()
                    }),
                    WatchEvent::Config {
                        key: "user.a".into(),
                        value: None,
                    },
                    WatchEvent::Operation {
                        id: "op1".into(),
                        after: None,
                    },
                ],
            ),
        ];
        for (what, change, want) in cases {
            let before = base();
            let mut after = base();
            change(&mut after);
            assert_eq!(diff(&before, &after), want, "{what}");
        }
    }

    #[test]
    fn an_offline_members_ageing_message_is_not_news_but_a_new_status_is() {
        let mut before = base();
        before.members[1] = member("node2", MemberStatus::Offline, "No heartbeat for 21.00s");
        let mut after = before.clone();
        after.members[1].message = "No heartbeat for 22.00s".into();
        assert_eq!(diff(&before, &after), vec![]);

        after.members[1] = online("node2");
        assert_eq!(
            diff(&before, &after),
            vec![WatchEvent::Member {
                name: "node2".into(),
                after: Some(online("node2")),
            }]
        );
    }

    #[test]
    fn speaking_for_another_member_sends_a_fresh_snapshot() {
        let mut before = base();
        before.server_name = members::STANDALONE_NAME.into();
        before.members.clear();
        let after = base();
        assert_eq!(diff(&before, &after), vec![WatchEvent::Snapshot(after)]);
    }

    #[test]
    fn quorum_is_a_strict_majority() {
        for (voters, want) in [(0, 0), (1, 1), (2, 2), (3, 2), (4, 3), (5, 3)] {
            assert_eq!(quorum(voters), want, "{voters} voters");
        }
    }

    #[test]
    fn commit_index_is_what_a_majority_stored() {
        let cases: [(&str, Option<&[u64]>, u64, u64); 6] = [
            ("a follower knows only what it applied", None, 7, 7),
            ("no voters known", Some(&[]), 7, 7),
            ("a lone leader", Some(&[12]), 10, 12),
            ("three voters, one behind", Some(&[12, 12, 3]), 10, 12),
            ("three voters, two behind", Some(&[12, 9, 3]), 8, 9),
            ("never below what was applied", Some(&[12, 4, 3]), 8, 8),
        ];
        for (what, matched, applied, want) in cases {
            assert_eq!(commit_index(matched, applied), want, "{what}");
        }
    }

    #[test]
    fn raft_state_names_the_leader_and_counts_voters() {
        let log = |index| {
            Some(openraft::LogId::new(
                openraft::CommittedLeaderId::new(3, 1),
                index,
            ))
        };
        let nodes: BTreeMap<NodeId, BasicNode> = (1..=4)
            .map(|id| (id, BasicNode::new(format!("n{id}"))))
            .collect();
        let membership = openraft::Membership::new(vec![[1, 2, 3].into()], nodes);
        let mut m = RaftMetrics::new_initial(1);
        m.current_term = 3;
        m.current_leader = Some(1);
        m.last_log_index = Some(20);
        m.last_applied = log(18);
        m.membership_config =
            std::sync::Arc::new(openraft::StoredMembership::new(log(1), membership));
        m.replication = Some([(1, log(20)), (2, log(19)), (3, None), (4, log(20))].into());
        let names = [(1, "node1".to_owned()), (2, "node2".to_owned())].into();
        assert_eq!(
            raft_state(&m, &names),
            RaftState {
                leader: Some("node1".into()),
                term: 3,
                commit_index: 19,
                applied_index: 18,
                voters: 3,
                quorum: 2,
                ..RaftState::default()
            }
        );

        // A follower that knows a leader it has no row for yet shows its id.
        m.current_leader = Some(3);
        m.replication = None;
        let state = raft_state(&m, &names);
        assert_eq!(state.leader.as_deref(), Some("3"));
        assert_eq!(state.commit_index, 18);
    }
}
