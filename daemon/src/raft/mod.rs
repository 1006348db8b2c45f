//! openraft glue: the type configuration, the SQLite log store, the state machine that
//! applies SQL batches to the global database, the gRPC network between members and the
//! spacing of learners' heartbeats.

#[cfg(test)]
mod conformance;
pub mod heartbeat;
pub mod inbound;
pub mod line;
// openraft's traits dictate `StorageError` as the error type, large as it is.
#[allow(clippy::result_large_err)]
pub mod log_store;
mod log_tail;
pub mod network;
pub mod spare_feed;
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

/// Whether a log event is kept. openraft reports each failed call to a peer twice: a WARN
/// ("error replication to target=N", which stays) and again an ERROR ("RPCError", dropped
/// here). A peer that is slow or down is no fault of this member, and a member's log must
/// show no ERROR in normal operation, a busy moment included. Once its core has stopped
/// (reported once, with why), openraft logs an ERROR for every message still sent to it
/// ("failure sending RaftMsg to RaftCore", with the core's result): dropped too, or a member
/// waiting for disk space would fill its log with them at each heartbeat it receives.
pub fn log_event_wanted(meta: &tracing::Metadata<'_>) -> bool {
    let error = *meta.level() == tracing::Level::ERROR;
    let peer_failure =
        meta.target() == "openraft::replication" && meta.fields().field("err").is_some();
    let stopped_core = meta.target() == "openraft::raft::raft_inner"
        && meta.fields().field("core_result").is_some();
    !(error && (peer_failure || stopped_core))
}

/// Environment setting: take a snapshot after this many log entries (default 5000). A tuning
/// knob, and how tests make snapshots and snapshot installs happen with few writes.
pub const SNAPSHOT_EVERY_ENV: &str = "CORRAL_SNAPSHOT_EVERY";

/// Raft heartbeat period, milliseconds (to voters; learners, see [`heartbeat`]).
const HEARTBEAT_MS: u64 = 30;
/// Election timeout range, milliseconds; the upper end is also openraft's leader lease. A
/// follower of a dead leader campaigns after lease + timeout (+ up to one tick of 1.5
/// heartbeats): 150-245 ms here, so a write gets through a survivor within about 0.25 s,
/// while a follower must miss five heartbeats in a row before it stands, and a busy one
/// hears from the leader with every append.
const ELECTION_MIN_MS: u64 = 50;
const ELECTION_MAX_MS: u64 = 100;

/// The bytes of snapshot sent per message (see [`config`]).
const SNAPSHOT_CHUNK_BYTES: u64 = 512 * 1024;

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
        // A snapshot goes in chunks, each one gRPC message of JSON, where a byte takes up to
        // four characters: openraft's 3 MiB chunks came to 10 MB, past the 4 MiB message
        // limit, so no member could receive a snapshot of a replica past about 1 MB (joins
        // then failed, "did not catch up": cluster-torture's long run).
        snapshot_max_chunk_size: SNAPSHOT_CHUNK_BYTES,
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// The largest chunk of the worst bytes, as the network sends it, fits in one gRPC
    /// message (tonic's 4 MiB limit), with room for the request around it.
    #[test]
    fn a_snapshot_chunk_fits_in_one_message() {
        let chunk = super::config().snapshot_max_chunk_size as usize;
        let request = openraft::raft::InstallSnapshotRequest::<super::TypeConfig> {
            vote: openraft::Vote::new_committed(7, 1),
            meta: openraft::SnapshotMeta {
                snapshot_id: "7-123456-0f0e0d0c-0b0a-0908-0706-050403020100".into(),
                ..Default::default()
            },
            offset: u64::MAX,
            data: vec![255; chunk],
            done: false,
        };
        let sent = serde_json::to_vec(&request).unwrap().len();
        assert!(
            sent < 3 * 1024 * 1024,
            "{sent} bytes for a chunk of {chunk}"
        );
    }

    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_call_to_a_peer_is_a_warning_not_an_error() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
            .with(tracing_subscriber::filter::filter_fn(
                super::log_event_wanted,
            ));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "openraft::replication", error = "timed out", "error replication to target=2");
            tracing::error!(target: "openraft::replication", err = "timed out", "RPCError");
            tracing::error!(target: "openraft::replication", error = "disk", "error replication to target=2");
            tracing::error!(target: "openraft::core", err = "x", "other");
            tracing::error!(target: "openraft::raft::raft_inner", core_result = "Err(disk full)", "failure sending RaftMsg to RaftCore");
            tracing::error!(target: "openraft::core::raft_core", error = "disk full", "quit RaftCore::main on error");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("WARN openraft::replication: error replication"),
            "{text}"
        );
        assert!(!text.contains("RPCError"), "{text}");
        assert!(
            text.contains("ERROR openraft::replication: error replication"),
            "{text}"
        );
        assert!(text.contains("ERROR openraft::core: other"), "{text}");
        assert!(!text.contains("failure sending RaftMsg"), "{text}");
        assert!(text.contains("quit RaftCore::main on error"), "{text}");
    }
}
