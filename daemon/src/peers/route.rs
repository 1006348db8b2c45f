//! Where a request runs when only one member may serve it: the leader (changing the Raft
//! membership), or a named member (its live state; next, its instances). The decision is
//! [`decide`]; [`on_owner`] runs the request here or relays it to its owner.

use std::future::Future;

use super::{Member, PeerError, Peers};
use crate::error::{Error, Result};
use crate::node::Node;

/// Who may serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// The Raft leader.
    Leader,
    /// The member at this address (`host:port`).
    Member(&'a str),
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// This member serves it.
    Here,
    /// The member at this address serves it.
    Relay(String),
}

/// Where a request for `owner` goes from a member that is (or not) the leader, knows
/// `leader`'s address (or not) and listens at `own`; `None` when its owner, the leader, is
/// not known.
pub fn decide(
    owner: Owner<'_>,
    is_leader: bool,
    leader: Option<&str>,
    own: Option<&str>,
) -> Option<Route> {
    match owner {
        Owner::Leader if is_leader => Some(Route::Here),
        Owner::Leader => leader
            .filter(|a| !a.is_empty())
            .map(|a| Route::Relay(a.to_owned())),
        Owner::Member(address) if own == Some(address) => Some(Route::Here),
        Owner::Member(address) => Some(Route::Relay(address.to_owned())),
    }
}

/// The refusal when no leader is known to serve a leader-only request.
pub fn no_leader() -> Error {
    Error::Unavailable(
        "no database leader is known right now (an election may be under way); retry in a moment"
            .into(),
    )
}

/// Where a request for `owner` received by this member goes.
pub fn route(node: &Node, owner: Owner<'_>) -> Result<Route> {
    let own = own_address(node);
    decide(
        owner,
        node.is_leader(),
        node.leader_address().as_deref(),
        own.as_deref(),
    )
    .ok_or_else(no_leader)
}

/// This member's address as the Raft membership records it.
fn own_address(node: &Node) -> Option<String> {
    let metrics = node.raft().metrics().borrow().clone();
    metrics
        .membership_config
        .membership()
        .get_node(&node.id())
        .map(|n| n.addr.clone())
}

/// Runs `here` when this member may serve a request for `owner`, else `there` on the
/// owner, whose refusal is returned as its own and whose absence is named.
pub async fn on_owner<T, Fut>(
    node: &Node,
    owner: Owner<'_>,
    here: impl Future<Output = Result<T>>,
    there: impl FnOnce(Member) -> Fut,
) -> Result<T>
where
    Fut: Future<Output = std::result::Result<T, PeerError>>,
{
    match route(node, owner)? {
        Route::Here => here.await,
        Route::Relay(address) => {
            let who = match owner {
                Owner::Leader => format!("the leader at {address}"),
                Owner::Member(_) => format!("the member at {address}"),
            };
            let member = Peers::of(node)?.member(&address);
            there(member).await.map_err(|e| e.relayed(&who))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_runs_on_its_owner() {
        let relay = |a: &str| Some(Route::Relay(a.to_owned()));
        for (owner, is_leader, leader, own, want) in [
            (
                Owner::Leader,
                true,
                Some("a:1"),
                Some("a:1"),
                Some(Route::Here),
            ),
            // Raft's view of the leader can lag: being the leader decides.
            (Owner::Leader, true, None, Some("a:1"), Some(Route::Here)),
            (Owner::Leader, false, Some("b:1"), Some("a:1"), relay("b:1")),
            (Owner::Leader, false, None, Some("a:1"), None),
            (Owner::Leader, false, Some(""), Some("a:1"), None),
            (
                Owner::Member("a:1"),
                false,
                Some("b:1"),
                Some("a:1"),
                Some(Route::Here),
            ),
            (
                Owner::Member("c:1"),
                true,
                Some("a:1"),
                Some("a:1"),
                relay("c:1"),
            ),
            // A member's request needs no leader.
            (Owner::Member("c:1"), false, None, Some("a:1"), relay("c:1")),
            (Owner::Member("c:1"), false, None, None, relay("c:1")),
        ] {
            assert_eq!(
                decide(owner, is_leader, leader, own),
                want,
                "{owner:?} leader={is_leader} {leader:?} own={own:?}"
            );
        }
    }
}
