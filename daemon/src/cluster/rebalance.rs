//! Applying the role rule (`roles`) to the running cluster, on the leader: one change at a
//! time, until the rule asks for nothing more. Voters are what Raft's membership says;
//! stand-bys and spares are Raft learners told apart by their recorded label.

use std::collections::BTreeSet;

use openraft::ChangeMembers;
use time::OffsetDateTime;

use super::members::{self, RaftView};
use super::roles::{self, Change, DbRole, Limits, MemberState};
use crate::db::batch::Batch;
use crate::db::global::nodes;
use crate::db::global::queries::{self, MemberRow};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::Peers;

/// `nodes.state` of a member that is shutting down gracefully; it is cleared when the
/// member starts again.
pub const STOPPING: nodes::MemberState = nodes::MemberState::Stopping;

/// How long a member being promoted may take to catch up with the log.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(30);

/// Upper bound on changes in one run, so a rule bug can never spin the leader.
const MAX_CHANGES: usize = 64;

/// The members as the role rule sees them.
pub fn states(
    rows: &[MemberRow],
    raft: &RaftView,
    self_id: u64,
    now: OffsetDateTime,
    threshold: std::time::Duration,
) -> Vec<MemberState> {
    let judgement = members::Judgement {
        rows,
        self_id,
        now,
        offline_threshold: threshold,
    };
    rows.iter()
        .map(|r| {
            let (status, _) = members::status(r, &judgement);
            let role = if raft.voters.contains(&r.id) {
                DbRole::Voter
            } else if r.db_role == DbRole::StandBy {
                DbRole::StandBy
            } else {
                DbRole::Spare
            };
            MemberState {
                id: r.id,
                role,
                online: status != corral_shared::api::MemberStatus::Offline,
                failure_domain: r.failure_domain.clone(),
                // Never promoted: evacuated members, members shutting down (state 3), and
                // members outside Raft (not joined yet, or lost and recovered away).
                evacuated: r.state == nodes::MemberState::Evacuated
                    || r.state == nodes::MemberState::Stopping
                    || !(raft.voters.contains(&r.id) || raft.standbys.contains(&r.id)),
            }
        })
        .collect()
}

async fn snapshot(node: &Node) -> Result<(Vec<MemberState>, Limits, Vec<MemberRow>)> {
    let (rows, config) = node
        .global
        .read(|c| Ok((queries::members(c)?, queries::config(c)?)))
        .await?;
    let settings = corral_shared::config::ClusterSettings::from_config(&config);
    let states = states(
        &rows,
        &RaftView::of(node),
        node.id(),
        OffsetDateTime::now_utc(),
        settings.offline_threshold,
    );
    let limits = Limits {
        max_voters: settings.max_voters,
        max_standby: settings.max_standby,
    };
    Ok((states, limits, rows))
}

/// Whether the rule would change anything now.
pub async fn needed(node: &Node) -> Result<bool> {
    if !node.is_leader() {
        return Ok(false);
    }
    let (states, limits, _) = snapshot(node).await?;
    Ok(roles::next_change(node.id(), &states, &limits).is_some())
}

/// Has the rule run now: here on the leader, else by asking the leader.
pub async fn request(node: &Node) -> Result<()> {
    if node.is_leader() {
        return run(node).await;
    }
    let leader = Peers::of(node)?.leader().ok_or_else(|| {
        Error::Unavailable("no database leader is known to rebalance roles".into())
    })?;
    leader.rebalance().await.map_err(|e| {
        Error::Unavailable(format!(
            "the leader at {} did not rebalance roles: {e}",
            leader.address()
        ))
    })
}

/// Runs the rule to completion. Only the leader acts; elsewhere this does nothing.
pub async fn run(node: &Node) -> Result<()> {
    let _guard = node.membership.lock().await;
    for _ in 0..MAX_CHANGES {
        if !node.is_leader() {
            return Ok(());
        }
        let (states, limits, rows) = snapshot(node).await?;
        let Some(change) = roles::next_change(node.id(), &states, &limits) else {
            return Ok(());
        };
        apply(node, &change, &states, &rows).await?;
    }
    Err(Error::Internal(format!(
        "role rebalancing did not settle after {MAX_CHANGES} changes; see 'corral cluster list'"
    )))
}

async fn apply(
    node: &Node,
    change: &Change,
    states: &[MemberState],
    rows: &[MemberRow],
) -> Result<()> {
    let was_voter = states
        .iter()
        .any(|s| s.id == change.id && s.role == DbRole::Voter);
    let raft = node.raft();
    match change.role {
        DbRole::Voter => {
            let known = raft
                .metrics()
                .borrow()
                .membership_config
                .membership()
                .get_node(&change.id)
                .is_some();
            if !known {
                let address = rows
                    .iter()
                    .find(|r| r.id == change.id)
                    .map(|r| r.address.clone())
                    .unwrap_or_default();
                node.add_learner(
                    change.id,
                    &address,
                    CATCH_UP,
                    "add a member to the database",
                )
                .await?;
            }
            // Retained: if an earlier change was cut off half-way (its leader stopped while
            // the joint configuration was in force), this one finishes it, and openraft
            // would otherwise drop the voters it leaves out from the membership altogether:
            // such a member stays up, no longer replicated, its replica frozen.
            node.change_membership(
                ChangeMembers::AddVoterIds(BTreeSet::from([change.id])),
                true,
                &format!("make member {} a voter", change.id),
            )
            .await?;
        }
        DbRole::StandBy | DbRole::Spare if was_voter => {
            // Kept as a learner: it still replicates, ready to be promoted again.
            node.change_membership(
                ChangeMembers::RemoveVoters(BTreeSet::from([change.id])),
                true,
                &format!("take the vote of member {}", change.id),
            )
            .await?;
        }
        _ => {}
    }
    let mut batch = Batch::new();
    nodes::set_db_role(&mut batch, change.id, change.role);
    node.propose(batch).await.map(|_| ())
}
