//! The one quorum rule of the database's Raft: a strict majority of its voters.

/// How many of `voters` must agree for a write or an election: a strict majority (0 of 0).
pub const fn quorum(voters: usize) -> usize {
    if voters == 0 { 0 } else { voters / 2 + 1 }
}

/// How many of `voters` may be lost with a quorum still standing.
pub const fn tolerated_failures(voters: usize) -> usize {
    voters - quorum(voters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quorum_is_a_strict_majority() {
        for (voters, want, tolerated) in [
            (0, 0, 0),
            (1, 1, 0),
            (2, 2, 0),
            (3, 2, 1),
            (4, 3, 1),
            (5, 3, 2),
            (7, 4, 3),
        ] {
            assert_eq!(quorum(voters), want, "{voters} voters");
            assert_eq!(tolerated_failures(voters), tolerated, "{voters} voters");
        }
    }
}
