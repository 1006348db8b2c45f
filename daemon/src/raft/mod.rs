//! openraft glue: the type configuration, the SQLite log store, the state machine that
//! applies SQL batches to the global database, the gRPC network between members and the
//! spacing of learners' heartbeats.

pub mod heartbeat;
// openraft's traits dictate `StorageError` as the error type, large as it is.
#[allow(clippy::result_large_err)]
pub mod log_store;
mod log_tail;
pub mod network;
#[allow(clippy::result_large_err)]
pub mod state_machine;

use std::io::Cursor;
use std::sync::Arc;

use crate::db::batch::BatchOutcome;
use crate::db::proposal::Proposal;

openraft::declare_raft_types!(
    /// Corral's Raft types: entries are groups of SQL batches, responses their outcomes.
    pub TypeConfig:
        D = Proposal,
        R = Vec<BatchOutcome>,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// The Raft handle every part of the daemon shares.
pub type Raft = openraft::Raft<TypeConfig>;

/// A Raft node id.
pub type NodeId = u64;

/// Environment setting: take a snapshot after this many log entries (default 5000). A tuning
/// knob, and how tests make snapshots and snapshot installs happen with few writes.
pub const SNAPSHOT_EVERY_ENV: &str = "CORRAL_SNAPSHOT_EVERY";

/// Raft heartbeat period, milliseconds (to voters; learners, see [`heartbeat`]).
const HEARTBEAT_MS: u64 = 30;
/// Election timeout range, milliseconds; the upper end is also openraft's leader lease. A
/// follower of a dead leader campaigns after lease + timeout (+ up to one tick of 1.5
/// heartbeats): 280-405 ms here, so a write gets through a survivor within about 0.35 s,
/// while six missed heartbeats in a row are needed before a live leader loses its lease.
const ELECTION_MIN_MS: u64 = 100;
const ELECTION_MAX_MS: u64 = 180;

/// How long followers refuse to vote after hearing from the leader (openraft's leader lease
/// is `election_timeout_max`).
pub fn followers_lease() -> std::time::Duration {
    std::time::Duration::from_millis(ELECTION_MAX_MS)
}

/// openraft's settings: the timing above and the snapshot policy.
pub fn config() -> Arc<openraft::Config> {
    let every = std::env::var(SNAPSHOT_EVERY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(5000);
    let config = openraft::Config {
        cluster_name: "corral".into(),
        heartbeat_interval: HEARTBEAT_MS,
        election_timeout_min: ELECTION_MIN_MS,
        election_timeout_max: ELECTION_MAX_MS,
        install_snapshot_timeout: 2000,
        // openraft bounds every append RPC by the heartbeat interval (30 ms): a lagging
        // follower's catch-up chunk (decode, insert, fsync) must fit in it, or the chunk is
        // sent again while the new leader cannot commit. openraft's default of 300 entries
        // leaves little room on a loaded two-core machine.
        max_payload_entries: 64,
        // Keep a window of log after a snapshot, so lagging members rarely need a snapshot.
        max_in_snapshot_log_to_keep: every.min(1000),
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(every),
        ..Default::default()
    };
    Arc::new(
        config
            .validate()
            .expect("the built-in Raft timing is valid"),
    )
}
