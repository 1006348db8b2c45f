//! The leader's end of the read-index line (see [`crate::peers::read_index`]): each ask on
//! a member's connection is answered with this member's read index as leader, or why it
//! cannot give one. Only members (the cluster certificate) may ask.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::Peer;
use crate::node::Node;
use crate::peers::read_index::{Reply, read_ask};

/// Answers read-index lines for a running member.
#[derive(Clone)]
pub struct LineServer {
    node: Arc<Node>,
}

impl LineServer {
    /// The server over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    /// Serves one line until the member closes it, breaks the protocol, or `stop` (the
    /// member shuts down) or `closed` (its certificate is no longer trusted) comes; an ask
    /// in hand is answered first.
    pub async fn serve<IO>(
        &self,
        mut line: IO,
        peer: Peer,
        mut stop: watch::Receiver<bool>,
        closed: impl std::future::Future<Output = ()>,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let member = peer
            .fingerprint
            .as_deref()
            .is_some_and(|f| crate::peers::is_member_certificate(&self.node, f));
        tokio::pin!(closed);
        loop {
            let asked = tokio::select! {
                asked = read_ask(&mut line) => asked,
                _ = stop.wait_for(|stop| *stop) => return,
                _ = &mut closed => return,
            };
            if !matches!(asked, Ok(true)) {
                return;
            }
            if !member {
                // Answered rather than cut: the member learns why, then the line closes.
                let refusal = Reply::Refused(
                    "only cluster members (presenting the cluster certificate) may ask for \
                     the read index"
                        .into(),
                );
                let _ = line.write_all(&refusal.encode()).await;
                let _ = line.shutdown().await;
                return;
            }
            // Bounded: a quorum round has its own deadline inside.
            let reply = match self.node.read_index_as_leader().await {
                Ok(index) => Reply::Index(index),
                Err(e) => Reply::Refused(e.to_string()),
            };
            if line.write_all(&reply.encode()).await.is_err() || line.flush().await.is_err() {
                return;
            }
        }
    }
}
