//! Group commit: batches proposed while an earlier entry is still being committed wait, then
//! go together as one Raft entry. openraft 0.9 fsyncs each entry on the leader before it
//! replicates it, one entry at a time, so sixteen writers proposing one entry each paid
//! sixteen serial fsyncs; grouped they pay one.

use std::sync::{Arc, Mutex};

use openraft::BasicNode;
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::oneshot;

use crate::db::batch::{Batch, BatchOutcome};
use crate::db::proposal::Proposal;
use crate::raft::{NodeId, Raft};

/// Why a grouped write was not committed (every batch of the group gets the same answer).
pub type WriteError = RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>;

/// At most this many batches go in one entry.
const MAX_BATCHES: usize = 64;
/// A group stops growing past this many bytes of SQL and parameters (a lone bigger batch
/// still goes, alone), so an entry stays far below the 4 MiB gRPC message limit.
const MAX_BYTES: usize = 512 * 1024;

/// The queue of one Raft instance's writers; clones share it.
#[derive(Clone)]
pub struct GroupCommit {
    raft: Raft,
    queue: Arc<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Whether a committer task is running (it empties the queue before it ends).
    committing: bool,
}

struct Waiting {
    batch: Batch,
    reply: oneshot::Sender<Result<BatchOutcome, WriteError>>,
}

impl GroupCommit {
    /// A queue in front of `raft`.
    pub fn new(raft: Raft) -> Self {
        Self {
            raft,
            queue: Arc::default(),
        }
    }

    /// Commits `batch` (with whatever else is queued) and returns its own outcome. Dropping
    /// the future does not withdraw the batch: once queued it is proposed.
    pub async fn write(self, batch: Batch) -> Result<BatchOutcome, WriteError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.waiting.push(Waiting { batch, reply });
            !std::mem::replace(&mut queue.committing, true)
        };
        if start {
            // A task of its own, so a writer that gives up cannot strand the others.
            tokio::spawn(self.clone().commit_all());
        }
        answer
            .await
            .unwrap_or(Err(RaftError::Fatal(openraft::error::Fatal::Stopped)))
    }

    /// Proposes queued batches one group at a time until none is left.
    async fn commit_all(self) {
        loop {
            let group = {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                let group = take_group(&mut queue.waiting);
                if group.is_empty() {
                    queue.committing = false;
                    return;
                }
                group
            };
            let (batches, replies): (Vec<_>, Vec<_>) =
                group.into_iter().map(|w| (w.batch, w.reply)).unzip();
            match self.raft.client_write(Proposal { batches }).await {
                Ok(resp) => {
                    let mut outcomes = resp.data.into_iter();
                    for reply in replies {
                        let _ = reply.send(Ok(outcomes.next().unwrap_or_default()));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}

/// Takes the next group off the front of the queue: in order, within both limits, and
/// always at least one batch when any is waiting.
fn take_group(waiting: &mut Vec<Waiting>) -> Vec<Waiting> {
    let n = group_len(waiting.iter().map(|w| w.batch.size()));
    waiting.drain(..n).collect()
}

/// How many of the queued batches (their sizes in order) go in the next group.
fn group_len(sizes: impl IntoIterator<Item = usize>) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for size in sizes.into_iter().take(MAX_BATCHES) {
        if n > 0 && bytes + size > MAX_BYTES {
            break;
        }
        bytes += size;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_order_and_limits() {
        let big = MAX_BYTES;
        let cases: [(&str, Vec<usize>, usize); 6] = [
            ("nothing waiting", vec![], 0),
            ("one small", vec![100], 1),
            ("all small ones", vec![100; 10], 10),
            ("count limit", vec![10; MAX_BATCHES + 5], MAX_BATCHES),
            ("a lone oversized batch still goes", vec![big * 2, 10], 1),
            ("stops before the byte limit", vec![big / 2, big / 2, 1], 2),
        ];
        for (name, sizes, want) in cases {
            assert_eq!(group_len(sizes), want, "{name}");
        }
    }
}
