//! The receiving end of the Raft line (see [`crate::raft::line`]): each message on a
//! member's connection is handed to this member's Raft under the same rules as over gRPC
//! ([`super::grpc::raft::deliver`]), and its result sent back in order. Only members (the
//! cluster certificate) may send.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::Peer;
use crate::node::Node;
use crate::raft::line::{Answer, Message};

/// Answers Raft lines for a running member.
#[derive(Clone)]
pub struct RaftLineServer {
    node: Arc<Node>,
}

impl RaftLineServer {
    /// The server over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    /// Serves one line until the member closes it, breaks the protocol, or `stop` (this
    /// member shuts down) or `closed` (the sender's certificate is no longer trusted) comes.
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
            let message = tokio::select! {
                message = Message::read(&mut line) => message,
                _ = stop.wait_for(|stop| *stop) => return,
                _ = &mut closed => return,
            };
            let Ok(Some(message)) = message else { return };
            let answer = if member {
                match super::grpc::raft::deliver(
                    &self.node,
                    message.kind,
                    message.target,
                    &message.json,
                )
                .await
                {
                    Ok(json) => Answer::Result(json),
                    Err(refusal) => Answer::Refused(refusal.to_string()),
                }
            } else {
                Answer::Refused(
                    "only cluster members (presenting the cluster certificate) may send Raft \
                     messages"
                        .into(),
                )
            };
            if line.write_all(&answer.encode()).await.is_err() || line.flush().await.is_err() {
                return;
            }
            if !member {
                let _ = line.shutdown().await;
                return;
            }
        }
    }
}
