//! `cluster doctor`: what is wrong with the cluster, in plain words, and the exact commands
//! that fix it. Facts are gathered (from the running daemon, or from a stopped member's
//! files and the network: see `gather`); the diagnosis is a pure function of them.

mod diagnose;
pub mod gather;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use diagnose::{MAX_CLOCK_SKEW_MS, diagnose};

/// Where a Raft log ends: the member with the highest (term, index) has the newest data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LogPosition {
    /// Term of the last entry (compared first).
    pub term: u64,
    /// Index of the last entry.
    pub index: u64,
}

pub use crate::db::global::nodes::DbRole;

/// Whether a member could be asked anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Its daemon answered.
    Up,
    /// It is the member the doctor runs on, and its daemon is stopped (its files were read).
    Stopped,
    /// Nothing answered; why.
    Unreachable(String),
}

/// What is known of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    /// Raft id.
    pub id: u64,
    /// Name ("member N" when only the Raft configuration knows it).
    pub name: String,
    /// Cluster address.
    pub address: String,
    /// Whether it is the member the doctor runs on.
    pub is_self: bool,
    /// Its database role.
    pub role: DbRole,
    /// False when it is in the Raft configuration but not in the member list (left uncleanly).
    pub listed: bool,
    /// Whether it answered.
    pub reach: Reach,
    /// The end of its log, when it answered (or its files were read).
    pub log: Option<LogPosition>,
    /// (schema, API extensions) it runs, or last recorded.
    pub version: Option<(i64, i64)>,
    /// How far its clock is ahead of this member's (negative: behind), in milliseconds.
    pub clock_skew_ms: Option<i64>,
    /// Whether the leader's heartbeats mark it offline.
    pub heartbeat_offline: bool,
}

/// The cluster certificate, as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// Valid until this time.
    Expires(OffsetDateTime),
    /// Could not be read; why.
    Unreadable(String),
}

/// Everything the diagnosis looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Whether this server belongs to a cluster at all.
    pub clustered: bool,
    /// The members (this one included), by name.
    pub members: Vec<MemberFacts>,
    /// The leader's id, if this member knows one.
    pub leader: Option<u64>,
    /// The cluster certificate.
    pub certificate: Certificate,
    /// When the facts were gathered.
    pub now: OffsetDateTime,
}

/// What a member answers on `GET /internal/doctor/log`: where its log ends, what it runs
/// and its clock, so a doctor elsewhere can compare members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogReport {
    /// Its Raft id.
    pub id: u64,
    /// The end of its log (None: empty).
    pub log: Option<LogPosition>,
    /// Schema version it runs.
    pub schema: i64,
    /// API extensions it runs.
    pub api_extensions: i64,
    /// Its clock, Unix milliseconds.
    pub time_ms: i64,
}
