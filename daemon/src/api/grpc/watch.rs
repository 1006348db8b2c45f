//! The Operator service: `Watch` streams a snapshot of the cluster, then what changes.
//!
//! Every stream reads the member's one shared feed (`events::hub`): a single task looks at
//! the cluster when the event bus says entries were applied, when Raft's leadership moves,
//! or each second, and broadcasts the diff, encoded once; a stream only forwards it. A
//! stream that falls behind is sent a fresh snapshot instead of the changes it missed.

use std::sync::Arc;

use corral_proto::v1::{VotersReply, VotersRequest, WatchMessage, WatchRequest};
use corral_shared::api::WatchEvent;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::api::Peer;
use crate::db::global::queries;
use crate::events;
use crate::events::hub::{Encoded, Hub, Subscription};
use crate::node::Node;

/// Messages that may wait for a slow client; beyond that the stream falls behind the feed
/// and catches up with a fresh snapshot.
const BUFFER: usize = 64;

/// Serves `corral.v1.Operator`.
pub struct OperatorService {
    node: Arc<Node>,
    hub: Arc<Hub>,
}

impl OperatorService {
    /// The service over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self {
            node,
            hub: Arc::default(),
        }
    }
}

/// Lets in the local unix socket, members, and clients whose certificate is trusted.
async fn authorize<T>(node: &Node, req: &Request<T>) -> Result<(), Status> {
    let peer = req.extensions().get::<Peer>();
    if peer.is_some_and(|p| p.local) {
        return Ok(());
    }
    if let Some(fp) = peer.and_then(|p| p.fingerprint.clone()) {
        let member = crate::peers::is_member_certificate(node, &fp);
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
        let Subscription { snapshot, changes } = self
            .hub
            .subscribe(&self.node)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let (tx, rx) = mpsc::channel(BUFFER);
        tx.send(Ok(message(&WatchEvent::Snapshot(snapshot))?))
            .await
            .map_err(|_| Status::cancelled("the client went away"))?;
        let stream = forward(self.node.clone(), self.hub.clone(), changes, tx);
        self.node.tasks.spawn("watch stream", stream);
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

/// Sends the feed's changes until the client goes away or the daemon stops.
async fn forward(
    node: Arc<Node>,
    hub: Arc<Hub>,
    mut changes: broadcast::Receiver<Encoded>,
    tx: mpsc::Sender<Result<WatchMessage, Status>>,
) {
    let shutdown = node.shutdown_requested();
    tokio::pin!(shutdown);
    loop {
        let next = tokio::select! {
            () = &mut shutdown => return,
            () = tx.closed() => return,
            next = changes.recv() => next,
        };
        let json = match next {
            Ok(encoded) => encoded.as_ref().clone(),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Too far behind for the changes to be replayed: start again from now.
                let Ok(again) = hub.subscribe(&node).await else {
                    return;
                };
                changes = again.changes;
                let Ok(m) = message(&WatchEvent::Snapshot(again.snapshot)) else {
                    return;
                };
                m.json
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if tx.send(Ok(WatchMessage { json })).await.is_err() {
            return;
        }
    }
}
