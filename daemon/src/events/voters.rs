//! Which voters are up, in Raft's own view. The leader hears from every voter each
//! heartbeat (tens of milliseconds), so it knows within a second who stopped answering;
//! another member asks the leader, and a leader that does not answer is news by itself.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use corral_shared::api::{RaftRole, RaftState};
use openraft::{BasicNode, RaftMetrics, ServerState};
use serde::{Deserialize, Serialize};

use crate::node::Node;
use crate::peers::{PeerError, Peers};
use crate::raft::NodeId;

/// A voter that answered the leader within this long counts as reachable.
pub const REACH: Duration = Duration::from_secs(1);
/// How long a member waits for the leader's view before calling the leader unreachable.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);

/// What a member answers when asked for its voters' reachability.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderView {
    /// Whether the answering member leads (only then is `reachable` filled).
    pub leader: bool,
    /// Its term.
    pub term: u64,
    /// Each voter by id, and whether it answered within [`REACH`].
    pub reachable: BTreeMap<NodeId, bool>,
}

/// openraft's server state as watchers see it.
pub fn role(state: ServerState) -> RaftRole {
    match state {
        ServerState::Leader => RaftRole::Leader,
        ServerState::Follower => RaftRole::Follower,
        ServerState::Candidate => RaftRole::Candidate,
        ServerState::Learner => RaftRole::Learner,
        ServerState::Shutdown => RaftRole::Unknown,
    }
}

/// Which voters count as reachable: `me`, and each other voter whose last answer (`age`:
/// how long ago, None if never) is within `window`.
pub fn reachable(
    voters: impl IntoIterator<Item = NodeId>,
    me: NodeId,
    window: Duration,
    age: impl Fn(NodeId) -> Option<Duration>,
) -> BTreeMap<NodeId, bool> {
    voters
        .into_iter()
        .map(|id| (id, id == me || age(id).is_some_and(|a| a <= window)))
        .collect()
}

/// This member's view of its voters; empty unless it leads.
pub fn local_view(node: &Node, metrics: &RaftMetrics<NodeId, BasicNode>) -> LeaderView {
    if metrics.state != ServerState::Leader {
        return LeaderView {
            leader: false,
            term: metrics.current_term,
            reachable: BTreeMap::new(),
        };
    }
    let now = Instant::now();
    let voters = metrics.membership_config.membership().voter_ids();
    LeaderView {
        leader: true,
        term: metrics.current_term,
        reachable: reachable(voters, metrics.id, REACH, |id| {
            node.network
                .last_answer(id)
                .map(|t| now.saturating_duration_since(t))
        }),
    }
}

/// Fills in `state`'s role, the voters' reachability (from this member if it leads, else
/// from the leader) and whether the leader could not be asked.
pub async fn fill(
    node: &Node,
    metrics: &RaftMetrics<NodeId, BasicNode>,
    names: &BTreeMap<NodeId, String>,
    state: &mut RaftState,
) {
    state.role = role(metrics.state);
    let view = match metrics.current_leader {
        // An election in progress: nobody to ask, and `leader` already says so.
        None => return,
        Some(id) if id == metrics.id => local_view(node, metrics),
        Some(id) => match ask(node, metrics, id).await {
            Ok(view) => view,
            Err(why) => {
                tracing::debug!("watch: the leader's view of its voters: {why}");
                state.leader_unreachable = true;
                return;
            }
        },
    };
    if view.leader {
        state.voters_reachable = named(&view.reachable, names);
    }
}

/// Ids replaced by member names (an id without a row yet stays a number).
pub fn named(
    reachable: &BTreeMap<NodeId, bool>,
    names: &BTreeMap<NodeId, String>,
) -> BTreeMap<String, bool> {
    reachable
        .iter()
        .map(|(id, up)| {
            (
                names.get(id).cloned().unwrap_or_else(|| id.to_string()),
                *up,
            )
        })
        .collect()
}

/// Asks `leader` for its view over the members' shared channel.
async fn ask(
    node: &Node,
    metrics: &RaftMetrics<NodeId, BasicNode>,
    leader: NodeId,
) -> Result<LeaderView, String> {
    let address = metrics
        .membership_config
        .membership()
        .get_node(&leader)
        .map(|n| n.addr.clone())
        .ok_or_else(|| format!("leader {leader} has no address in the membership"))?;
    let json = Peers::of(node)
        .map_err(|_| "this member has no cluster certificate yet".to_owned())?
        .member(&address)
        .within(ASK_TIMEOUT)
        .voters()
        .await
        .map_err(|e| match e {
            PeerError::Rpc { message, .. } => format!("leader {leader} at {address}: {message}"),
            _ => format!("leader {leader} at {address} did not answer within {ASK_TIMEOUT:?}"),
        })?;
    serde_json::from_slice(&json).map_err(|e| {
        format!("leader {leader} at {address} sent a view this member cannot read: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voter_is_reachable_when_it_answered_within_the_window() {
        let window = Duration::from_secs(1);
        let cases: [(&str, Option<Duration>, bool); 4] = [
            ("never answered", None, false),
            ("answered just now", Some(Duration::from_millis(30)), true),
            ("answered at the edge", Some(window), true),
            ("silent too long", Some(Duration::from_millis(1200)), false),
        ];
        for (what, age, want) in cases {
            let got = reachable([1, 2], 1, window, |id| if id == 2 { age } else { None });
            assert_eq!(got, BTreeMap::from([(1, true), (2, want)]), "{what}");
        }
    }

    #[test]
    fn roles_follow_openrafts_states() {
        for (state, want) in [
            (ServerState::Leader, RaftRole::Leader),
            (ServerState::Follower, RaftRole::Follower),
            (ServerState::Candidate, RaftRole::Candidate),
            (ServerState::Learner, RaftRole::Learner),
            (ServerState::Shutdown, RaftRole::Unknown),
        ] {
            assert_eq!(role(state), want, "{state:?}");
        }
    }

    #[test]
    fn ids_become_names_where_known() {
        let names = BTreeMap::from([(1, "node1".to_owned())]);
        assert_eq!(
            named(&BTreeMap::from([(1, true), (7, false)]), &names),
            BTreeMap::from([("7".to_owned(), false), ("node1".to_owned(), true)])
        );
    }
}
