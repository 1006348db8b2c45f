//! The receiving end of the lines members keep to each other, beside HTTP on the same TLS
//! port (chosen by ALPN): the read-index line (see [`crate::peers::read_index`]) and the
//! Raft line (see [`crate::raft::line`]). Each request on a line is answered in order; only
//! members (the cluster certificate) are answered, anyone else is told why once and cut off.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::Peer;
use crate::node::Node;
use crate::peers::read_index::{Ask, Reply, read_ask};
use crate::raft::line::{Answer, Message};

/// What one line carries: how a request is read off it and answered.
trait Protocol {
    type Request;

    /// The next request; `None` when the member closed the line between requests.
    async fn read<IO: AsyncRead + Unpin>(line: &mut IO) -> std::io::Result<Option<Self::Request>>;

    /// The answer to `request`, as sent.
    async fn answer(node: &Node, request: Self::Request) -> Vec<u8>;

    /// A refusal saying `why`, as sent.
    fn refusal(why: String) -> Vec<u8>;
}

/// The read-index line: an ask (naming the asker or not), the leader's read index (or why
/// not) answers.
struct Asks;

impl Protocol for Asks {
    type Request = Ask;

    async fn read<IO: AsyncRead + Unpin>(line: &mut IO) -> std::io::Result<Option<Ask>> {
        read_ask(line).await
    }

    async fn answer(node: &Node, ask: Ask) -> Vec<u8> {
        // Bounded: a quorum round has its own deadline inside.
        match node.read_index_for_member(ask.from).await {
            Ok(index) => Reply::Index(index),
            Err(e) => Reply::Refused(e.to_string()),
        }
        .encode()
    }

    fn refusal(why: String) -> Vec<u8> {
        Reply::Refused(why).encode()
    }
}

/// The Raft line: each message handed to this member's Raft under the same rules as over
/// gRPC ([`crate::raft::inbound::deliver`]).
struct RaftMessages;

impl Protocol for RaftMessages {
    type Request = Message;

    async fn read<IO: AsyncRead + Unpin>(line: &mut IO) -> std::io::Result<Option<Message>> {
        Message::read(line).await
    }

    async fn answer(node: &Node, m: Message) -> Vec<u8> {
        match crate::raft::inbound::deliver(node, m.kind, m.target, &m.json).await {
            Ok(json) => Answer::Result(json),
            Err(refusal) => Answer::Refused(refusal.to_string()),
        }
        .encode()
    }

    fn refusal(why: String) -> Vec<u8> {
        Answer::Refused(why).encode()
    }
}

/// Which line a connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// The read-index line.
    ReadIndex,
    /// The Raft line.
    Raft,
}

impl LineKind {
    /// The line of the protocol a connection agreed on (ALPN), if it is one.
    pub fn of_alpn(alpn: &[u8]) -> Option<LineKind> {
        if crate::peers::read_index::ALPNS.contains(&alpn) {
            Some(LineKind::ReadIndex)
        } else if alpn == crate::raft::line::ALPN {
            Some(LineKind::Raft)
        } else {
            None
        }
    }
}

/// Serves the lines of a running member.
#[derive(Clone)]
pub struct LineServer {
    node: Arc<Node>,
}

impl LineServer {
    /// The server over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    /// Serves a line of `kind` until the member closes it, breaks the protocol, or `stop`
    /// (this member shuts down) or `closed` (the sender's certificate is no longer trusted)
    /// comes; a request in hand is answered first.
    pub async fn serve<IO>(
        &self,
        kind: LineKind,
        line: IO,
        peer: Peer,
        stop: watch::Receiver<bool>,
        closed: impl std::future::Future<Output = ()>,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        match kind {
            LineKind::ReadIndex => self.serve_as::<Asks, IO>(line, peer, stop, closed).await,
            LineKind::Raft => {
                self.serve_as::<RaftMessages, IO>(line, peer, stop, closed)
                    .await;
            }
        }
    }

    async fn serve_as<P: Protocol, IO>(
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
            let request = tokio::select! {
                request = P::read(&mut line) => request,
                _ = stop.wait_for(|stop| *stop) => return,
                _ = &mut closed => return,
            };
            let Ok(Some(request)) = request else { return };
            if !member {
                // Answered rather than cut: the caller learns why, then the line closes.
                let why = "only cluster members (presenting the cluster certificate) may use \
                           this line";
                let _ = line.write_all(&P::refusal(why.into())).await;
                let _ = line.shutdown().await;
                return;
            }
            let answer = P::answer(&self.node, request).await;
            if line.write_all(&answer).await.is_err() || line.flush().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_carries_a_line_only_when_it_agreed_on_its_protocol() {
        let cases: [(&[u8], Option<LineKind>); 6] = [
            (crate::peers::read_index::ALPN, Some(LineKind::ReadIndex)),
            (
                crate::peers::read_index::ALPN_NAMED,
                Some(LineKind::ReadIndex),
            ),
            (crate::raft::line::ALPN, Some(LineKind::Raft)),
            (b"h2", None),
            (b"http/1.1", None),
            (b"corral-raft2", None),
        ];
        for (alpn, want) in cases {
            assert_eq!(LineKind::of_alpn(alpn), want, "{alpn:?}");
        }
    }
}
