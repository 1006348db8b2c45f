//! The calls members make to each other, one typed method each: the path, the method and
//! how long the remote work may take live here, not at call sites.

use std::time::Duration;

use corral_proto::v1::leader_client::LeaderClient;
use corral_proto::v1::member_client::MemberClient;
use corral_proto::v1::operator_client::OperatorClient;
use corral_proto::v1::{
    HeartbeatReply, HeartbeatRequest, ProposeReply, ProposeRequest, ReadIndexRequest, VotersRequest,
};
use corral_shared::api::{CertificatesPost, Envelope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;

use super::dial::Dialer;
use super::error::PeerError;
use super::read_index::LineError;
use super::rest::{RawAnswer, Rest};

/// Getting trusted, being accepted: a joiner's calls to a member.
const JOIN: Duration = Duration::from_secs(10);
/// The leader bringing an accepted joiner into the database.
const FINISH: Duration = Duration::from_secs(45);
/// The leader removing a member (Raft membership, rows, rebalancing, telling it to leave).
const REMOVE: Duration = Duration::from_secs(60);
/// A member answering at all, before a removal without `--force`.
const READY: Duration = Duration::from_secs(3);
/// A removed member resetting itself.
const LEAVE: Duration = Duration::from_secs(30);
/// A stopping member's handover (the whole of it, as `corrald shutdown` waits).
const HANDOVER: Duration = Duration::from_secs(15);
/// The leader applying the role rule.
const REBALANCE: Duration = Duration::from_secs(60);
/// A member's live state.
const STATE: Duration = Duration::from_secs(2);
/// Where a member's log ends (the doctor must answer fast when members are gone).
const LOG_POSITION: Duration = Duration::from_secs(1);
/// A request relayed for a client to the member it targets (`?target=`).
const RELAY: Duration = Duration::from_secs(60);
/// A member taking one step of a cluster certificate update (writing files, reloading).
const CERTIFICATE: Duration = Duration::from_secs(10);
/// The leader confirming a read index; a heartbeat's answer.
const BRIEF: Duration = Duration::from_secs(2);
/// A whole file streamed from a member (an image); each chunk has its own idle bound.
const DOWNLOAD: Duration = Duration::from_secs(600);
/// A member fetching an image from a holder and recording it.
const IMAGE_PULL: Duration = Duration::from_secs(620);
/// The leader copying an image to every member that should hold one, one after another.
const IMAGE_REPLICATE: Duration = Duration::from_secs(1800);

/// A member creating or removing its part of a storage pool or a volume's directory.
const STORAGE: Duration = Duration::from_secs(20);
/// A member making or removing its bridge for a network.
const NETWORK: Duration = Duration::from_secs(15);

/// Another member (or the leader), to be called.
#[derive(Clone)]
pub struct Member {
    address: String,
    dialer: Dialer,
    within: Option<Duration>,
}

impl Member {
    pub(super) fn new(address: &str, dialer: Dialer) -> Self {
        Self {
            address: address.to_owned(),
            dialer,
            within: None,
        }
    }

    /// The member's address (`host:port`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The same member, with every call bounded by `wait` instead of the call's own bound.
    pub fn within(mut self, wait: Duration) -> Self {
        self.within = Some(wait);
        self
    }

    async fn rest(
        &self,
        bound: Duration,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Envelope, PeerError> {
        let tls = self.dialer.tls().ok_or_else(|| self.no_certificate())?;
        Rest::new(tls.http1, self.within.unwrap_or(bound))
            .call(&self.address, method, path, body.as_ref())
            .await
    }

    fn decode<R: DeserializeOwned>(
        &self,
        envelope: Envelope,
        what: &'static str,
    ) -> Result<R, PeerError> {
        serde_json::from_value(envelope.metadata).map_err(|e| PeerError::Unexpected {
            address: self.address.clone(),
            what,
            reason: e.to_string(),
        })
    }

    fn channel(&self) -> Result<Channel, PeerError> {
        self.dialer
            .channel(&self.address)
            .ok_or_else(|| self.no_certificate())
    }

    fn no_certificate(&self) -> PeerError {
        PeerError::Unreachable {
            address: self.address.clone(),
            reason: "this member has no cluster certificate to call it with".into(),
        }
    }

    /// Bounds a gRPC call, naming the member when it does not answer in time.
    async fn bounded<T>(
        &self,
        bound: Duration,
        call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, PeerError> {
        let wait = self.within.unwrap_or(bound);
        match tokio::time::timeout(wait, call).await {
            Err(_) => Err(PeerError::Unreachable {
                address: self.address.clone(),
                reason: format!("no answer within {wait:?}"),
            }),
            Ok(answer) => self.answered(answer),
        }
    }

    fn answered<T>(
        &self,
        answer: Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, PeerError> {
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| PeerError::Rpc {
                address: self.address.clone(),
                message: status.message().to_owned(),
            })
    }

    /// Relays a client's request (`?target=` this member) and returns the answer as sent.
    pub async fn relay(
        &self,
        method: &str,
        path_and_query: &str,
        body: hyper::body::Bytes,
    ) -> Result<RawAnswer, PeerError> {
        let tls = self.dialer.tls().ok_or_else(|| self.no_certificate())?;
        Rest::new(tls.http1, self.within.unwrap_or(RELAY))
            .relay(&self.address, method, path_and_query, body)
            .await
    }

    /// Has this server's certificate trusted, with a token or the trust password
    /// (`POST /1.0/certificates`).
    pub async fn trust(&self, post: &CertificatesPost) -> Result<(), PeerError> {
        let body = serde_json::to_value(post).ok();
        self.rest(JOIN, "POST", "/1.0/certificates", body)
            .await
            .map(drop)
    }

    /// Asks to be accepted as a member (any member; the call is redirected to the leader).
    pub async fn accept<R: DeserializeOwned>(
        &self,
        request: &impl Serialize,
    ) -> Result<R, PeerError> {
        let body = serde_json::to_value(request).ok();
        let envelope = self
            .rest(JOIN, "POST", "/internal/cluster/accept", body)
            .await?;
        self.decode(envelope, "an accept reply")
    }

    /// Has the member take one step of a cluster certificate update (see
    /// `cluster::certificate`): trust a new certificate, switch to one, or forget one.
    pub async fn certificate_step(&self, step: &impl Serialize) -> Result<(), PeerError> {
        let body = serde_json::to_value(step).ok();
        self.rest(CERTIFICATE, "PUT", "/internal/cluster/certificate", body)
            .await
            .map(drop)
    }

    /// Has the leader record that member `id` is now reached at `address`.
    pub async fn set_member_address(&self, id: u64, address: &str) -> Result<(), PeerError> {
        let body = Some(serde_json::json!({ "id": id, "address": address }));
        self.rest(REBALANCE, "PUT", "/internal/cluster/address", body)
            .await
            .map(drop)
    }

    /// Asks for the accepted member `id`, now running an empty database, to be brought in.
    pub async fn finish(&self, id: u64) -> Result<(), PeerError> {
        let body = Some(serde_json::json!({ "id": id }));
        self.rest(FINISH, "POST", "/internal/cluster/finish", body)
            .await
            .map(drop)
    }

    /// Removes member `name` from the cluster (`DELETE /1.0/cluster/members/NAME`).
    pub async fn remove_member(&self, name: &str, force: bool) -> Result<(), PeerError> {
        let path = format!("/1.0/cluster/members/{name}?force={}", u8::from(force));
        self.rest(REMOVE, "DELETE", &path, None).await.map(drop)
    }

    /// Takes the Raft node at `address` out of the membership (`corrald cluster
    /// remove-raft-node`).
    pub async fn remove_raft_node(&self, address: &str) -> Result<(), PeerError> {
        let path = format!("/internal/cluster/raft-node/{address}");
        self.rest(REMOVE, "DELETE", &path, None).await.map(drop)
    }

    /// Whether the member is ready; any answer proves it is there.
    pub async fn ready(&self) -> Result<(), PeerError> {
        self.rest(READY, "GET", "/internal/ready", None)
            .await
            .map(drop)
    }

    /// Tells a removed member to become a standalone server again.
    pub async fn leave(&self) -> Result<(), PeerError> {
        self.rest(LEAVE, "PUT", "/internal/cluster/leave", None)
            .await
            .map(drop)
    }

    /// Asks the leader to move the role of member `id`, which is stopping, elsewhere.
    pub async fn hand_over(&self, id: u64) -> Result<(), PeerError> {
        let body = Some(serde_json::json!({ "id": id }));
        self.rest(HANDOVER, "POST", "/internal/cluster/handover", body)
            .await
            .map(drop)
    }

    /// Asks a voter to stand for election.
    pub async fn elect(&self) -> Result<(), PeerError> {
        self.rest(HANDOVER, "POST", "/internal/cluster/elect", None)
            .await
            .map(drop)
    }

    /// Asks the leader to apply the role rule now.
    pub async fn rebalance(&self) -> Result<(), PeerError> {
        self.rest(REBALANCE, "POST", "/internal/cluster/rebalance", None)
            .await
            .map(drop)
    }

    /// The live state of member `name`, which is this one.
    pub async fn state<R: DeserializeOwned>(&self, name: &str) -> Result<R, PeerError> {
        let path = format!("/1.0/cluster/members/{name}/state");
        let envelope = self.rest(STATE, "GET", &path, None).await?;
        self.decode(envelope, "a member state")
    }

    /// Where the member's log ends, for the doctor.
    pub async fn log_position<R: DeserializeOwned>(&self) -> Result<R, PeerError> {
        let envelope = self
            .rest(LOG_POSITION, "GET", LOG_POSITION_PATH, None)
            .await?;
        self.decode(envelope, "its log position")
    }

    /// Streams the file at `path` (e.g. an image's) into `sink` as it arrives; the number
    /// of bytes received.
    pub async fn download(
        &self,
        path: &str,
        sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, PeerError> {
        let tls = self.dialer.tls().ok_or_else(|| self.no_certificate())?;
        let bound = self.within.unwrap_or(DOWNLOAD);
        super::stream::download(tls.http1, &self.address, path, bound, sink).await
    }

    /// Asks the member to fetch image `fingerprint` from a holder and record that it holds it.
    pub async fn pull_image(&self, fingerprint: &str) -> Result<(), PeerError> {
        let path = format!("/internal/images/{fingerprint}/pull");
        self.rest(IMAGE_PULL, "POST", &path, None).await.map(drop)
    }

    /// Asks the leader to bring image `fingerprint` up to its number of copies, waiting
    /// for them.
    pub async fn replicate_image(&self, fingerprint: &str) -> Result<(), PeerError> {
        let path = format!("/internal/images/{fingerprint}/replicate");
        self.rest(IMAGE_REPLICATE, "POST", &path, None)
            .await
            .map(drop)
    }

    /// Asks the member to remove its copy of image `fingerprint`'s file (the image was deleted).
    pub async fn drop_image(&self, fingerprint: &str) -> Result<(), PeerError> {
        let path = format!("/internal/images/{fingerprint}/file");
        self.rest(STATE, "DELETE", &path, None).await.map(drop)
    }

    /// Has the member create its part of storage pool `pool` (its directory) and mark it
    /// Created: its step of a cluster-wide create.
    pub async fn create_pool_here(&self, pool: &str) -> Result<(), PeerError> {
        let path = format!("/internal/storage-pools/{pool}/here");
        self.rest(STORAGE, "POST", &path, None).await.map(drop)
    }

    /// Has the member remove its part of storage pool `pool` (its directory).
    pub async fn delete_pool_here(&self, pool: &str) -> Result<(), PeerError> {
        let path = format!("/internal/storage-pools/{pool}/here");
        self.rest(STORAGE, "DELETE", &path, None).await.map(drop)
    }

    /// Has the member make a custom volume of pool `pool` on itself.
    pub async fn create_volume_here(
        &self,
        pool: &str,
        post: &impl Serialize,
    ) -> Result<(), PeerError> {
        let path = format!("/internal/storage-pools/{pool}/volumes");
        let body = serde_json::to_value(post).ok();
        self.rest(STORAGE, "POST", &path, body).await.map(drop)
    }

    /// Has the member delete its custom volume `name` of pool `pool`.
    pub async fn delete_volume_here(&self, pool: &str, name: &str) -> Result<(), PeerError> {
        let path = format!("/internal/storage-pools/{pool}/volumes/{name}");
        self.rest(STORAGE, "DELETE", &path, None).await.map(drop)
    }

    /// Has the member rename its custom volume `name` of pool `pool` to `to`.
    pub async fn rename_volume_here(
        &self,
        pool: &str,
        name: &str,
        to: &str,
    ) -> Result<(), PeerError> {
        let path = format!("/internal/storage-pools/{pool}/volumes/{name}");
        let body = Some(serde_json::json!({ "name": to }));
        self.rest(STORAGE, "POST", &path, body).await.map(drop)
    }

    /// Has the member make (or bring up to date) its bridge for network `name` and mark its
    /// part Created: its step of a cluster-wide create or of an update.
    pub async fn apply_network_here(&self, name: &str) -> Result<(), PeerError> {
        let path = format!("/internal/networks/{name}/apply");
        self.rest(NETWORK, "POST", &path, None).await.map(drop)
    }

    /// Has the member remove its bridge for network `name` (a delete, or it leaving).
    pub async fn remove_network_here(&self, name: &str) -> Result<(), PeerError> {
        let path = format!("/internal/networks/{name}/remove");
        self.rest(NETWORK, "POST", &path, None).await.map(drop)
    }

    /// The leader's read index: the applied index a read must wait for to be current, asked
    /// by member `asker` (this one). Asked on the read-index line; over gRPC only of a leader
    /// that does not offer the line.
    pub async fn read_index(&self, asker: u64) -> Result<u64, PeerError> {
        let tls = self.dialer.tls().ok_or_else(|| self.no_certificate())?;
        let wait = self.within.unwrap_or(BRIEF);
        let line = self.dialer.read_index_line();
        match line.ask(&self.address, tls.read_index, wait, asker).await {
            Ok(index) => return Ok(index),
            Err(LineError::Refused(message)) => {
                return Err(PeerError::Rpc {
                    address: self.address.clone(),
                    message,
                });
            }
            Err(LineError::Unreachable { address, reason }) => {
                return Err(PeerError::Unreachable { address, reason });
            }
            Err(LineError::NotOffered(_)) => {}
        }
        let mut client = LeaderClient::new(self.channel()?);
        let reply = self
            .bounded(BRIEF, client.read_index(ReadIndexRequest { asker }))
            .await?;
        Ok(reply.index)
    }

    /// Hands a write (a batch, JSON) to the leader to propose; unbounded: the caller's
    /// write deadline bounds it.
    pub async fn propose(&self, batch_json: Vec<u8>) -> Result<ProposeReply, PeerError> {
        let mut client = LeaderClient::new(self.channel()?);
        let answer = client.propose(ProposeRequest { batch_json }).await;
        self.answered(answer)
    }

    /// The leader's view of the voters (JSON), for the dashboard's Raft view.
    pub async fn voters(&self) -> Result<Vec<u8>, PeerError> {
        let mut client = OperatorClient::new(self.channel()?);
        let reply = self.bounded(BRIEF, client.voters(VotersRequest {})).await?;
        Ok(reply.json)
    }

    /// One heartbeat: the leader's time and member list, answered with the member's time.
    pub async fn heartbeat(&self, request: HeartbeatRequest) -> Result<HeartbeatReply, PeerError> {
        let mut client = MemberClient::new(self.channel()?);
        self.bounded(BRIEF, client.heartbeat(request)).await
    }
}

/// The path members answer the doctor's log probe on.
pub const LOG_POSITION_PATH: &str = "/internal/doctor/log";
