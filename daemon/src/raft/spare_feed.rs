//! Feeding one spare from the leader. Spares are not in the Raft membership (only voters
//! and stand-bys are, as in LXD), so openraft neither replicates to them nor heartbeats
//! them. The leader still keeps their replicas current: it sends each spare the committed
//! part of its log as ordinary append-entries messages, which the spare's own Raft takes
//! as from any leader (appends, applies, and learns who leads). Nothing sent is
//! uncommitted, so a spare never holds an entry it could have to give back, and its answers
//! count for nothing: a spare cannot vote, and the leader commits without it.
//!
//! When idle, a spare hears from the leader once per [`IDLE`], not at every Raft heartbeat;
//! new entries go out after [`GATHER`], together.

use std::path::PathBuf;
use std::time::Duration;

use openraft::network::{RPCOption, RaftNetwork};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest};
use openraft::storage::RaftLogReader;
use openraft::{LogId, RaftMetrics, ServerState, Vote};

use super::log_store::LogStore;
use super::network::PeerConnection;
use super::state_machine::current_snapshot;
use super::{NodeId, Raft, TypeConfig};

/// How long the leader gathers new entries before sending them to a spare that held
/// everything: a join writes a few entries within tens of milliseconds, and each message
/// costs every spare an append (fsynced), an apply and a reply. At 100 members, sending
/// each entry at once made every join cost about a millisecond per member. A member that
/// asks for a read index ends the wait at once (see `cluster::spares::Fed::hurry`), so a
/// current read on a spare is not slowed by it.
pub const GATHER: Duration = Duration::from_millis(100);

/// Environment setting: [`GATHER`] in milliseconds instead. A tuning knob, and how tests
/// show that a read on a spare does not wait for it.
pub const GATHER_ENV: &str = "CORRAL_SPARE_GATHER_MS";

/// How long this leader gathers entries for a spare: [`GATHER`] unless [`GATHER_ENV`] says.
pub fn gather() -> Duration {
    std::env::var(GATHER_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(GATHER, Duration::from_millis)
}

/// How often an idle spare still hears from the leader. Anything new goes at once; the idle
/// message only confirms that the spare is there and holds what it held. It is what an idle
/// leader spends on each spare, so it is rare.
pub const IDLE: Duration = Duration::from_secs(5);

/// The most entries one message carries. openraft sends its followers 64 at a time to fit
/// its 30 ms heartbeat; a spare's message may take longer, and a joiner catches up faster.
const MAX_ENTRIES: u64 = 256;

/// How long one message may take.
const TTL: Duration = Duration::from_secs(4);

/// What the leader sends a spare next. Log indexes start at 0 (openraft's first entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    /// No entries: does the spare hold the entry at `prev`?
    Probe {
        /// The index asked about.
        prev: u64,
    },
    /// The entries after `prev` up to `last`.
    Entries {
        /// The entry the spare holds, which the new ones follow.
        prev: u64,
        /// The last entry sent.
        last: u64,
    },
    /// The log from its first entry up to `last`, for a spare that holds none of it.
    FromStart {
        /// The last entry sent.
        last: u64,
    },
    /// The current snapshot: the spare needs entries the leader's log no longer holds.
    Snapshot,
}

/// How a message was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The spare holds everything sent, up to this index.
    Holds(u64),
    /// The spare does not hold the entry the message followed.
    Lacks,
    /// The leader's log no longer holds what the spare needs (purged meanwhile).
    Gone,
    /// The spare has seen a newer leader: this member leads no more.
    NewerLeader,
}

/// Where feeding a spare stands: what it holds, and where to look if that is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// The spare holds the leader's log up to here.
    pub matched: Option<u64>,
    /// While `matched` is unknown: the index to ask about next (with `step` 0: the commit).
    probe: u64,
    /// How far below the last miss the next probe looks (doubling per miss).
    step: u64,
    /// The spare lacks even the first entry asked about: send from the start.
    from_start: bool,
    /// What it needs is no longer in the log: send the snapshot.
    gone: bool,
}

impl Position {
    /// The next message, at the leader's `commit` index with its log purged up to `purged`.
    pub fn plan(&self, commit: u64, purged: Option<u64>) -> Send {
        let before_log = |index: u64| purged.is_some_and(|p| index < p);
        if self.gone {
            return Send::Snapshot;
        }
        match self.matched {
            Some(k) if before_log(k) => Send::Snapshot,
            Some(k) if k < commit => Send::Entries {
                prev: k,
                last: commit.min(k + MAX_ENTRIES),
            },
            Some(_) => Send::Probe { prev: commit },
            None if self.from_start && purged.is_none() => Send::FromStart {
                last: commit.min(MAX_ENTRIES - 1),
            },
            None if self.from_start => Send::Snapshot,
            None => {
                let probe = if self.step == 0 { commit } else { self.probe };
                if before_log(probe) {
                    Send::Snapshot
                } else {
                    Send::Probe {
                        prev: probe.min(commit),
                    }
                }
            }
        }
    }

    /// Takes in the answer to `sent`.
    pub fn answered(&mut self, sent: Send, answer: Answer) {
        match answer {
            Answer::Holds(index) => {
                *self = Position {
                    matched: Some(index),
                    ..Position::default()
                }
            }
            Answer::Lacks => {
                self.matched = None;
                match sent {
                    Send::Probe { prev: 0 } | Send::Entries { prev: 0, .. } => {
                        self.from_start = true
                    }
                    Send::Probe { prev } | Send::Entries { prev, .. } => {
                        self.step = (self.step * 2).max(1);
                        self.probe = prev.saturating_sub(self.step);
                    }
                    Send::FromStart { .. } | Send::Snapshot => self.gone = true,
                }
            }
            Answer::Gone => self.gone = true,
            Answer::NewerLeader => *self = Position::default(),
        }
    }
}

/// The leader's side of feeding one spare.
pub struct Feed {
    /// The spare's Raft id.
    pub target: NodeId,
    connection: PeerConnection,
    log: LogStore,
    snapshots: PathBuf,
    /// Where feeding it stands.
    pub position: Position,
}

/// Why one round of feeding failed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// This member does not lead (any more).
    #[error("this member is not the leader")]
    NotLeader,
    /// The spare did not answer, or the leader's storage failed.
    #[error("{0}")]
    Failed(String),
}

impl Feed {
    /// Feeding `target` through `connection`, from `log`, with snapshots from `snapshots`.
    pub fn new(
        target: NodeId,
        connection: PeerConnection,
        log: LogStore,
        snapshots: PathBuf,
    ) -> Self {
        Self {
            target,
            connection,
            log,
            snapshots,
            position: Position::default(),
        }
    }

    /// Sends the spare its next message from `raft`'s log, and returns what it holds now.
    pub async fn round(&mut self, raft: &Raft) -> Result<u64, FeedError> {
        let m: RaftMetrics<NodeId, openraft::BasicNode> = raft.metrics().borrow().clone();
        // A stopped Raft's last metrics may still say it leads.
        if m.state != ServerState::Leader || m.running_state.is_err() {
            return Err(FeedError::NotLeader);
        }
        let Some(commit) = m.last_applied else {
            return Err(FeedError::NotLeader);
        };
        let sent = self.position.plan(commit.index, m.purged.map(|l| l.index));
        let answer = match sent {
            Send::Snapshot => self.send_snapshot(m.vote).await?,
            Send::Probe { prev } => {
                self.send(m.vote, Some(prev), prev, commit, m.purged)
                    .await?
            }
            Send::Entries { prev, last } => {
                self.send(m.vote, Some(prev), last, commit, m.purged)
                    .await?
            }
            Send::FromStart { last } => self.send(m.vote, None, last, commit, m.purged).await?,
        };
        self.position.answered(sent, answer);
        match answer {
            Answer::NewerLeader => Err(FeedError::NotLeader),
            _ => Ok(self.position.matched.unwrap_or(0)),
        }
    }

    /// Sends the entries after `prev` (`None`: from the first) up to `last`.
    async fn send(
        &mut self,
        vote: Vote<NodeId>,
        prev: Option<u64>,
        last: u64,
        commit: LogId<NodeId>,
        purged: Option<LogId<NodeId>>,
    ) -> Result<Answer, FeedError> {
        let first = prev.unwrap_or(0);
        let mut entries = self
            .log
            .try_get_log_entries(first..=last)
            .await
            .map_err(|e| FeedError::Failed(format!("reading the log: {e}")))?;
        // The entry at `prev` names it; when purged, the purge point does.
        let prev_log_id = match prev {
            None => None,
            Some(p) if purged.is_some_and(|l| l.index == p) => purged,
            Some(p) => match entries.first() {
                Some(e) if e.log_id.index == p => Some(e.log_id),
                _ => return Ok(Answer::Gone),
            },
        };
        entries.retain(|e| prev.is_none_or(|p| e.log_id.index > p));
        let expected_first = prev.map_or(0, |p| p + 1);
        if entries
            .first()
            .is_some_and(|e| e.log_id.index != expected_first)
        {
            return Ok(Answer::Gone);
        }
        let sent_last = entries.last().map(|e| e.log_id.index);
        let rpc = AppendEntriesRequest {
            vote,
            prev_log_id,
            entries,
            leader_commit: Some(commit),
        };
        let answer = self
            .connection
            .append_entries(rpc, RPCOption::new(TTL))
            .await
            .map_err(|e| FeedError::Failed(e.to_string()))?;
        Ok(match answer {
            AppendEntriesResponse::Success => match sent_last.or(prev) {
                Some(index) => Answer::Holds(index),
                None => Answer::Lacks,
            },
            AppendEntriesResponse::PartialSuccess(Some(l)) => Answer::Holds(l.index),
            AppendEntriesResponse::PartialSuccess(None) | AppendEntriesResponse::Conflict => {
                Answer::Lacks
            }
            AppendEntriesResponse::HigherVote(_) => Answer::NewerLeader,
        })
    }

    async fn send_snapshot(&mut self, vote: Vote<NodeId>) -> Result<Answer, FeedError> {
        let dir = self.snapshots.clone();
        let read = move || current_snapshot(&dir).map_err(|e| e.to_string());
        let snapshot = tokio::task::spawn_blocking(read)
            .await
            .map_err(|e| FeedError::Failed(e.to_string()))?
            .map_err(|e| FeedError::Failed(format!("reading the snapshot: {e}")))?
            .ok_or_else(|| {
                FeedError::Failed("the log is purged but this member has no snapshot".into())
            })?;
        let data = snapshot.snapshot.into_inner();
        let chunk = super::config().snapshot_max_chunk_size as usize;
        let mut offset = 0;
        loop {
            let end = (offset + chunk).min(data.len());
            let rpc = InstallSnapshotRequest::<TypeConfig> {
                vote,
                meta: snapshot.meta.clone(),
                offset: offset as u64,
                data: data[offset..end].to_vec(),
                done: end == data.len(),
            };
            let answer = self
                .connection
                .install_snapshot(rpc, RPCOption::new(TTL))
                .await
                .map_err(|e| FeedError::Failed(e.to_string()))?;
            if answer.vote > vote {
                return Ok(Answer::NewerLeader);
            }
            if end == data.len() {
                let index = snapshot.meta.last_log_id.map_or(0, |l| l.index);
                return Ok(Answer::Holds(index));
            }
            offset = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(matched: Option<u64>) -> Position {
        Position {
            matched,
            ..Position::default()
        }
    }

    #[test]
    fn the_plan_follows_what_the_spare_holds() {
        // (what the spare holds, commit, purged up to, expected)
        let cases = [
            (Some(10), 10, None, Send::Probe { prev: 10 }),
            (Some(10), 20, None, Send::Entries { prev: 10, last: 20 }),
            (
                Some(10),
                500,
                None,
                Send::Entries {
                    prev: 10,
                    last: 266,
                },
            ),
            (Some(10), 500, Some(11), Send::Snapshot),
            (
                Some(11),
                500,
                Some(11),
                Send::Entries {
                    prev: 11,
                    last: 267,
                },
            ),
            (None, 50, None, Send::Probe { prev: 50 }),
            (None, 0, None, Send::Probe { prev: 0 }),
        ];
        for (matched, commit, purged, want) in cases {
            assert_eq!(
                at(matched).plan(commit, purged),
                want,
                "holds {matched:?}, commit {commit}, purged {purged:?}"
            );
        }
    }

    #[test]
    fn misses_look_further_back_each_time_and_a_hit_resumes_from_it() {
        let mut p = Position::default();
        // Unknown: ask about the commit index first.
        let first = p.plan(100, None);
        assert_eq!(first, Send::Probe { prev: 100 });
        p.answered(first, Answer::Lacks);
        assert_eq!(p.plan(100, None), Send::Probe { prev: 99 });
        p.answered(Send::Probe { prev: 99 }, Answer::Lacks);
        assert_eq!(p.plan(100, None), Send::Probe { prev: 97 });
        p.answered(Send::Probe { prev: 97 }, Answer::Lacks);
        assert_eq!(p.plan(100, None), Send::Probe { prev: 93 });
        // Below what the log still holds: the snapshot.
        assert_eq!(p.plan(100, Some(95)), Send::Snapshot);
        p.answered(Send::Probe { prev: 93 }, Answer::Holds(93));
        assert_eq!(
            p.plan(100, None),
            Send::Entries {
                prev: 93,
                last: 100
            }
        );
        // A spare that lost entries it had is probed again from there.
        p.answered(
            Send::Entries {
                prev: 93,
                last: 100,
            },
            Answer::Lacks,
        );
        assert_eq!(p.matched, None);
        assert_eq!(p.plan(100, None), Send::Probe { prev: 92 });
        // A newer leader: start over.
        p.answered(Send::Probe { prev: 92 }, Answer::NewerLeader);
        assert_eq!(p, Position::default());
    }

    #[test]
    fn a_spare_with_an_empty_log_gets_it_from_the_start_or_the_snapshot() {
        let mut p = Position::default();
        p.answered(Send::Probe { prev: 0 }, Answer::Lacks);
        assert_eq!(p.plan(10, None), Send::FromStart { last: 10 });
        assert_eq!(p.plan(500, None), Send::FromStart { last: 255 });
        // Once the log is purged, its start is in the snapshot.
        assert_eq!(p.plan(500, Some(200)), Send::Snapshot);
        p.answered(Send::FromStart { last: 10 }, Answer::Holds(10));
        assert_eq!(p.plan(12, None), Send::Entries { prev: 10, last: 12 });
        // Purged while it was being read: the snapshot, whatever the plan said.
        p.answered(Send::Entries { prev: 10, last: 12 }, Answer::Gone);
        assert_eq!(p.plan(12, None), Send::Snapshot);
    }
}
