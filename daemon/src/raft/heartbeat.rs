//! Spacing out idle Raft heartbeats to learners. Voters hear from the leader every heartbeat
//! interval: their silence starts elections and their answers confirm leadership. Learners
//! (stand-bys and spares) do neither, so an empty heartbeat that would tell a learner nothing
//! new (same term, same log position, same commit index as its last answered one) is sent
//! only every [`LEARNER_INTERVAL`]. Anything new (entries, a commit, a new leader) goes at
//! once. In a cluster of fifty this is most of the leader's idle work.
//!
//! The other side of the same idleness: Raft's own timer, which wakes every member's Raft
//! core twenty times a second, is needed only by a leader (to send heartbeats) and a voter
//! (to stand for election when they stop); see [`needs_timer`].

use std::time::{Duration, Instant};

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use openraft::{BasicNode, LogId, Membership, ServerState, Vote};

use super::{NodeId, TypeConfig};

/// How often an idle learner still hears from the leader.
pub const LEARNER_INTERVAL: Duration = Duration::from_millis(1000);

/// What an append-entries request told its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    vote: Vote<NodeId>,
    prev: Option<LogId<NodeId>>,
    commit: Option<LogId<NodeId>>,
    empty: bool,
    at: Instant,
}

impl Sent {
    /// The request about to be sent at `at`.
    pub fn of(rpc: &AppendEntriesRequest<TypeConfig>, at: Instant) -> Sent {
        Sent {
            vote: rpc.vote,
            prev: rpc.prev_log_id,
            commit: rpc.leader_commit,
            empty: rpc.entries.is_empty(),
            at,
        }
    }
}

/// The last heartbeat a peer answered with success.
#[derive(Debug, Default)]
pub struct Spacing {
    last_answered: Option<Sent>,
}

impl Spacing {
    /// Whether `rpc` to a peer (a learner or not) may be answered without sending it: an empty
    /// heartbeat repeating the last successful one to a learner, within the interval.
    pub fn may_skip(
        &self,
        learner: bool,
        rpc: &AppendEntriesRequest<TypeConfig>,
        now: Instant,
    ) -> bool {
        let Some(last) = self.last_answered else {
            return false;
        };
        learner
            && rpc.entries.is_empty()
            && last.empty
            && last.vote == rpc.vote
            && last.prev == rpc.prev_log_id
            && last.commit == rpc.leader_commit
            && now.saturating_duration_since(last.at) < LEARNER_INTERVAL
    }

    /// Records how a sent request was answered: only a plain success is worth repeating.
    pub fn answered<E>(&mut self, sent: Sent, answer: &Result<AppendEntriesResponse<NodeId>, E>) {
        self.last_answered = match answer {
            Ok(AppendEntriesResponse::Success) => Some(sent),
            _ => None,
        };
    }
}

/// Whether member `id`'s Raft needs its timer, in `state` under `membership`: a leader
/// heartbeats by it (and, voted out, steps down by it), a voter campaigns by it when the
/// leader falls silent. A learner (a stand-by or spare, or a joiner not yet added) does
/// neither: everything it does is answering the leader, so its timer only costs CPU, which
/// in a large cluster is most of an idle member's work. Re-checked at every change of
/// state or membership, so a promoted member ticks as soon as its promotion reaches it.
pub fn needs_timer(
    id: NodeId,
    state: ServerState,
    membership: &Membership<NodeId, BasicNode>,
) -> bool {
    state == ServerState::Leader || membership.voter_ids().any(|v| v == id)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use openraft::{CommittedLeaderId, Entry, EntryPayload};

    use super::*;

    fn log(index: u64) -> Option<LogId<NodeId>> {
        Some(LogId::new(CommittedLeaderId::new(2, 1), index))
    }

    fn rpc(term: u64, prev: u64, commit: u64, entries: usize) -> AppendEntriesRequest<TypeConfig> {
        let mut vote = Vote::new(term, 1);
        vote.commit();
        AppendEntriesRequest {
            vote,
            prev_log_id: log(prev),
            leader_commit: log(commit),
            entries: (0..entries)
                .map(|i| Entry {
                    log_id: LogId::new(CommittedLeaderId::new(term, 1), prev + 1 + i as u64),
                    payload: EntryPayload::Blank,
                })
                .collect(),
        }
    }

    #[test]
    fn only_repeated_idle_heartbeats_to_learners_are_spaced() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let answered = rpc(2, 10, 10, 0);
        // (learner, request, time since the answered one, skipped)
        let cases = [
            (true, rpc(2, 10, 10, 0), ms(30), true),
            (true, rpc(2, 10, 10, 0), ms(999), true),
            (true, rpc(2, 10, 10, 0), ms(1000), false),
            (false, rpc(2, 10, 10, 0), ms(30), false),
            (true, rpc(2, 10, 11, 0), ms(30), false),
            (true, rpc(2, 11, 10, 0), ms(30), false),
            (true, rpc(3, 10, 10, 0), ms(30), false),
            (true, rpc(2, 10, 10, 1), ms(30), false),
        ];
        for (i, (learner, request, after, skipped)) in cases.into_iter().enumerate() {
            let mut spacing = Spacing::default();
            spacing.answered::<()>(Sent::of(&answered, t), &Ok(AppendEntriesResponse::Success));
            assert_eq!(
                spacing.may_skip(learner, &request, t + after),
                skipped,
                "case {i}"
            );
        }
    }

    #[test]
    fn nothing_is_skipped_before_a_success_or_after_a_failure() {
        let t = Instant::now();
        let beat = rpc(2, 10, 10, 0);
        let mut spacing = Spacing::default();
        assert!(!spacing.may_skip(true, &beat, t));
        spacing.answered::<()>(Sent::of(&beat, t), &Ok(AppendEntriesResponse::Conflict));
        assert!(!spacing.may_skip(true, &beat, t));
        spacing.answered::<()>(Sent::of(&beat, t), &Err(()));
        assert!(!spacing.may_skip(true, &beat, t));
        spacing.answered::<()>(Sent::of(&beat, t), &Ok(AppendEntriesResponse::Success));
        assert!(spacing.may_skip(true, &beat, t));
    }

    #[test]
    fn only_leaders_and_voters_keep_their_timer() {
        let nodes: BTreeMap<NodeId, BasicNode> = (1..=5)
            .map(|i| (i, BasicNode::new(format!("m{i}"))))
            .collect();
        let single = Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes.clone());
        let joint = Membership::new(
            vec![BTreeSet::from([1, 2, 3]), BTreeSet::from([2, 3, 4])],
            nodes,
        );
        use ServerState::{Candidate, Follower, Leader, Learner};
        // (member, state, membership, ticks)
        let cases = [
            (1, Leader, &single, true),
            (2, Follower, &single, true),
            (3, Candidate, &single, true),
            (4, Learner, &single, false),
            (5, Learner, &single, false),
            (9, Learner, &single, false),
            // A leader voted out keeps ticking until it has stepped down.
            (4, Leader, &single, true),
            // Either half of a joint configuration counts: the new voter may have to campaign.
            (4, Follower, &joint, true),
            (1, Follower, &joint, true),
            (5, Learner, &joint, false),
        ];
        for (i, (id, state, membership, ticks)) in cases.into_iter().enumerate() {
            assert_eq!(needs_timer(id, state, membership), ticks, "case {i}");
        }
    }
}
