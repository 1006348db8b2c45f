//! What a command says on stderr besides its answer: that an answer came from one member's
//! own copy of the database, which no leader could confirm current (quorum lost, say).

use corral_shared::client::Stale;
use time::OffsetDateTime;

/// The warning lines for the stale marks a command received: one per member (its latest
/// mark), in the order the members first answered.
pub fn stale_warnings(marks: &[Stale], now: OffsetDateTime) -> Vec<String> {
    let mut latest: Vec<&Stale> = Vec::new();
    for mark in marks {
        match latest.iter_mut().find(|m| m.member == mark.member) {
            Some(seen) => *seen = mark,
            None => latest.push(mark),
        }
    }
    latest
        .iter()
        .map(|m| format!("Warning: {}", m.warning(now)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn mark(member: &str, applied_index: u64) -> Stale {
        Stale {
            member: member.into(),
            applied_index,
            as_of: Some(datetime!(2026-12-01 13:40:02 UTC)),
        }
    }

    #[test]
    fn each_member_that_answered_from_its_copy_is_named_once() {
        let now = datetime!(2026-12-01 14:00:00 UTC);
        let cases: [(&[Stale], &[&str]); 3] = [
            (&[], &[]),
            (
                &[mark("node1", 5), mark("node1", 7)],
                &[
                    "Warning: quorum lost: this is node1's local copy as of 13:40:02 UTC (log index 7); later changes may be missing",
                ],
            ),
            (
                &[mark("node2", 3), mark("node1", 4), mark("node2", 6)],
                &[
                    "Warning: quorum lost: this is node2's local copy as of 13:40:02 UTC (log index 6); later changes may be missing",
                    "Warning: quorum lost: this is node1's local copy as of 13:40:02 UTC (log index 4); later changes may be missing",
                ],
            ),
        ];
        for (marks, want) in cases {
            assert_eq!(stale_warnings(marks, now), want, "{marks:?}");
        }
    }
}
