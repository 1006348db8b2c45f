//! What the gRPC `Watch` stream carries: a snapshot of the cluster, then the changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ClusterMember, Operation};

/// The cluster as one member sees it at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    /// The member answering the stream.
    pub server_name: String,
    /// When the snapshot was taken, RFC 3339.
    pub taken_at: String,
    /// Every member, as `GET /1.0/cluster/members?recursion=1` shows them.
    pub members: Vec<ClusterMember>,
    /// Each member's last heartbeat, RFC 3339, by name.
    pub heartbeats: BTreeMap<String, String>,
    /// The Raft state: leader, term, commit index, voters.
    pub raft: RaftState,
    /// Server configuration as `GET /1.0` shows it (the trust password only as `true`).
    pub config: BTreeMap<String, serde_json::Value>,
    /// Operations and join tokens.
    pub operations: Vec<Operation>,
    /// How many instances each member holds, by name (members holding none are left out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instances: BTreeMap<String, u64>,
}

/// The replicated database's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftState {
    /// The leader's member name, if one is known.
    pub leader: Option<String>,
    /// The current term.
    pub term: u64,
    /// The highest log index known committed.
    pub commit_index: u64,
    /// The last log index applied here.
    pub applied_index: u64,
    /// Voters in the membership.
    pub voters: usize,
    /// Voters that must be up for writes to succeed (a majority).
    pub quorum: usize,
    /// This member's part in Raft.
    #[serde(default)]
    pub role: RaftRole,
    /// Each voter by name, and whether the leader heard from it within the last second.
    /// Empty when no leader could be asked: see `leader_unreachable` and `role`.
    #[serde(default)]
    pub voters_reachable: BTreeMap<String, bool>,
    /// A leader is known but did not answer this member: its view is unknown, and
    /// it may well be down.
    #[serde(default)]
    pub leader_unreachable: bool,
}

/// A member's part in Raft, as openraft reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaftRole {
    /// Not reported (a daemon older than this field).
    #[default]
    Unknown,
    /// Leads: it replicates to the others.
    Leader,
    /// A voter following a leader.
    Follower,
    /// A voter asking for votes: an election is in progress.
    Candidate,
    /// A non-voter (stand-by or spare) following the leader.
    Learner,
}

/// One message of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WatchEvent {
    /// The whole picture (first message, and again after anything the diff cannot express).
    Snapshot(ClusterSnapshot),
    /// A member appeared, changed (status, roles, config ...) or left (`after` is None).
    Member {
        /// Its name.
        name: String,
        /// How it is now.
        after: Option<ClusterMember>,
    },
    /// A member's heartbeat was recorded.
    Heartbeat {
        /// Its name.
        name: String,
        /// When, RFC 3339.
        at: String,
    },
    /// Leader, term or indexes moved.
    Raft(RaftState),
    /// A server configuration key changed (`value` None: unset).
    Config {
        /// The key.
        key: String,
        /// The new value.
        value: Option<serde_json::Value>,
    },
    /// An operation appeared or changed (`after` None: gone).
    Operation {
        /// Its id.
        id: String,
        /// How it is now.
        after: Option<Operation>,
    },
    /// How many instances each member holds changed (the whole count, by member name).
    Instances(BTreeMap<String, u64>),
}
