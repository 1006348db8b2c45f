//! The leader lease: once a quorum has confirmed this member's leadership in a round that
//! began at `t`, no other leader can be elected before `t + leader_lease` (openraft's
//! followers refuse votes for that long after hearing from the leader). Reads in that window
//! are current without another round. The lease kept here is shorter than the followers' by a
//! margin for scheduling delays and clock-rate differences.
//!
//! The known limit of lease reads: a follower that restarts forgets when it last heard from
//! the leader, so a read here could miss a write only if that restart, a partition between
//! this leader and another member, and an election between them all fit inside one lease
//! (75 ms with the default timing).

use std::time::{Duration, Instant};

/// How much of the followers' lease this member relies on.
const SHARE_NUMERATOR: u32 = 3;
const SHARE_DENOMINATOR: u32 = 4;

/// A confirmed leadership: in `term`, valid until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lease {
    term: u64,
    until: Instant,
}

impl Lease {
    /// The lease won by a quorum round that began at `started` in `term`, given the
    /// followers' lease (openraft's `election_timeout_max`).
    pub(super) fn confirmed(term: u64, started: Instant, followers_lease: Duration) -> Lease {
        Lease {
            term,
            until: started + followers_lease * SHARE_NUMERATOR / SHARE_DENOMINATOR,
        }
    }

    /// Whether reads may rely on it now, as leader in `term`.
    pub(super) fn covers(&self, leading_term: Option<u64>, now: Instant) -> bool {
        leading_term == Some(self.term) && now < self.until
    }
}

/// How the leader learns the index a read must see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadIndexSource {
    /// Within the lease: everything acknowledged so far is applied here already.
    Lease,
    /// A quorum confirms the leadership first (which renews the lease).
    QuorumRound,
}

/// Where the read index comes from at `now`, leading in `leading_term` (as this member's
/// Raft sees it, which a paused leader may still believe) with the lease `held`.
pub(super) fn read_index_source(
    held: Option<Lease>,
    leading_term: Option<u64>,
    now: Instant,
) -> ReadIndexSource {
    if held.is_some_and(|l| l.covers(leading_term, now)) {
        ReadIndexSource::Lease
    } else {
        ReadIndexSource::QuorumRound
    }
}

/// The index a read served from the lease must wait for: the end of the leader's log, not
/// what the leader has applied. Every write acknowledged so far is applied here, but a
/// linearizable read must also follow every read before it: a follower applies an entry as
/// soon as it learns the entry is committed, possibly before this leader's own state machine
/// gets to it, and answers with it; a read here just after must not answer older. Every
/// committed entry is in this log, so waiting for its end covers them (cluster-torture
/// found a leader answering an older value than a follower had just returned).
pub(super) fn lease_read_index(last_log_index: Option<u64>, applied: u64) -> u64 {
    last_log_index.unwrap_or(0).max(applied)
}

/// The lease a successful quorum round that began at `started` wins: only a round that began
/// and ended while leading the same term confirms that term.
pub(super) fn renewed(
    term_at_start: Option<u64>,
    term_at_end: Option<u64>,
    started: Instant,
    followers_lease: Duration,
) -> Option<Lease> {
    term_at_start
        .filter(|t| term_at_end == Some(*t))
        .map(|t| Lease::confirmed(t, started, followers_lease))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOLLOWERS: Duration = Duration::from_millis(400);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_lease_covers_only_its_term_and_window() {
        let t = Instant::now();
        let lease = Lease::confirmed(7, t, FOLLOWERS);
        // (leading term, time since the round began, covered)
        let cases = [
            (Some(7), ms(0), true),
            (Some(7), ms(299), true),
            (Some(7), ms(300), false),
            (Some(7), ms(1000), false),
            (Some(8), ms(10), false),
            (Some(6), ms(10), false),
            (None, ms(10), false),
        ];
        for (term, after, covered) in cases {
            assert_eq!(
                lease.covers(term, t + after),
                covered,
                "term {term:?} after {after:?}"
            );
        }
    }

    #[test]
    fn a_read_after_the_lease_ends_goes_to_a_quorum() {
        use ReadIndexSource::{Lease as FromLease, QuorumRound};
        let t = Instant::now();
        let held = Some(Lease::confirmed(3, t, FOLLOWERS));
        // (lease held, leading term, time of the read, source)
        let cases = [
            (held, Some(3), t + ms(10), FromLease),
            (held, Some(3), t + ms(299), FromLease),
            // The lease has ended: the index must come from a quorum.
            (held, Some(3), t + ms(300), QuorumRound),
            (held, Some(3), t + ms(5000), QuorumRound),
            // No lease yet (new leader), or a lease of another term.
            (None, Some(3), t + ms(10), QuorumRound),
            (held, Some(4), t + ms(10), QuorumRound),
            (held, None, t + ms(10), QuorumRound),
        ];
        for (held, term, now, source) in cases {
            assert_eq!(
                read_index_source(held, term, now),
                source,
                "lease {held:?}, term {term:?}, at +{:?}",
                now - t
            );
        }
    }

    /// A leader stopped (SIGSTOP, a long GC-like stall) past its lease wakes still believing
    /// it leads: its Raft has not yet heard of the newer term. Whatever it did before the
    /// pause, no read after it is served from the lease.
    #[test]
    fn a_paused_leader_serves_no_read_from_its_lease_after_it_ends() {
        let t = Instant::now();
        // (when its last round began, how long it was paused after that round, covered on waking)
        let cases = [
            (ms(0), ms(50), true),
            (ms(0), ms(299), true),
            (ms(0), ms(300), false),
            (ms(0), ms(2000), false),
            // A round that began before a pause and finished after it wins nothing usable.
            (ms(100), ms(10_000), false),
        ];
        for (began, paused, covered) in cases {
            let started = t + began;
            let lease = renewed(Some(9), Some(9), started, FOLLOWERS);
            let woke = started + paused;
            let source = read_index_source(lease, Some(9), woke);
            assert_eq!(
                source == ReadIndexSource::Lease,
                covered,
                "round at +{began:?}, paused {paused:?}"
            );
        }
    }

    /// Found by cluster-torture: a follower answered a write committed but not yet applied
    /// on the leader, then the leader, within its lease, answered from its applied index
    /// and returned the value before. A lease read waits for the whole log instead.
    #[test]
    fn a_lease_read_waits_for_entries_committed_but_not_applied_here() {
        // (the leader's last log index, its applied index, the index the read must see)
        let cases = [
            (Some(12), 10, 12),
            (Some(10), 10, 10),
            // A snapshot may put applied past the log (purged up to it).
            (Some(8), 10, 10),
            (None, 0, 0),
            (None, 5, 5),
        ];
        for (last, applied, want) in cases {
            assert_eq!(
                lease_read_index(last, applied),
                want,
                "log ends at {last:?}, applied {applied}"
            );
        }
    }

    #[test]
    fn only_a_round_within_one_term_renews_the_lease() {
        let t = Instant::now();
        // (term when the round began, term when it ended, renewed in)
        let cases = [
            (Some(5), Some(5), Some(5)),
            // Deposed and re-elected during the round: the round spoke for the old term.
            (Some(5), Some(6), None),
            (Some(5), None, None),
            (None, Some(5), None),
            (None, None, None),
        ];
        for (start, end, term) in cases {
            let lease = renewed(start, end, t, FOLLOWERS);
            assert_eq!(lease.map(|l| l.term), term, "{start:?} -> {end:?}");
            if let Some(lease) = lease {
                assert_eq!(lease.until, t + ms(300));
            }
        }
    }
}
