//! Leaving gracefully (`corrald shutdown`, SIGTERM, SIGINT): a leader first hands its
//! leadership to an up-to-date voter; then the leader gives the leaving member's database
//! role to the best candidate and takes it from the leaving member, so the cluster never
//! depends on a member that is gone.

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::ChangeMembers;
use serde::{Deserialize, Serialize};

use super::rebalance::{self, STOPPING};
use super::roles::{self, DbRole};
use crate::db::batch::Batch;
use crate::db::global::{nodes, queries};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::Peers;

/// How long the whole handover may take before the member stops anyway.
pub const HANDOVER: Duration = Duration::from_secs(15);

/// The voter best placed to lead next: the one whose replicated log is furthest along.
pub fn successor(voters: &[u64], me: u64, matched: &[(u64, u64)]) -> Option<u64> {
    voters.iter().copied().filter(|v| *v != me).max_by_key(|v| {
        (
            matched
                .iter()
                .find(|(id, _)| id == v)
                .map_or(0, |(_, i)| *i),
            u64::MAX - v,
        )
    })
}

/// What a stopping member holds in the database, which decides what it hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Holding {
    /// Not clustered: nothing to hand over.
    Nothing,
    /// A member without a database role.
    Spare,
    /// A stand-by (a non-voting copy of the database).
    StandBy,
    /// A voter.
    Voter,
    /// The leader (a voter).
    Leader,
}

impl Holding {
    /// What this member holds now, from its own view of Raft and its own replica (no quorum
    /// needed: a member that lost quorum must still say what it will try).
    pub async fn of(node: &Node) -> Self {
        if !node.is_clustered() {
            return Self::Nothing;
        }
        let raft = super::members::RaftView::of(node);
        let me = node.id();
        if raft.leader == Some(me) {
            return Self::Leader;
        }
        if raft.voters.contains(&me) {
            return Self::Voter;
        }
        let label = node
            .global
            .read(queries::members)
            .await
            .ok()
            .and_then(|rows| rows.into_iter().find(|r| r.id == me))
            .map(|r| r.db_role);
        if raft.standbys.contains(&me) && label == Some(DbRole::StandBy) {
            Self::StandBy
        } else {
            Self::Spare
        }
    }

    /// What stopping attempts first, for `corrald shutdown` to say before it waits.
    pub fn plan(self) -> Option<String> {
        let what = match self {
            Self::Nothing => return None,
            Self::Spare => "records that this member is stopping",
            Self::StandBy => {
                "records that this member is stopping and has the leader give its stand-by role to another member"
            }
            Self::Voter => {
                "records that this member is stopping and has the leader give its vote to another member"
            }
            Self::Leader => {
                "records that this member is stopping, hands the database leadership to another voter, and gives its vote to another member"
            }
        };
        Some(format!(
            "Before stopping, corrald {what}; this needs a quorum of the database's voters \
             (waiting at most {}s)",
            HANDOVER.as_secs()
        ))
    }

    /// What a stop without the handover leaves behind.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Nothing | Self::Spare => {
                "the cluster may list this member as online until cluster.offline_threshold passes"
            }
            Self::StandBy => {
                "the cluster counts one stand-by fewer until the leader notices this member is offline \
                 (after cluster.offline_threshold) and gives the role to another member"
            }
            Self::Voter | Self::Leader => {
                "this member still holds a vote, and is now down: until it is back, or the leader \
                 replaces it after cluster.offline_threshold, losing one more voter loses quorum. \
                 If the cluster has no quorum now, start enough voters again, or see \
                 'corrald cluster recover-from-quorum-loss'"
            }
        }
    }
}

/// How a stop went, as `PUT /internal/shutdown` answers `corrald shutdown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departure {
    /// What the member held.
    pub holding: Holding,
    /// Why the handover did not happen; empty when it did.
    pub error: String,
}

/// `corrald shutdown` on this member: hands over (bounded, once), asks the daemon to stop
/// either way, and says how the handover went.
pub async fn stop(node: &Node) -> Departure {
    let holding = Holding::of(node).await;
    let outcome = leave_gracefully(node).await;
    node.request_shutdown();
    Departure {
        holding,
        error: outcome.err().map(|e| e.to_string()).unwrap_or_default(),
    }
}

/// Run on the member that is stopping: mark it stopping, hand over leadership if it leads,
/// then ask the leader to hand over its role, within [`HANDOVER`]. It runs once: a stop
/// asked for by `corrald shutdown` and the signal path share the outcome. Errors are
/// returned for reporting; the member stops either way.
pub async fn leave_gracefully(node: &Node) -> Result<()> {
    node.departure
        .get_or_init(|| async {
            match tokio::time::timeout(HANDOVER, attempt(node)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "the handover did not finish within {}s",
                    HANDOVER.as_secs()
                )),
            }
        })
        .await
        .clone()
        .map_err(Error::Unavailable)
}

async fn attempt(node: &Node) -> Result<()> {
    if !node.is_clustered() {
        return Ok(());
    }
    let mut batch = Batch::new();
    nodes::set_state_if_created(&mut batch, node.id(), STOPPING);
    node.propose(batch).await?;
    if node.is_leader() {
        transfer_leadership(node).await?;
    }
    Peers::of(node)?
        .leader()
        .ok_or_else(|| Error::Unavailable("no leader to hand this member's role to".into()))?
        .within(HANDOVER)
        .hand_over(node.id())
        .await
        .map_err(|e| {
            Error::Unavailable(format!(
                "the leader did not take over this member's role: {e}"
            ))
        })
}

/// Makes another member lead, for a leader about to be removed: when it is the only voter,
/// the most caught-up other member of the database gets a vote first (as LXD promotes the
/// other member of a two-member database), then leadership moves to a voter. This member
/// stops campaigning; on an error the caller lets it campaign again.
pub async fn step_down(node: &Node) -> Result<()> {
    let me = node.id();
    let metrics = node.raft().metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    if !membership.voter_ids().any(|v| v != me) {
        let learners: Vec<u64> = membership.learner_ids().collect();
        let next = successor(&learners, me, &matched(&metrics)).ok_or_else(|| {
            Error::Unavailable("no other member holds a copy of the database to take over".into())
        })?;
        node.change_membership(
            ChangeMembers::AddVoterIds(BTreeSet::from([next])),
            true,
            &format!("give member {next} a vote so that it can lead"),
        )
        .await?;
    }
    transfer_leadership(node).await?;
    if node.is_leader() {
        return Err(Error::Unavailable("no other voter took the lead".into()));
    }
    Ok(())
}

/// How far each member's copy of the log has been replicated, as the leader sees it.
fn matched(metrics: &openraft::RaftMetrics<u64, openraft::BasicNode>) -> Vec<(u64, u64)> {
    metrics
        .replication
        .as_ref()
        .map(|r| {
            r.iter()
                .map(|(id, l)| (*id, l.map_or(0, |l| l.index)))
                .collect()
        })
        .unwrap_or_default()
}

/// How long one candidate gets to win the election before the next is asked.
const ONE_TRY: Duration = Duration::from_secs(3);

async fn transfer_leadership(node: &Node) -> Result<()> {
    let raft = node.raft();
    // A leader that stepped down must not campaign again and win its seat back.
    raft.runtime_config().elect(false);
    let deadline = tokio::time::Instant::now() + HANDOVER;
    let me = node.id();
    let mut tried = Vec::new();
    loop {
        let metrics = raft.metrics().borrow().clone();
        if metrics.current_leader.is_some_and(|l| l != me) {
            return Ok(());
        }
        let voters: Vec<u64> = metrics
            .membership_config
            .membership()
            .voter_ids()
            .filter(|v| !tried.contains(v))
            .collect();
        let Some(next) = successor(&voters, me, &matched(&metrics)) else {
            if tried.is_empty() {
                return Ok(()); // The only voter: nobody to hand over to.
            }
            tried.clear();
            continue;
        };
        tried.push(next);
        // A candidate whose log lags loses the election: let it catch up first (bounded).
        let last = metrics.last_log_index.unwrap_or(0);
        let mut watch = raft.metrics();
        let caught_up = watch.wait_for(|m| {
            m.replication
                .as_ref()
                .and_then(|r| r.get(&next).copied().flatten())
                .is_some_and(|l| l.index >= last)
        });
        let _ = tokio::time::timeout(ONE_TRY, caught_up).await;
        let address = metrics
            .membership_config
            .membership()
            .get_node(&next)
            .map(|n| n.addr.clone())
            .ok_or_else(|| Error::Internal(format!("voter {next} has no address")))?;
        let voter = Peers::of(node)?.member(&address).within(HANDOVER);
        if let Err(e) = voter.elect().await {
            tracing::warn!("voter {next} did not stand for election: {e}");
        }
        let mut watch = raft.metrics();
        let moved = watch.wait_for(|m| m.current_leader.is_some_and(|l| l != me));
        if tokio::time::timeout(ONE_TRY, moved).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Unavailable(
                "leadership did not move within the handover time".into(),
            ));
        }
    }
}

/// Run on the leader for a member that is stopping: give its role to the best candidate,
/// then take it away from the leaving member (keeping at least one voter).
pub async fn hand_over(node: &Node, leaving: u64) -> Result<()> {
    if !node.is_leader() {
        return Err(Error::Unavailable(
            "this member is not the leader any more; retry".into(),
        ));
    }
    let _guard = node.membership.lock().await;
    let (rows, config) = node
        .global
        .read(|c| Ok((queries::members(c)?, queries::config(c)?)))
        .await?;
    let settings = corral_shared::config::ClusterSettings::from_config(&config);
    let states = rebalance::states(
        &rows,
        &super::members::RaftView::for_roles(node),
        node.id(),
        time::OffsetDateTime::now_utc(),
        settings.offline_threshold,
    );
    let Some(me) = states.iter().find(|s| s.id == leaving) else {
        return Ok(());
    };
    if me.role == DbRole::Spare {
        return Ok(());
    }
    let raft = node.raft();
    if let Some(change) = roles::handover(leaving, node.id(), &states) {
        // A spare taking over is not in Raft yet: it joins as a learner first.
        rebalance::join_raft(
            node,
            change.id,
            &rows,
            &format!("add member {} to the database", change.id),
        )
        .await?;
        match change.role {
            DbRole::Voter => {
                // Retained: see rebalance's promotion.
                node.change_membership(
                    ChangeMembers::AddVoterIds(BTreeSet::from([change.id])),
                    true,
                    &format!("give member {}'s vote to member {}", leaving, change.id),
                )
                .await?;
            }
            DbRole::StandBy | DbRole::Spare => {}
        }
        let label = if change.role == DbRole::Voter {
            DbRole::Voter
        } else {
            DbRole::StandBy
        };
        let mut batch = Batch::new();
        nodes::set_db_role(&mut batch, change.id, label);
        node.propose(batch).await?;
    }
    let voters = raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .count();
    if me.role == DbRole::Voter && voters > 1 {
        node.change_membership(
            ChangeMembers::RemoveVoters(BTreeSet::from([leaving])),
            true,
            &format!("take the vote of leaving member {leaving}"),
        )
        .await?;
    }
    let mut batch = Batch::new();
    nodes::set_db_role(&mut batch, leaving, DbRole::Spare);
    node.propose(batch).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_says_what_it_attempts_and_what_its_failure_means() {
        for (holding, attempts, means) in [
            (Holding::Nothing, None, "offline_threshold"),
            (
                Holding::Spare,
                Some("records that this member is stopping;"),
                "offline_threshold",
            ),
            (
                Holding::StandBy,
                Some("its stand-by role"),
                "one stand-by fewer",
            ),
            (Holding::Voter, Some("give its vote"), "still holds a vote"),
            (
                Holding::Leader,
                Some("hands the database leadership"),
                "still holds a vote",
            ),
        ] {
            let plan = holding.plan();
            match attempts {
                None => assert_eq!(plan, None),
                Some(text) => {
                    let plan = plan.unwrap_or_default();
                    assert!(plan.contains(text), "{holding:?}: {plan}");
                    assert!(plan.contains("needs a quorum"), "{plan}");
                    assert!(plan.contains("at most 15s"), "{plan}");
                }
            }
            assert!(holding.meaning().contains(means), "{holding:?}");
        }
    }

    #[test]
    fn the_successor_is_the_most_caught_up_other_voter() {
        for (voters, me, matched, want) in [
            (vec![1, 2, 3], 1, vec![(2, 10), (3, 12)], Some(3)),
            (vec![1, 2, 3], 1, vec![(2, 12), (3, 12)], Some(2)),
            (vec![1], 1, vec![], None),
            (vec![1, 2], 1, vec![], Some(2)),
        ] {
            assert_eq!(
                successor(&voters, me, &matched),
                want,
                "{voters:?} {matched:?}"
            );
        }
    }
}
