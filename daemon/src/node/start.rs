//! Start-up: open the data directory, make the server certificate on first start, open the
//! databases, start Raft (initialising a single-member database the first time), and serve.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use openraft::BasicNode;
use tokio::sync::watch;

use super::{DataDir, Node};
use crate::cluster::members;
use crate::db::global::GlobalDb;
use crate::db::local::LocalDb;
use crate::error::{Error, Result};
use crate::operations::Operations;
use crate::raft::heartbeat::needs_timer;
use crate::raft::log_store::LogStore;
use crate::raft::network::Network;
use crate::raft::state_machine::StateMachine;
use crate::tls::Identity;

/// The first member's Raft id; a joiner gets its id from the cluster.
const FIRST_ID: u64 = 1;
/// How long start-up waits for this member's Raft to find a leader before serving anyway.
const LEADER_WAIT: Duration = Duration::from_secs(10);

/// A started member and the lock that keeps other daemons out of its directory.
pub struct Started {
    /// The member.
    pub node: Arc<Node>,
    _lock: std::fs::File,
}

fn lock_dir(dirs: &DataDir) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dirs.lock_file())
        .map_err(|e| Error::Internal(format!("{}: {e}", dirs.lock_file().display())))?;
    // SAFETY: flock on a valid descriptor we own; LOCK_NB makes it fail instead of wait.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(Error::Conflict(format!(
            "another corrald is already running with {}; stop it first ('corrald shutdown'), or use another CORRAL_DIR",
            dirs.root().display()
        )));
    }
    Ok(file)
}

fn server_identity(dirs: &DataDir) -> Result<Identity> {
    let internal = |e: crate::tls::IdentityError| Error::Internal(e.to_string());
    if let Some(id) = Identity::load(dirs.root(), "server").map_err(internal)? {
        return Ok(id);
    }
    let host = hostname();
    let id = Identity::generate(
        &format!("root@{host}"),
        vec![host, "localhost".into(), "127.0.0.1".into(), "::1".into()],
    )
    .map_err(internal)?;
    id.save(dirs.root(), "server").map_err(internal)?;
    Ok(id)
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Starts the member whose state lives in `dirs` and begins serving the unix socket (and
/// the TLS address when one is configured).
pub async fn start(dirs: DataDir) -> Result<Started> {
    dirs.create()
        .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dirs.root().display())))?;
    let lock = lock_dir(&dirs)?;
    let server_identity = server_identity(&dirs)?;
    let cluster_identity =
        Identity::load(dirs.root(), "cluster").map_err(|e| Error::Internal(e.to_string()))?;

    let local = LocalDb::open(&dirs.local_db())?;
    let global = GlobalDb::open(&dirs.global_db())?;
    let state_machine = StateMachine::open(&dirs.global_db(), &dirs.snapshots())?;
    let network = Network::new();
    // Before Raft starts: it replicates at once, and must dial with the cluster certificate.
    if let Some(identity) = &cluster_identity {
        let tls = crate::peers::tls::client_configs(identity, identity.fingerprint())
            .map_err(|e| Error::Internal(format!("cluster TLS client: {e}")))?;
        network.set_tls(tls);
    }

    let first_start = local.config_value("raft.node_id")?.is_none();
    let id = match local.config_value("raft.node_id")? {
        Some(v) => v.parse().map_err(|_| {
            Error::Internal(format!("local config raft.node_id is not a number: {v:?}"))
        })?,
        None => {
            local.set_config(&BTreeMap::from([(
                "raft.node_id".into(),
                FIRST_ID.to_string(),
            )]))?;
            FIRST_ID
        }
    };

    let raft = build_raft(id, &local, state_machine, &network).await?;

    let (shutdown, signal) = watch::channel(false);
    let node = Arc::new(Node {
        dirs: dirs.clone(),
        id: std::sync::atomic::AtomicU64::new(id),
        local,
        global,
        raft: RwLock::new(raft),
        raft_generation: watch::channel(0).0,
        lease: std::sync::Mutex::new(None),
        confirmed: Default::default(),
        leader_read_index: Default::default(),
        leader_round: Default::default(),
        network,
        operations: Operations::default(),
        server_identity,
        cluster_identity: RwLock::new(None),
        listeners: tokio::sync::Mutex::new(Vec::new()),
        unix_listener: std::sync::Mutex::new(None),
        services: OnceLock::new(),
        shutdown,
        tasks: crate::tasks::Tasks::new(signal),
        departure: Default::default(),
        membership: tokio::sync::Mutex::new(()),
        upgrade_gate: Default::default(),
        spares: Default::default(),
    });
    if let Some(identity) = cluster_identity {
        node.set_cluster_identity(identity)?;
    }

    if first_start || !node.raft().is_initialized().await.unwrap_or(true) {
        let nodes = BTreeMap::from([(id, BasicNode::new(""))]);
        node.raft()
            .initialize(nodes)
            .await
            .map_err(|e| Error::Internal(format!("cannot initialise the database: {e}")))?;
    }
    wait_for_leader(&node).await;
    if node.is_leader() {
        members::ensure_self(&node).await?;
    }
    record_raft_nodes(&node);

    let rest = crate::api::rest::router(node.clone());
    let grpc = crate::api::grpc::routes(node.clone())
        .prepare()
        .into_axum_router();
    let _ = node.services.set(crate::api::listener::Services {
        rest: rest.clone(),
        grpc: grpc.clone(),
        lines: crate::api::lines::LineServer::new(node.clone()),
    });
    // The TLS addresses first: the unix socket answers `waitready`, and a member that says
    // it is ready must not refuse a connection on its address.
    node.reconcile_listeners().await?;
    let unix = crate::api::listener::serve_unix(&dirs.unix_socket(), rest, grpc, &node.tasks);
    let unix = unix.map_err(|e| {
        Error::Internal(format!(
            "cannot listen on {}: {e}",
            dirs.unix_socket().display()
        ))
    })?;
    *node.unix_listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(unix);
    crate::cluster::heartbeat::spawn(&node);
    crate::cluster::spares::spawn(&node);
    crate::images::replication::spawn(&node);
    if node.is_clustered() {
        // In the background: a member that cannot reach a quorum still starts, and says so.
        let announcing = node.clone();
        node.tasks.spawn("announcing this member", async move {
            members::announce_until_recorded(&announcing).await
        });
    }
    let settling = node.clone();
    node.tasks.spawn(
        "settling instance moves, then starting instances",
        async move { crate::instances::migration::settle_at_start(settling).await },
    );
    if let Ok(name) = members::own_name(&node).await {
        node.operations.set_location(&name);
    }
    Ok(Started { node, _lock: lock })
}

/// A Raft instance for member `id` over this member's databases.
pub(super) async fn build_raft(
    id: u64,
    local: &LocalDb,
    state_machine: StateMachine,
    network: &Network,
) -> Result<super::RaftHandle> {
    let applied = state_machine.applied_index();
    let log = LogStore::new(local.clone());
    let raft = crate::raft::Raft::new(
        id,
        crate::raft::config(),
        network.clone(),
        log.clone(),
        state_machine,
    )
    .await
    .map_err(|e| Error::Internal(format!("cannot start Raft: {e}")))?;
    Ok(super::RaftHandle::new(raft, applied, log))
}

pub(super) async fn wait_for_leader(node: &Node) {
    let mut metrics = node.raft().metrics();
    let _ = tokio::time::timeout(
        LEADER_WAIT,
        metrics.wait_for(|m| m.current_leader.is_some() && m.last_applied.is_some()),
    )
    .await;
}

/// Keeps the local `raft_nodes` table in step with the Raft membership, so the database
/// members can be listed with the daemon stopped, tells the network who the learners are,
/// and keeps Raft's timer running only where it is needed ([`needs_timer`]).
pub(super) fn record_raft_nodes(node: &Arc<Node>) {
    let tasks = node.tasks.clone();
    let raft = node.raft();
    let node = Arc::downgrade(node);
    tasks.spawn("recording the Raft members", async move {
        // The server metrics change with the membership, vote, state and leader only, not
        // with every replication answer as the full metrics do. The task follows this Raft
        // instance to its end; a replacement gets a task of its own.
        let mut metrics = raft.server_metrics();
        let mut last = None;
        let mut ticking = None;
        loop {
            let (membership, timer) = {
                let m = metrics.borrow();
                let timer = needs_timer(m.id, m.state, m.membership_config.membership());
                (m.membership_config.clone(), timer)
            };
            if ticking != Some(timer) {
                raft.runtime_config().tick(timer);
                ticking = Some(timer);
            }
            if last.as_ref() != Some(&membership) {
                let Some(n) = node.upgrade() else { return };
                n.network
                    .set_learners(membership.membership().learner_ids().collect());
                let rows = members::raft_node_rows(&n, membership.membership()).await;
                if n.local.write_raft_nodes(rows).await.is_ok() {
                    last = Some(membership);
                }
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    });
}
