//! Raft RPCs to other members, on the members' one TLS port: on the Raft line (see
//! [`super::line`]), or over gRPC to a member that does not offer it. openraft's own request
//! and response types travel as JSON either way.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use corral_proto::v1::RaftPayload;
use corral_proto::v1::raft_client::RaftClient;
use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::heartbeat;
use super::line::{Answer, Kind, LineError, Lines, Message};
use super::{NodeId, TypeConfig};
use crate::peers::Dialer;
use crate::peers::dial::LineDial;
use crate::peers::tls::ClientTls;

/// Connections to peers, authenticated with the cluster certificate: the member's one
/// [`Dialer`], whose multiplexed HTTP/2 channel per address Raft shares with every other
/// member call. openraft asks for a new client for every leadership check; dialling each
/// time cost a TLS handshake per peer per decision.
#[derive(Clone)]
pub struct Network {
    dialer: Dialer,
    learners: Arc<std::sync::RwLock<BTreeSet<NodeId>>>,
    /// Idle Raft lines by peer address, shared by every client openraft makes.
    lines: Arc<Lines<TlsStream<TcpStream>>>,
    /// When each peer last answered a Raft RPC: the leader's view of who is reachable.
    answered: Arc<std::sync::Mutex<HashMap<NodeId, std::time::Instant>>>,
}

impl Network {
    /// When `id` last answered a Raft RPC from this member (only a leader sends them often).
    pub fn last_answer(&self, id: NodeId) -> Option<std::time::Instant> {
        let answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        answered.get(&id).copied()
    }

    /// A network whose TLS settings are filled in once the member is clustered.
    pub fn new() -> Self {
        Self {
            dialer: Dialer::new(),
            learners: Arc::new(std::sync::RwLock::new(BTreeSet::new())),
            lines: Arc::default(),
            answered: Arc::new(std::sync::Mutex::new(HashMap::new())),
        }
    }

    /// Records which members are Raft learners (stand-bys and spares): their idle
    /// heartbeats may be spaced out (see [`heartbeat::Spacing`]).
    pub fn set_learners(&self, learners: BTreeSet<NodeId>) {
        *self.learners.write().unwrap_or_else(|p| p.into_inner()) = learners;
    }

    fn is_learner(&self, id: NodeId) -> bool {
        self.learners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }

    /// Sets the client configurations members call each other with (dropping old channels).
    pub fn set_tls(&self, tls: ClientTls) {
        self.dialer.set_tls(tls);
        self.lines.clear();
    }

    /// The member's way of dialling its peers, shared with every other member call.
    pub fn dialer(&self) -> &Dialer {
        &self.dialer
    }

    /// The shared channel to `address`, if this member is clustered. It connects lazily and
    /// reconnects by itself after a failure.
    pub fn channel(&self, address: &str) -> Option<Channel> {
        self.dialer.channel(address)
    }
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

/// The connection to one peer.
pub struct PeerConnection {
    target: NodeId,
    address: String,
    network: Network,
    client: Option<RaftClient<Channel>>,
    spacing: heartbeat::Spacing,
    /// Whether each call names its target, for a peer outside the Raft membership (a spare):
    /// only a member that has that id takes it.
    names_target: bool,
}

/// The gRPC metadata key naming the Raft id a message is meant for.
pub const TARGET_KEY: &str = "corral-raft-target";

impl Network {
    /// A connection to spare `target` at `address`, outside the Raft membership: each call
    /// names its target, so a server at that address with another id (a member still on its
    /// way in, or a stranger) refuses it.
    pub fn spare_connection(&self, target: NodeId, address: &str) -> PeerConnection {
        PeerConnection {
            target,
            address: address.to_owned(),
            network: self.clone(),
            client: self.channel(address).map(RaftClient::new),
            spacing: heartbeat::Spacing::default(),
            names_target: true,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        let client = self.channel(&node.addr).map(RaftClient::new);
        PeerConnection {
            target,
            address: node.addr.clone(),
            network: self.clone(),
            client,
            spacing: heartbeat::Spacing::default(),
            names_target: false,
        }
    }
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, E>>;

/// Dials the Raft line to `address` with the member's current certificate.
async fn dial_line(network: &Network, address: &str) -> Result<TlsStream<TcpStream>, LineError> {
    let tls = network.dialer.tls().ok_or_else(|| {
        LineError::Unreachable("this member has no cluster certificate yet".into())
    })?;
    match crate::peers::dial::dial_line(address, tls.raft, &[super::line::ALPN]).await {
        Ok(stream) => Ok(stream),
        Err(LineDial::NotOffered) => Err(LineError::NotOffered),
        Err(LineDial::Failed(e)) => Err(LineError::Unreachable(e.to_string())),
    }
}

impl PeerConnection {
    async fn call<Req, Resp, E>(
        &mut self,
        kind: Kind,
        request: &Req,
        ttl: Duration,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let json =
            serde_json::to_vec(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let message = Message {
            kind,
            target: self.names_target.then_some(self.target),
            json,
        };
        let kind = kind.word();
        let unreachable =
            |why: String| RPCError::Unreachable(Unreachable::new(&std::io::Error::other(why)));
        // Only a peer that cannot be reached makes openraft back off (500 ms); a slow answer
        // or a refused request is a plain network error, retried on the next heartbeat.
        let failed =
            |why: String| RPCError::Network(NetworkError::new(&std::io::Error::other(why)));
        let to = format!("{kind} to member {} at {}", self.target, self.address);
        if !self.network.lines.not_offered(&self.address) {
            let (network, address) = (&self.network, &self.address);
            let dial = || dial_line(network, address);
            let exchanged = network
                .lines
                .lend(address)
                .exchange(&message, ttl, dial)
                .await;
            match exchanged {
                Ok(Answer::Result(json)) => return self.outcome(&json),
                Ok(Answer::Refused(why)) => return Err(failed(format!("{to}: {why}"))),
                Err(LineError::Unreachable(why)) => {
                    return Err(unreachable(format!("{to}: {why}")));
                }
                Err(LineError::Failed(why)) => {
                    return Err(failed(format!("{to}: {why} (within {ttl:?})")));
                }
                Err(LineError::NotOffered) => network.lines.mark_not_offered(address),
            }
        }
        // openraft keeps this connection: if the cluster certificate arrived after it was
        // made, dial now rather than stay unreachable for ever.
        if self.client.is_none() {
            self.client = self.network.channel(&self.address).map(RaftClient::new);
        }
        let Some(client) = self.client.as_mut() else {
            return Err(unreachable(format!(
                "member {} at {} cannot be dialled: this member has no cluster certificate yet",
                self.target, self.address
            )));
        };
        let mut payload = tonic::Request::new(RaftPayload { json: message.json });
        if let Some(target) = message.target {
            payload.metadata_mut().insert(
                TARGET_KEY,
                target.to_string().parse().expect("digits are ASCII"),
            );
        }
        let call = async {
            match message.kind {
                Kind::Append => client.append_entries(payload).await,
                Kind::Vote => client.vote(payload).await,
                Kind::Snapshot => client.install_snapshot(payload).await,
            }
        };
        let reply = tokio::time::timeout(ttl, call)
            .await
            .map_err(|_| failed(format!("{to} timed out after {ttl:?}")))?
            .map_err(|status| {
                let why = format!("{to}: {}", status.message());
                if status.code() == tonic::Code::Unavailable {
                    unreachable(why)
                } else {
                    failed(why)
                }
            })?;
        self.outcome(&reply.into_inner().json)
    }

    /// openraft's result as the peer sent it (JSON), noting that the peer answered.
    // The error is openraft's own, what its network trait returns.
    #[allow(clippy::result_large_err)]
    fn outcome<Resp, E>(&self, json: &[u8]) -> RpcResult<Resp, E>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        self.network
            .answered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.target, std::time::Instant::now());
        let result: Result<Resp, E> =
            serde_json::from_slice(json).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(openraft::error::RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        let now = std::time::Instant::now();
        let learner = self.network.is_learner(self.target);
        if self.spacing.may_skip(learner, &rpc, now) {
            return Ok(AppendEntriesResponse::Success);
        }
        let sent = heartbeat::Sent::of(&rpc, now);
        let answer = self.call(Kind::Append, &rpc, option.hard_ttl()).await;
        self.spacing.answered(sent, &answer);
        answer
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        self.call(Kind::Snapshot, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, RaftError<NodeId>> {
        self.call(Kind::Vote, &rpc, option.hard_ttl()).await
    }
}
