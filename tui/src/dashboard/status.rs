//! Whether what the dashboard shows is live, and the quorum as Raft itself sees it. Pure
//! functions of the state, so every case is a table-driven test.

use corral_shared::api::{ClusterMember, MemberStatus, RaftRole, RaftState};

use super::app::{App, Link, is_voter};

/// The quorum as the watched member reports Raft's view of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quorum {
    /// Every voter answers the leader.
    Ok {
        /// Voters.
        voters: usize,
    },
    /// Writes still commit, but some voters do not answer the leader.
    Degraded {
        /// Voters answering.
        up: usize,
        /// Voters.
        voters: usize,
        /// Needed for a write to commit.
        needed: usize,
        /// The silent ones.
        down: Vec<String>,
    },
    /// Too few voters answer the leader: writes cannot commit.
    Lost {
        /// Voters answering.
        up: usize,
        /// Voters.
        voters: usize,
        /// Needed.
        needed: usize,
        /// The silent ones.
        down: Vec<String>,
    },
    /// No leader is known: an election is in progress (or cannot be won).
    Election {
        /// The term being contested.
        term: u64,
    },
    /// A leader is known but does not answer the watched member.
    LeaderSilent {
        /// Its name.
        leader: String,
    },
    /// The watched member is still asking the leader (or runs a daemon that cannot say):
    /// only the members' statuses are known.
    FromStatuses {
        /// Voters online by status.
        online: usize,
        /// Voters.
        voters: usize,
        /// Needed.
        needed: usize,
    },
}

impl Quorum {
    /// Whether writes can be trusted to commit (and reads to be current).
    pub fn holds(&self) -> bool {
        match self {
            Quorum::Ok { .. } | Quorum::Degraded { .. } => true,
            Quorum::FromStatuses {
                online,
                needed,
                voters,
            } => *voters > 0 && online >= needed,
            Quorum::Lost { .. } | Quorum::Election { .. } | Quorum::LeaderSilent { .. } => false,
        }
    }
}

/// Raft's view of the quorum, falling back to the members' statuses when it has none.
pub fn quorum(raft: &RaftState, members: &[ClusterMember]) -> Quorum {
    let needed = if raft.quorum > 0 {
        raft.quorum
    } else {
        // At least one: a list with no voter in it is never a quorum.
        corral_shared::quorum::quorum(members.iter().filter(|m| is_voter(m)).count()).max(1)
    };
    if raft.role != RaftRole::Unknown {
        if raft.leader.is_none() || raft.role == RaftRole::Candidate {
            return Quorum::Election { term: raft.term };
        }
        if raft.leader_unreachable {
            return Quorum::LeaderSilent {
                leader: raft.leader.clone().unwrap_or_default(),
            };
        }
        if !raft.voters_reachable.is_empty() {
            let voters = raft.voters_reachable.len();
            let up = raft.voters_reachable.values().filter(|up| **up).count();
            let down: Vec<String> = raft
                .voters_reachable
                .iter()
                .filter(|(_, up)| !**up)
                .map(|(name, _)| name.clone())
                .collect();
            return if up < needed {
                Quorum::Lost {
                    up,
                    voters,
                    needed,
                    down,
                }
            } else if down.is_empty() {
                Quorum::Ok { voters }
            } else {
                Quorum::Degraded {
                    up,
                    voters,
                    needed,
                    down,
                }
            };
        }
    }
    let voters: Vec<&ClusterMember> = members.iter().filter(|m| is_voter(m)).collect();
    Quorum::FromStatuses {
        online: voters
            .iter()
            .filter(|m| m.status == MemberStatus::Online)
            .count(),
        voters: voters.len(),
        needed,
    }
}

/// Why the data on screen is not live, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// Wall clock of the last moment it was known live (`HH:MM:SS`).
    pub as_of: String,
    /// Why, in words.
    pub why: String,
}

impl App {
    /// Raft's view of the quorum, as the watched member reports it.
    pub fn quorum_view(&self) -> Quorum {
        quorum(&self.raft, &self.members)
    }

    /// Why what is shown is not live, if it is not: the stream is down, or the watched
    /// member answers from its own copy without a quorum behind it.
    pub fn stale(&self) -> Option<Stale> {
        if self.members.is_empty() {
            return None;
        }
        let as_of = self
            .fresh_at
            .as_ref()
            .map_or_else(|| self.now.clock.clone(), |s| s.clock.clone());
        let server = if self.server.is_empty() {
            self.source.as_str()
        } else {
            self.server.as_str()
        };
        let why = match &self.link {
            Link::Down { .. } | Link::Connecting => format!("{server} cannot be reached"),
            Link::Live if !self.quorum_view().holds() => {
                format!("{server}'s local copy: no quorum confirms it")
            }
            Link::Live => return None,
        };
        Some(Stale { as_of, why })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn raft(role: RaftRole, leader: Option<&str>, reach: &[(&str, bool)]) -> RaftState {
        RaftState {
            leader: leader.map(str::to_string),
            term: 4,
            voters: 3,
            quorum: 2,
            role,
            voters_reachable: reach
                .iter()
                .map(|(n, up)| (n.to_string(), *up))
                .collect::<BTreeMap<_, _>>(),
            ..RaftState::default()
        }
    }

    #[test]
    fn the_quorum_follows_rafts_view() {
        let all = [("node1", true), ("node2", true), ("node3", true)];
        let one_down = [("node1", false), ("node2", true), ("node3", true)];
        let two_down = [("node1", true), ("node2", false), ("node3", false)];
        let cases: Vec<(&str, RaftState, Quorum)> = vec![
            (
                "all answer",
                raft(RaftRole::Leader, Some("node1"), &all),
                Quorum::Ok { voters: 3 },
            ),
            (
                "one voter silent",
                raft(RaftRole::Follower, Some("node2"), &one_down),
                Quorum::Degraded {
                    up: 2,
                    voters: 3,
                    needed: 2,
                    down: vec!["node1".into()],
                },
            ),
            (
                "two voters silent",
                raft(RaftRole::Leader, Some("node1"), &two_down),
                Quorum::Lost {
                    up: 1,
                    voters: 3,
                    needed: 2,
                    down: vec!["node2".into(), "node3".into()],
                },
            ),
            (
                "no leader",
                raft(RaftRole::Follower, None, &[]),
                Quorum::Election { term: 4 },
            ),
            (
                "a candidate",
                raft(RaftRole::Candidate, Some("node1"), &[]),
                Quorum::Election { term: 4 },
            ),
            (
                "the leader does not answer",
                RaftState {
                    leader_unreachable: true,
                    ..raft(RaftRole::Learner, Some("node1"), &[])
                },
                Quorum::LeaderSilent {
                    leader: "node1".into(),
                },
            ),
            (
                "an older daemon: statuses only",
                raft(RaftRole::Unknown, Some("node1"), &[]),
                Quorum::FromStatuses {
                    online: 0,
                    voters: 0,
                    needed: 2,
                },
            ),
        ];
        for (what, state, want) in cases {
            let got = quorum(&state, &[]);
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn only_ok_and_degraded_hold() {
        let cases = [
            (Quorum::Ok { voters: 1 }, true),
            (
                Quorum::Degraded {
                    up: 2,
                    voters: 3,
                    needed: 2,
                    down: vec![],
                },
                true,
            ),
            (
                Quorum::Lost {
                    up: 1,
                    voters: 3,
                    needed: 2,
                    down: vec![],
                },
                false,
            ),
            (Quorum::Election { term: 1 }, false),
            (Quorum::LeaderSilent { leader: "n".into() }, false),
            (
                Quorum::FromStatuses {
                    online: 2,
                    voters: 3,
                    needed: 2,
                },
                true,
            ),
            (
                Quorum::FromStatuses {
                    online: 1,
                    voters: 3,
                    needed: 2,
                },
                false,
            ),
        ];
        for (q, want) in cases {
            assert_eq!(q.holds(), want, "{q:?}");
        }
    }
}
