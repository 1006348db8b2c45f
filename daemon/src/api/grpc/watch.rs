//! The Operator service: `Watch` streams a snapshot of the cluster, then what changes.
//!
//! Every replicated write (heartbeats and configuration included) moves this member's Raft
//! metrics, so their change is the signal to look again; a tick covers what moves without a
//! write (local operations, members turning offline as time passes). Each look rebuilds the
//! snapshot and sends its difference from the previous one. Raft's own view (leader,
//! election, which voters answer the leader) is looked at more often, alone, since it is
//! cheap and is what an operator needs first when a member goes down.

use std::sync::Arc;
use std::time::Duration;

use corral_proto::v1::{VotersReply, VotersRequest, WatchMessage, WatchRequest};
use corral_shared::api::{ClusterSnapshot, WatchEvent};
use openraft::{BasicNode, RaftMetrics};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::api::Peer;
use crate::db::global::queries;
use crate::events;
use crate::node::Node;
use crate::raft::NodeId;

/// Messages that may wait for a slow client; beyond that the stream stops looking until
/// the client reads, and the next diff covers the gap.
const BUFFER: usize = 64;
/// How often to look even without a write.
const TICK: Duration = Duration::from_secs(1);
/// How often to look at Raft's view alone: a voter going silent moves no metric.
const RAFT_TICK: Duration = Duration::from_millis(250);
/// Quiet time after a change before looking, so a burst of writes yields one diff.
const SETTLE: Duration = Duration::from_millis(50);
/// The longest a steady stream of writes may hold a look back.
const SETTLE_AT_MOST: Duration = Duration::from_millis(500);

/// Serves `corral.v1.Operator`.
pub struct OperatorService {
    node: Arc<Node>,
}

impl OperatorService {
    /// The service over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

/// Lets in the local unix socket, members, and clients whose certificate is trusted.
async fn authorize<T>(node: &Node, req: &Request<T>) -> Result<(), Status> {
    let peer = req.extensions().get::<Peer>();
    if peer.is_some_and(|p| p.local) {
        return Ok(());
    }
    if let Some(fp) = peer.and_then(|p| p.fingerprint.clone()) {
        let member = node.cluster_fingerprint().is_some_and(|c| {
            corral_shared::fingerprint::constant_time_eq(c.as_bytes(), fp.as_bytes())
        });
        if member
            || node
                .global
                .read(move |c| queries::certificate_trusted(c, &fp))
                .await
                .map_err(|e| Status::unavailable(format!("cannot read the trust store: {e}")))?
        {
            return Ok(());
        }
    }
    Err(Status::permission_denied(
        "this client's certificate is not trusted: add it to the trust store \
         (POST /1.0/certificates with a trust token or the trust password), \
         or watch through the member's unix socket",
    ))
}

fn message(event: &WatchEvent) -> Result<WatchMessage, Status> {
    serde_json::to_vec(event)
        .map(|json| WatchMessage { json })
        .map_err(|e| Status::internal(format!("cannot encode a watch event: {e}")))
}

#[tonic::async_trait]
impl corral_proto::v1::operator_server::Operator for OperatorService {
    type WatchStream = ReceiverStream<Result<WatchMessage, Status>>;

    async fn watch(
        &self,
        req: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        authorize(&self.node, &req).await?;
        // Subscribe before the first snapshot, so a change made while it is read is seen.
        let signal = Signal::new(&self.node);
        let (first, names) = events::look(&self.node)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let (tx, rx) = mpsc::channel(BUFFER);
        tx.send(Ok(message(&WatchEvent::Snapshot(first.clone()))?))
            .await
            .map_err(|_| Status::cancelled("the client went away"))?;
        tokio::spawn(follow(self.node.clone(), signal, (first, names), tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn voters(&self, req: Request<VotersRequest>) -> Result<Response<VotersReply>, Status> {
        authorize(&self.node, &req).await?;
        let metrics = self.node.raft().metrics().borrow().clone();
        let view = events::voters::local_view(&self.node, &metrics);
        let json = serde_json::to_vec(&view)
            .map_err(|e| Status::internal(format!("cannot encode the voters' view: {e}")))?;
        Ok(Response::new(VotersReply { json }))
    }
}

/// Sends the changes after `prev` until the client goes away or the daemon stops.
async fn follow(
    node: Arc<Node>,
    mut signal: Signal,
    (mut prev, mut names): (ClusterSnapshot, events::Names),
    tx: mpsc::Sender<Result<WatchMessage, Status>>,
) {
    let shutdown = node.shutdown_requested();
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut raft_tick = tokio::time::interval(RAFT_TICK);
    raft_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tx.closed() => return,
            () = signal.changed(&node) => signal.settle(&node).await,
            _ = tick.tick() => {}
            _ = raft_tick.tick() => {
                let raft = events::raft_view(&node, &names).await;
                if raft != prev.raft {
                    prev.raft = raft.clone();
                    let Ok(m) = message(&WatchEvent::Raft(raft)) else { return };
                    if tx.send(Ok(m)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
        }
        let next = match events::look(&node).await {
            Ok((next, now_named)) => {
                names = now_named;
                next
            }
            Err(e) => {
                // Transient (a joiner catching up, a busy database): the next look retries,
                // and its diff covers whatever this one missed.
                tracing::debug!("watch: cannot read the cluster state: {e}");
                continue;
            }
        };
        for event in events::diff(&prev, &next) {
            let sent = match message(&event) {
                Ok(m) => tx.send(Ok(m)).await,
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
        prev = next;
    }
}

/// What about Raft, when it moves, is worth a new look: not the quorum acknowledgement
/// times and replication progress a leader publishes many times a second.
type Key = (Option<NodeId>, u64, Option<u64>, Option<u64>, Option<u64>);

fn key(m: &RaftMetrics<NodeId, BasicNode>) -> Key {
    (
        m.current_leader,
        m.current_term,
        m.last_applied.map(|l| l.index),
        m.last_log_index,
        m.membership_config.log_id().map(|l| l.index),
    )
}

/// The Raft metrics of the member's current Raft instance, followed across its replacement
/// (a standalone server joining a cluster gets a new instance and id; the old one's channel
/// closes when it stops).
struct Signal {
    metrics: Option<watch::Receiver<RaftMetrics<NodeId, BasicNode>>>,
    id: NodeId,
    seen: Key,
}

impl Signal {
    fn new(node: &Node) -> Self {
        let mut signal = Self {
            metrics: None,
            id: node.id(),
            seen: (None, 0, None, None, None),
        };
        signal.subscribe(node);
        signal
    }

    /// Follows the member's current Raft instance; false if it has stopped and its
    /// replacement is not installed yet.
    fn subscribe(&mut self, node: &Node) -> bool {
        let mut metrics = node.raft().metrics();
        if metrics.has_changed().is_err() {
            self.metrics = None;
            return false;
        }
        self.id = node.id();
        self.seen = key(&metrics.borrow_and_update());
        self.metrics = Some(metrics);
        true
    }

    /// Resolves when Raft moved in a way worth a look, or its instance was replaced.
    async fn changed(&mut self, node: &Node) {
        loop {
            let Some(rx) = self.metrics.as_mut().filter(|_| self.id == node.id()) else {
                if self.subscribe(node) {
                    return;
                }
                // Installed only after the old instance stopped: the next tick, which drops
                // this wait, tries again.
                std::future::pending::<()>().await;
                return;
            };
            if rx.changed().await.is_err() {
                self.metrics = None;
                return;
            }
            let now = key(&rx.borrow_and_update());
            if now != self.seen {
                self.seen = now;
                return;
            }
        }
    }

    /// Waits for a burst of changes to end (or `SETTLE_AT_MOST`), so it yields one look.
    async fn settle(&mut self, node: &Node) {
        let _ = tokio::time::timeout(SETTLE_AT_MOST, async {
            while tokio::time::timeout(SETTLE, self.changed(node))
                .await
                .is_ok()
            {}
        })
        .await;
    }
}
