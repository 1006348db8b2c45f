//! Raft messages from other members, whatever carried them (gRPC or the Raft line): the
//! rules a message must meet before it reaches this member's Raft, and handing it over.

use openraft::Vote;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::line::Kind;
use super::{NodeId, TypeConfig};
use crate::node::Node;

/// Why a Raft message was not handed to Raft.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// It names another Raft id than this member's.
    #[error("{0}")]
    Misaddressed(String),
    /// It does not decode, or breaks a rule no leader breaks.
    #[error("{0}")]
    Malformed(String),
    /// Raft's answer could not be encoded.
    #[error("{0}")]
    Unencodable(String),
}

/// Hands one Raft message (openraft's request as JSON), from a member, to this member's
/// Raft and returns its result as JSON: the rules both transports (gRPC and the Raft line)
/// apply.
pub async fn deliver(
    node: &Node,
    kind: Kind,
    target: Option<NodeId>,
    json: &[u8],
) -> Result<Vec<u8>, Refusal> {
    addressed_here(node.id(), target)?;
    let raft = node.raft();
    match kind {
        Kind::Append => {
            let rpc: AppendEntriesRequest<TypeConfig> = decode(json)?;
            from_leader(&rpc.vote)?;
            encode(&raft.append_entries(rpc).await)
        }
        Kind::Vote => encode(&raft.vote(decode(json)?).await),
        Kind::Snapshot => {
            let rpc: InstallSnapshotRequest<TypeConfig> = decode(json)?;
            from_leader(&rpc.vote)?;
            encode(&raft.install_snapshot(rpc).await)
        }
    }
}

fn decode<T: DeserializeOwned>(json: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(json)
        .map_err(|e| Refusal::Malformed(format!("malformed Raft message: {e}")))
}

/// Refuses a message naming another Raft id than this member's (see
/// [`super::network::TARGET_KEY`]): a spare's address may answer before the member
/// there has joined, or after another took it over.
fn addressed_here(own: NodeId, named: Option<NodeId>) -> Result<(), Refusal> {
    match named {
        Some(id) if id != own => Err(Refusal::Misaddressed(format!(
            "this member is Raft member {own}, not the one this message was sent to ({id})"
        ))),
        _ => Ok(()),
    }
}

/// Refuses a leader's message (entries, snapshot) whose vote is not committed: no leader
/// sends one, and openraft's core stops on it (a consistency check), taking the member's
/// database down with it.
fn from_leader(vote: &Vote<NodeId>) -> Result<(), Refusal> {
    if vote.is_committed() {
        Ok(())
    } else {
        Err(Refusal::Malformed(format!(
            "malformed Raft message: a leader's message must carry a committed vote, not {vote}"
        )))
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Refusal> {
    serde_json::to_vec(value)
        .map_err(|e| Refusal::Unencodable(format!("cannot encode Raft reply: {e}")))
}
