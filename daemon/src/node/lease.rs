//! The leader lease: once a quorum has confirmed this member's leadership in a round that
//! began at `t`, no other leader can be elected before `t + leader_lease` (openraft's
//! followers refuse votes for that long after hearing from the leader). Reads in that window
//! are current without another round. The lease kept here is shorter than the followers' by a
//! margin for scheduling delays and clock-rate differences.
//!
//! The known limit of lease reads: a follower that restarts forgets when it last heard from
//! the leader, so a read here could miss a write only if that restart, a partition between
//! this leader and another member, and an election between them all fit inside one lease
//! (135 ms with the default timing).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_covers_only_its_term_and_window() {
        let t = Instant::now();
        let lease = Lease::confirmed(7, t, Duration::from_millis(400));
        let ms = Duration::from_millis;
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
}
