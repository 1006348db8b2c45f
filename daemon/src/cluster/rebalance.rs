//! Applying the role rule (`roles`) to the running cluster, on the leader: one change at a
//! time, until the rule asks for nothing more. Voters are what Raft's membership says,
//! stand-bys are its learners; spares are outside it, fed by the leader (see
//! [`super::spares`]). A member's recorded label says which of the two non-voters it is.

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
                // members with no current replica (not joined yet, lost and recovered away,
                // or a spare the leader cannot reach).
                evacuated: r.state == nodes::MemberState::Evacuated
                    || r.state == nodes::MemberState::Stopping
                    || !(raft.voters.contains(&r.id)
                        || raft.standbys.contains(&r.id)
                        || raft.fed.contains(&r.id)),
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
        &RaftView::for_roles(node),
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
    let (states, limits, rows) = snapshot(node).await?;
    Ok(roles::next_change(node.id(), &states, &limits).is_some()
        || !misplaced(&rows, &RaftView::for_roles(node)).is_empty())
}

/// A member whose place in Raft and recorded label disagree, and how that is mended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misplaced {
    /// A Raft learner labelled spare (a member that just joined, or a demotion cut off
    /// half-way) leaves the membership: the leader feeds it from then on.
    LeaveRaft(u64),
    /// A member labelled stand-by outside Raft (a demotion cut off before its label was
    /// written) is labelled spare, which it is; the rule may then promote it properly.
    LabelSpare(u64),
}

/// The members whose Raft place and label disagree, in id order.
pub fn misplaced(rows: &[MemberRow], raft: &RaftView) -> Vec<Misplaced> {
    rows.iter()
        .filter(|r| !raft.voters.contains(&r.id))
        .filter_map(|r| {
            let learner = raft.standbys.contains(&r.id);
            match r.db_role {
                // Only once it holds the membership that took its vote: one that missed it
                // (offline, or stopped mid-handover) would campaign alone outside Raft,
                // where no leader's term can catch up with it.
                DbRole::Spare if learner && raft.settled.contains(&r.id) => {
                    Some(Misplaced::LeaveRaft(r.id))
                }
                DbRole::Spare if learner => None,
                DbRole::StandBy if !learner => Some(Misplaced::LabelSpare(r.id)),
                _ => None,
            }
        })
        .collect()
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
            return mend(node, &rows).await;
        };
        apply(node, &change, &states, &rows).await?;
    }
    Err(Error::Internal(format!(
        "role rebalancing did not settle after {MAX_CHANGES} changes; see 'corral cluster list'"
    )))
}

/// Mends every member whose Raft place and label disagree (see [`misplaced`]).
async fn mend(node: &Node, rows: &[MemberRow]) -> Result<()> {
    for fix in misplaced(rows, &RaftView::for_roles(node)) {
        match fix {
            Misplaced::LeaveRaft(id) => leave_raft(node, id).await?,
            Misplaced::LabelSpare(id) => {
                let mut batch = Batch::new();
                nodes::set_db_role(&mut batch, id, DbRole::Spare);
                node.propose(batch).await?;
            }
        }
    }
    Ok(())
}

/// Whether member `id` is in this member's view of the Raft membership, read afresh: an
/// earlier step of the same change may have moved it since the caller's [`RaftView`].
pub(super) fn in_raft(node: &Node, id: u64) -> bool {
    node.raft()
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .get_node(&id)
        .is_some()
}

/// Takes non-voter `id` out of the Raft membership: a spare is fed by the leader instead.
pub(super) async fn leave_raft(node: &Node, id: u64) -> Result<()> {
    node.change_membership(
        ChangeMembers::RemoveNodes(BTreeSet::from([id])),
        false,
        &format!("take spare member {id} out of Raft"),
    )
    .await
}

/// Makes `id` a Raft learner, if it is not one yet, once it has caught up with the log.
pub(super) async fn join_raft(node: &Node, id: u64, rows: &[MemberRow], what: &str) -> Result<()> {
    if in_raft(node, id) {
        return Ok(());
    }
    let address = rows
        .iter()
        .find(|r| r.id == id)
        .map(|r| r.address.clone())
        .unwrap_or_default();
    node.add_learner(id, &address, CATCH_UP, what).await
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
    if was_voter && change.role != DbRole::Voter {
        // Kept as a learner for now: a spare leaves Raft once it holds this change.
        node.change_membership(
            ChangeMembers::RemoveVoters(BTreeSet::from([change.id])),
            true,
            &format!("take the vote of member {}", change.id),
        )
        .await?;
    }
    match change.role {
        DbRole::Voter => {
            join_raft(node, change.id, rows, "add a member to the database").await?;
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
        DbRole::StandBy => {
            join_raft(node, change.id, rows, "make a member a stand-by").await?;
        }
        // Out of Raft later (see `misplaced`), once it knows it is a learner.
        DbRole::Spare => {}
    }
    let mut batch = Batch::new();
    nodes::set_db_role(&mut batch, change.id, change.role);
    node.propose(batch).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(id: u64, db_role: DbRole) -> MemberRow {
        MemberRow {
            db_role,
            ..MemberRow::sample(id)
        }
    }

    #[test]
    fn a_members_raft_place_follows_its_label() {
        let raft = RaftView {
            leader: Some(1),
            voters: [1, 2].into(),
            standbys: [3, 4, 7].into(),
            fed: [5, 6].into(),
            settled: [4].into(),
        };
        // (member, label, mend)
        let cases = [
            (1, DbRole::Voter, None),
            // A voter's label is the rule's business, not a misplacement.
            (2, DbRole::Spare, None),
            (3, DbRole::StandBy, None),
            (4, DbRole::Spare, Some(Misplaced::LeaveRaft(4))),
            (5, DbRole::Spare, None),
            // A learner that has not yet seen the change that made it one stays for now.
            (7, DbRole::Spare, None),
            (6, DbRole::StandBy, Some(Misplaced::LabelSpare(6))),
        ];
        for (id, label, want) in cases {
            let got = misplaced(&[labelled(id, label)], &raft);
            assert_eq!(
                got,
                want.into_iter().collect::<Vec<_>>(),
                "member {id} labelled {label:?}"
            );
        }
    }
}
