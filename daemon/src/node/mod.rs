//! The running member: its databases, Raft, identities, listeners and lifecycle.

mod dirs;
// openraft's write error is large; it is passed on as openraft made it.
#[allow(clippy::result_large_err)]
mod group_commit;
mod lease;
mod propose;
mod read;
mod read_index;
mod reset;
mod start;
pub mod storage;
mod upgrade_gate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

pub use dirs::DataDir;
pub use propose::WRITE_TIMEOUT;
pub use read::{CONFIRM_WAIT, Read};
pub use start::{Started, hostname, start};
use tokio::sync::watch;

use crate::api::listener::Listener;
use crate::db::global::GlobalDb;
use crate::db::local::LocalDb;
use crate::error::{Error, Result};
use crate::operations::Operations;
use crate::raft::network::Network;
use crate::raft::{NodeId, Raft};
use crate::tls::Identity;

/// A Raft instance with a watch of its state machine's last applied index, which moves
/// before clients hear of a write, and the queue its writes are grouped in; the three are
/// replaced together.
pub struct RaftHandle {
    /// The instance.
    pub raft: Raft,
    /// The state machine's applied index.
    pub applied: watch::Receiver<u64>,
    /// Its log, read to feed spares (see [`crate::raft::spare_feed`]).
    pub log: crate::raft::log_store::LogStore,
    writes: group_commit::GroupCommit,
}

impl RaftHandle {
    /// A handle on `raft`, whose state machine reports its applied index to `applied`.
    pub fn new(
        raft: Raft,
        applied: watch::Receiver<u64>,
        log: crate::raft::log_store::LogStore,
    ) -> Self {
        let writes = group_commit::GroupCommit::new(raft.clone());
        Self {
            raft,
            applied,
            log,
            writes,
        }
    }
}

/// A member of a cluster (or a standalone server), running.
pub struct Node {
    /// Where its state lives.
    pub dirs: DataDir,
    id: AtomicU64,
    /// Its local database.
    pub local: LocalDb,
    /// Its replica of the global database.
    pub global: GlobalDb,
    raft: RwLock<RaftHandle>,
    /// Counts Raft replacements, so a watcher can tell one from a failure.
    raft_generation: watch::Sender<u64>,
    /// Leadership confirmed by a quorum recently enough to read without another round.
    lease: std::sync::Mutex<Option<lease::Lease>>,
    /// When the replica was last confirmed current (what a stale answer is "as of").
    confirmed: read::Confirmed,
    /// The read-index request to the leader that overlapping reads share.
    leader_read_index: read_index::Shared<String>,
    /// On the leader, the quorum round that reads finding the lease run out share.
    leader_round: read_index::Shared<read::Round>,
    /// How it reaches other members.
    pub network: Network,
    /// Its background operations.
    pub operations: Operations,
    server_identity: Identity,
    cluster_identity: RwLock<Option<Identity>>,
    listeners: tokio::sync::Mutex<Vec<Listener>>,
    unix_listener: std::sync::Mutex<Option<Listener>>,
    services: OnceLock<crate::api::listener::Services>,
    shutdown: watch::Sender<bool>,
    /// Its background loops and connections, stopped by the shutdown signal.
    pub tasks: crate::tasks::Tasks,
    /// How leaving gracefully went, once tried (a stop is tried once, however asked for).
    pub departure: tokio::sync::OnceCell<std::result::Result<(), String>>,
    /// Serialises membership changes (accept, role changes, removal), as LXD's mutex does.
    pub membership: tokio::sync::Mutex<()>,
    /// Whether a rolling upgrade makes this member refuse public requests.
    pub upgrade_gate: upgrade_gate::Gate,
    /// The spares this member feeds while it leads, and what each holds.
    pub spares: crate::cluster::spares::Fed,
}

/// How long a stop waits for connections to finish their requests and loops to end.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

impl Node {
    /// Its Raft node id (a joiner gets a new one from the cluster).
    pub fn id(&self) -> NodeId {
        self.id.load(Ordering::Acquire)
    }

    /// This member's name in the cluster (its host name before it has one).
    pub(crate) async fn own_name(&self) -> String {
        crate::cluster::members::own_name(self)
            .await
            .unwrap_or_else(|_| hostname())
    }

    /// Its Raft instance (a joiner replaces its standalone one with the cluster's).
    pub fn raft(&self) -> Raft {
        self.raft
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .raft
            .clone()
    }

    /// The current Raft instance with its log.
    pub fn raft_and_log(&self) -> (Raft, crate::raft::log_store::LogStore) {
        let handle = self.raft.read().unwrap_or_else(|p| p.into_inner());
        (handle.raft.clone(), handle.log.clone())
    }

    /// The write queue of the current Raft instance.
    fn writes(&self) -> group_commit::GroupCommit {
        self.raft
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .writes
            .clone()
    }

    /// Switches to another Raft instance and id, after the old one was shut down.
    pub fn replace_raft(&self, id: NodeId, handle: RaftHandle) {
        *self.raft.write().unwrap_or_else(|p| p.into_inner()) = handle;
        self.raft_generation.send_modify(|g| *g += 1);
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.confirmed.clear();
        self.id.store(id, Ordering::Release);
    }

    /// The last log index applied to this member's replica.
    pub fn applied_index(&self) -> u64 {
        *self.applied_watch().borrow()
    }

    /// A watch of the last log index applied to this member's replica.
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.raft
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .applied
            .clone()
    }

    /// The certificate this member presents: the cluster's once clustered, else its own.
    pub fn presented_identity(&self) -> Identity {
        self.cluster_identity
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| self.server_identity.clone())
    }

    /// This member's own certificate (`server.crt`), with which it asks to join.
    pub fn server_identity(&self) -> &Identity {
        &self.server_identity
    }

    /// The cluster certificate, once clustered.
    pub fn cluster_identity(&self) -> Option<Identity> {
        self.cluster_identity
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The cluster certificate's fingerprint, once clustered.
    pub fn cluster_fingerprint(&self) -> Option<String> {
        self.cluster_identity
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|i| i.fingerprint().to_owned())
    }

    /// Whether this member belongs to a cluster (it holds the cluster certificate).
    pub fn is_clustered(&self) -> bool {
        self.cluster_identity
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Adopts the cluster certificate: presented to clients and used between members.
    pub fn set_cluster_identity(&self, identity: Identity) -> Result<()> {
        self.pin_members(&identity)?;
        *self
            .cluster_identity
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(identity);
        Ok(())
    }

    /// Calls members presenting `identity`, accepting a member that presents it or, while
    /// the cluster certificate is being replaced, the other certificate of the pair.
    pub fn pin_members(&self, identity: &Identity) -> Result<()> {
        let dialer = self.network.dialer();
        let pins: Vec<String> = std::iter::once(identity.fingerprint().to_owned())
            .chain(dialer.also_trusted())
            .collect();
        let client = crate::peers::tls::client_configs_trusting(identity, &pins)
            .map_err(|e| Error::Internal(format!("cluster TLS client: {e}")))?;
        // Through the network: Raft's idle lines were dialled with the old configuration.
        self.network.set_tls(client);
        Ok(())
    }

    /// Drops the cluster certificate: the member presents its own again.
    pub fn clear_cluster_identity(&self) {
        *self
            .cluster_identity
            .write()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The leader's address, as Raft knows it.
    pub fn leader_address(&self) -> Option<String> {
        let m = self.raft().metrics().borrow().clone();
        let leader = m.current_leader?;
        m.membership_config
            .membership()
            .get_node(&leader)
            .map(|n| n.addr.clone())
            .filter(|a| !a.is_empty())
    }

    /// Whether this member is the Raft leader.
    pub fn is_leader(&self) -> bool {
        self.raft().metrics().borrow().current_leader == Some(self.id())
    }

    /// (Re)binds the TLS listeners to the configured addresses with the presented certificate.
    pub async fn reconcile_listeners(&self) -> Result<()> {
        let config = self.local.read_config().await?;
        let mut wanted: Vec<String> = Vec::new();
        for key in ["core.https_address", "cluster.https_address"] {
            if let Some(addr) = config.get(key).filter(|a| !a.is_empty()) {
                let addr =
                    corral_shared::config::canonical_address(addr).map_err(Error::BadRequest)?;
                if !wanted.contains(&addr) {
                    wanted.push(addr);
                }
            }
        }
        let services = self.services.get().cloned().ok_or_else(|| {
            Error::Internal("listeners reconciled before the API was built".into())
        })?;
        let tls = crate::tls::server_config(&self.presented_identity())
            .map_err(|e| Error::Internal(format!("TLS configuration: {e}")))?;
        let mut listeners = self.listeners.lock().await;
        let mut kept = Vec::new();
        for listener in listeners.drain(..) {
            if listener
                .configured
                .as_ref()
                .is_some_and(|a| wanted.contains(a))
            {
                listener.set_tls(tls.clone());
                kept.push(listener);
            } else {
                listener.stop().await;
            }
        }
        for addr in wanted {
            if kept.iter().any(|l| l.configured.as_ref() == Some(&addr)) {
                continue;
            }
            let serving =
                crate::api::listener::serve_tls(&addr, tls.clone(), services.clone(), &self.tasks);
            match serving.await {
                Ok(listener) => kept.push(listener),
                Err(e) => {
                    *listeners = kept;
                    return Err(Error::BadRequest(format!(
                        "cannot listen on {addr}: {e}; choose an address of this machine that is free"
                    )));
                }
            }
        }
        *listeners = kept;
        Ok(())
    }

    /// The addresses the TLS listeners are bound to.
    pub async fn listening_addresses(&self) -> Vec<String> {
        self.listeners
            .lock()
            .await
            .iter()
            .filter_map(|l| l.address.map(|a| a.to_string()))
            .collect()
    }

    /// Asks the daemon to stop.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves once a shutdown was requested.
    pub async fn shutdown_requested(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Resolves if this member's Raft stops by itself (a storage error, a panic in its core)
    /// rather than by a shutdown or a replacement, with why. A member without Raft can
    /// neither vote nor replicate; staying up would only hide that from the cluster. A Raft
    /// stopped by a full disk is started again once space returns instead (see [`storage`]).
    pub async fn raft_failed(self: &Arc<Self>) -> String {
        loop {
            let mut replaced = self.raft_generation.subscribe();
            let raft = self.raft();
            let mut metrics = raft.server_metrics();
            while metrics.changed().await.is_ok() {}
            // The core's last word is in its metrics. (Asking the stopped core instead makes
            // openraft log an ERROR, which a planned stop, a join's say, must not.)
            let last = raft.metrics().borrow().running_state.clone();
            match last {
                // Shut down on purpose: watch its replacement, if one comes.
                Err(openraft::error::Fatal::Stopped) => {
                    if replaced.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                Err(fatal) => {
                    if let Err(e) = self
                        .restart_raft_when_space_returns(fatal.to_string())
                        .await
                    {
                        return format!("the database's Raft stopped: {e}");
                    }
                }
                // Gone without a word: its task panicked.
                Ok(()) => {
                    return "the database's Raft stopped: its task ended abruptly (a panic; see the log above)".into();
                }
            }
        }
    }

    /// Stops everything: signals the shutdown (streams end, connections finish the request
    /// in hand, loops stop), closes the listeners, waits up to [`DRAIN`] for every task,
    /// then stops Raft.
    pub async fn stop(&self) {
        self.request_shutdown();
        for l in self.listeners.lock().await.drain(..) {
            l.stop().await;
        }
        let unix = self
            .unix_listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(l) = unix {
            l.stop().await;
        }
        match self.tasks.drain(DRAIN).await {
            0 => tracing::info!("every task of this member ended"),
            left => tracing::warn!("{left} task(s) of this member had to be stopped"),
        }
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), self.raft().shutdown()).await;
    }

    /// Whether the member can serve: Raft knows a leader and this member has caught up.
    pub fn is_ready(&self) -> bool {
        let m = self.raft().metrics().borrow().clone();
        m.current_leader.is_some() && m.last_applied.is_some()
    }
}

/// Shared handle to the running member.
pub type SharedNode = Arc<Node>;
