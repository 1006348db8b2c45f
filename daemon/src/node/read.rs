//! Current reads. Before deciding on something (is this certificate trusted, does this
//! token exist, what is the config being changed), a member makes sure its replica holds
//! everything the leader had committed when the decision was asked for (the read barrier).
//! Every API read of replicated state does the same ([`Node::read_current`]); when no leader
//! can confirm the replica in time (quorum lost), the answer comes from the replica as it is
//! and carries a [`Stale`] mark saying whose copy it is, how far it goes and since when.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use corral_shared::client::Stale;

use super::Node;
use super::lease::{ReadIndexSource, lease_read_index, read_index_source, renewed};
use crate::error::{Error, Result};
use crate::peers::PeerError;
use crate::raft::state_machine::read_applied;

/// How long a decision may wait for the replica to catch up.
const READ_TIMEOUT: Duration = Duration::from_secs(4);

/// How long an API read waits for a leader to confirm this replica current before it
/// answers from the replica as it is, marked stale. An election (about 0.35 s) fits in it.
pub const CONFIRM_WAIT: Duration = Duration::from_secs(1);

/// A value read from this member's replica, and whether a leader confirmed it current.
#[derive(Debug, Clone, PartialEq)]
pub struct Read<T> {
    /// What was read.
    pub value: T,
    /// Set when no leader confirmed the replica in time: then `value` is this member's
    /// copy as it was, and the answer must say so.
    pub stale: Option<Stale>,
}

impl<T> Read<T> {
    /// A value read from a replica confirmed current.
    pub fn current(value: T) -> Self {
        Read { value, stale: None }
    }

    /// The same read, its value transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Read<U> {
        Read {
            value: f(self.value),
            stale: self.stale,
        }
    }
}

/// Why the leader's quorum round gave no read index (shared by the reads that waited on it).
#[derive(Debug, Clone)]
pub(super) enum Round {
    /// No quorum answered within [`READ_TIMEOUT`].
    TimedOut,
    /// Raft refused (this member is not the leader any more, say).
    Refused(String),
}

/// When this member's replica was last confirmed to hold every write acknowledged before
/// then: the moment a read that a leader confirmed began.
#[derive(Debug, Default)]
pub(super) struct Confirmed(Mutex<Option<SystemTime>>);

impl Confirmed {
    /// Records a confirmation of a read that began at `at` (an older one changes nothing).
    fn note(&self, at: SystemTime) {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|l| l < at) {
            *last = Some(at);
        }
    }

    /// The last confirmation, if there was one.
    fn last(&self) -> Option<SystemTime> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets confirmations (the replica was replaced).
    pub(super) fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl Node {
    /// On the leader, for member `asker` (`None`: one that did not say) about to read:
    /// [`Node::read_index_as_leader`], and if the asker is a spare, it is sent at once what
    /// the leader gathered for it, so it soon holds that index.
    pub async fn read_index_for_member(&self, asker: Option<u64>) -> Result<u64> {
        let index = self.read_index_as_leader().await?;
        self.spares.hurry(asker);
        Ok(index)
    }

    /// On the leader: the index reads must see. Within a lease no round is needed: the
    /// index is the end of this leader's log (see [`lease_read_index`]). Otherwise a quorum
    /// confirms leadership first, which also renews the lease.
    pub async fn read_index_as_leader(&self) -> Result<u64> {
        if let Some(index) = self.lease_read_index() {
            return Ok(index);
        }
        // Reads that find the lease run out together share one round (begun after each of
        // them began, see `read_index::Shared`): sixteen writers each confirming on their
        // own sent sixteen rounds to every voter at once, each round a Raft message per
        // peer, and more messages in flight than kept lines meant new connections.
        match self.leader_round.index(|| self.quorum_round()).await {
            Ok(index) => Ok(index.max(self.applied_index())),
            Err(Round::TimedOut) => Err(Error::Unavailable(
                crate::cluster::quorum::diagnose(self, READ_TIMEOUT).await,
            )),
            Err(Round::Refused(e)) => Err(Error::Unavailable(format!(
                "this member cannot serve a current read: {e}"
            ))),
        }
    }

    /// The read index from the lease, if it covers now.
    fn lease_read_index(&self) -> Option<u64> {
        let (term, last_log_index) = leading(&self.raft());
        let held = *self.lease.lock().unwrap_or_else(|p| p.into_inner());
        (read_index_source(held, term, Instant::now()) == ReadIndexSource::Lease)
            .then(|| lease_read_index(last_log_index, self.applied_index()))
    }

    /// One quorum round confirming the leadership, which renews the lease; none when a
    /// round that ended while this one waited to start left a lease that covers now.
    async fn quorum_round(&self) -> std::result::Result<u64, Round> {
        if let Some(index) = self.lease_read_index() {
            return Ok(index);
        }
        let raft = self.raft();
        let term = leading_term(&raft);
        let started = Instant::now();
        match tokio::time::timeout(READ_TIMEOUT, raft.ensure_linearizable()).await {
            Err(_) => Err(Round::TimedOut),
            Ok(Ok(read)) => {
                let won = renewed(
                    term,
                    leading_term(&raft),
                    started,
                    crate::raft::followers_lease(),
                );
                if won.is_some() {
                    *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = won;
                }
                Ok(read.map_or(0, |l| l.index))
            }
            Ok(Err(e)) => Err(Round::Refused(e.to_string())),
        }
    }

    /// Waits until this member's replica is at least as current as the leader's was now.
    /// During an election it waits (bounded) for the new leader, as writes do; past that,
    /// the error explains what is unreachable.
    pub async fn read_barrier(&self) -> Result<()> {
        match self.catch_up(READ_TIMEOUT).await {
            Err(Behind::NoReadIndex) => Err(Error::Unavailable(
                crate::cluster::quorum::diagnose(self, READ_TIMEOUT).await,
            )),
            Err(Behind::Stopped) => Err(self.stopped().await),
            other => other.map(drop).map_err(Behind::into_error),
        }
    }

    /// [`Node::read_barrier`] giving up on finding the leader's index after `limit` (and on
    /// catching up with it after as long again), without the diagnosis.
    pub async fn read_barrier_within(&self, limit: Duration) -> Result<()> {
        self.catch_up(limit)
            .await
            .map(drop)
            .map_err(Behind::into_error)
    }

    /// Waits until the replica holds the leader's read index, and returns it (0 when this
    /// server is not clustered).
    async fn catch_up(&self, limit: Duration) -> std::result::Result<u64, Behind> {
        if !self.is_clustered() {
            return Ok(0);
        }
        let started = SystemTime::now();
        let deadline = tokio::time::Instant::now() + limit;
        let index = self.confirmed_index(deadline).await?;
        self.applied_up_to(index, deadline + limit).await?;
        self.confirmed.note(started);
        Ok(index)
    }

    /// Runs `query` on the replica, answering as [`Node::read_recent`] does within
    /// [`CONFIRM_WAIT`]: what every API read of replicated state uses.
    pub async fn read_current<T, F>(&self, query: F) -> Result<Read<T>>
    where
        T: Send + 'static,
        F: Fn(&rusqlite::Connection) -> rusqlite::Result<T> + Clone + Send + 'static,
    {
        self.read_recent(CONFIRM_WAIT, query).await
    }

    /// Runs `query` on the replica so that it reflects every write acknowledged before the
    /// call (a linearizable read) when a leader confirms its read index within `limit`;
    /// otherwise on the replica as it is, with a [`Stale`] mark. Away from the leader the
    /// query runs while the leader is asked: the replica nearly always holds that index
    /// already, so the answer costs one round trip rather than a round trip and then the
    /// query.
    pub async fn read_recent<T, F>(&self, limit: Duration, query: F) -> Result<Read<T>>
    where
        T: Send + 'static,
        F: Fn(&rusqlite::Connection) -> rusqlite::Result<T> + Clone + Send + 'static,
    {
        let read = |q: F| {
            self.global.read(move |c| {
                let seen = read_applied(c)?.map_or(0, |l| l.index);
                Ok((seen, q(c)?))
            })
        };
        if !self.is_clustered() {
            // A standalone server's replica is the only one: always current.
            return Ok(Read::current(read(query).await?.1));
        }
        if self.is_leader() {
            // Here the index is known without a round trip (within the lease).
            let caught_up = self.catch_up(limit).await;
            let (seen, value) = read(query).await?;
            let behind = match caught_up {
                Ok(index) => short_of(seen, index),
                Err(why) => Some(why),
            };
            return self.answer(value, seen, behind, None).await;
        }
        let started = SystemTime::now();
        let deadline = tokio::time::Instant::now() + limit;
        let (index, early) = tokio::join!(self.confirmed_index(deadline), read(query.clone()));
        let (seen, value) = early?;
        let index = match index {
            Ok(index) if seen >= index => {
                return self.answer(value, seen, None, Some(started)).await;
            }
            Ok(index) => index,
            Err(e) => return self.answer(value, seen, Some(e), None).await,
        };
        let behind = self.applied_up_to(index, deadline + limit).await.err();
        let (seen, value) = read(query).await?;
        let behind = behind.or_else(|| short_of(seen, index));
        self.answer(value, seen, behind, Some(started)).await
    }

    /// The answer to a read of `value` from the replica at applied index `seen`: current
    /// unless the replica could not be confirmed (`behind`), then marked stale. A read that
    /// began at `started` and was confirmed here is recorded.
    async fn answer<T>(
        &self,
        value: T,
        seen: u64,
        behind: Option<Behind>,
        started: Option<SystemTime>,
    ) -> Result<Read<T>> {
        let why = match behind {
            None => {
                if let Some(at) = started {
                    self.confirmed.note(at);
                }
                return Ok(Read::current(value));
            }
            Some(Behind::Stopped) => return Err(self.stopped().await),
            Some(why) => why.into_error(),
        };
        tracing::debug!("answering from this replica as it is (log index {seen}): {why}");
        let member = self.own_name().await;
        Ok(Read {
            value,
            stale: Some(Stale {
                member,
                applied_index: seen,
                as_of: self.confirmed.last().map(time::OffsetDateTime::from),
            }),
        })
    }

    /// Why a read found this member's Raft stopped: a full disk says so (its Raft waits
    /// for space), anything else is the database stopping.
    async fn stopped(&self) -> Error {
        match self.refusal_for_space().await {
            Some(full) => full,
            None => Behind::Stopped.into_error(),
        }
    }

    /// The leader's read index, retrying (until `deadline`) while no leader answers.
    async fn confirmed_index(
        &self,
        deadline: tokio::time::Instant,
    ) -> std::result::Result<u64, Behind> {
        loop {
            // The leader's own confirmation may wait long for a quorum; the deadline bounds it.
            let asked = tokio::time::timeout_at(deadline, self.read_index()).await;
            match asked {
                Ok(Ok(index)) => return Ok(index),
                Err(_) => return Err(Behind::NoReadIndex),
                Ok(Err(_)) if tokio::time::Instant::now() < deadline => {
                    // The leader we knew may be gone: wait for Raft to learn more, then retry.
                    let mut metrics = self.raft().metrics();
                    let changed =
                        tokio::time::timeout(Duration::from_millis(200), metrics.changed());
                    let _ = tokio::time::timeout_at(deadline, changed).await;
                }
                Ok(Err(_)) => return Err(Behind::NoReadIndex),
            }
        }
    }

    /// Waits (until `deadline`) for the replica to apply the log up to `index`.
    async fn applied_up_to(
        &self,
        index: u64,
        deadline: tokio::time::Instant,
    ) -> std::result::Result<(), Behind> {
        applied_up_to(self.applied_watch(), index, deadline).await
    }

    /// The leader's read index: asked of the leader (one request shared by the reads that
    /// overlap it, see [`super::read_index`]), or worked out here when this is it.
    async fn read_index(&self) -> Result<u64> {
        if self.is_leader() {
            return self.read_index_as_leader().await;
        }
        self.leader_read_index
            .index(|| self.ask_leader_for_read_index())
            .await
            .map_err(Error::Unavailable)
    }

    /// One request for the leader's read index; its error says why, for every read sharing it.
    async fn ask_leader_for_read_index(&self) -> std::result::Result<u64, String> {
        let peers = crate::peers::Peers::of(self).map_err(|e| e.to_string())?;
        let leader = peers
            .leader()
            .ok_or_else(|| "no database leader is known right now".to_owned())?;
        leader.read_index(self.id()).await.map_err(|e| match e {
            PeerError::Rpc { address, message } => {
                format!("the leader at {address} cannot confirm a current read: {message}")
            }
            e => format!("the leader at {} did not answer: {e}", leader.address()),
        })
    }
}

/// Waits (until `deadline`) for `applied` to reach `index`.
async fn applied_up_to(
    mut applied: tokio::sync::watch::Receiver<u64>,
    index: u64,
    deadline: tokio::time::Instant,
) -> std::result::Result<(), Behind> {
    let caught_up = applied.wait_for(|a| *a >= index);
    match tokio::time::timeout_at(deadline, caught_up).await {
        Err(_) => Err(Behind::NotApplied(index)),
        Ok(Err(_)) => Err(Behind::Stopped),
        Ok(Ok(_)) => Ok(()),
    }
}

/// Whether a value read from the replica at applied index `seen` falls short of the read
/// index a leader confirmed: then it must not be answered as current, whatever the wait
/// before it reported (the value is judged by what it was read at, not by the wait).
fn short_of(seen: u64, read_index: u64) -> Option<Behind> {
    (seen < read_index).then_some(Behind::NotApplied(read_index))
}

/// The term this member leads in, if it is the leader.
fn leading_term(raft: &crate::raft::Raft) -> Option<u64> {
    leading(raft).0
}

/// [`leading_term`], and where this member's log ends, from one look at Raft's metrics (a
/// read within the lease needs both).
fn leading(raft: &crate::raft::Raft) -> (Option<u64>, Option<u64>) {
    let m = raft.metrics();
    let m = m.borrow();
    let term = (m.state == openraft::ServerState::Leader).then_some(m.current_term);
    (term, m.last_log_index)
}

/// Why a read barrier gave up.
#[derive(Debug, PartialEq)]
enum Behind {
    /// No leader confirmed a current read index in time.
    NoReadIndex,
    /// The replica did not apply up to this index in time.
    NotApplied(u64),
    /// The database stopped while waiting.
    Stopped,
}

impl Behind {
    fn into_error(self) -> Error {
        match self {
            Behind::NoReadIndex => Error::Unavailable(
                "no database leader confirmed a current read in time; see 'corral cluster doctor'"
                    .into(),
            ),
            Behind::NotApplied(index) => Error::Unavailable(format!(
                "this member's replica did not reach log index {index} in time"
            )),
            Behind::Stopped => Error::Internal("the database stopped".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::watch;
    use tokio::time::Instant;

    use super::*;

    /// A read at index 10 on a replica that has applied 7 returns only once 10 is applied.
    #[tokio::test]
    async fn a_read_index_waits_until_the_replica_applies_it() {
        let (applied, watch) = watch::channel(7);
        let deadline = Instant::now() + Duration::from_secs(10);
        let waiting = tokio::spawn(applied_up_to(watch, 10, deadline));
        for index in 8..=9 {
            applied.send_replace(index);
            tokio::task::yield_now().await;
            assert!(!waiting.is_finished(), "returned at applied index {index}");
        }
        applied.send_replace(10);
        assert_eq!(waiting.await.unwrap(), Ok(()));
    }

    #[test]
    fn a_value_read_below_the_read_index_is_not_current() {
        // (applied index the value was read at, confirmed read index, short of it)
        let cases = [
            (10, 10, None),
            (11, 10, None),
            (9, 10, Some(Behind::NotApplied(10))),
            (0, 1, Some(Behind::NotApplied(1))),
            (0, 0, None),
        ];
        for (seen, index, want) in cases {
            assert_eq!(short_of(seen, index), want, "read at {seen}, index {index}");
        }
    }

    #[tokio::test]
    async fn a_read_index_already_applied_needs_no_wait_and_others_are_bounded() {
        let soon = || Instant::now() + Duration::from_millis(50);
        // (applied, read index, outcome); the sender stays open unless noted.
        let cases = [
            (10, 10, Ok(())),
            (12, 10, Ok(())),
            (9, 10, Err(Behind::NotApplied(10))),
            (0, 1, Err(Behind::NotApplied(1))),
        ];
        for (applied, index, outcome) in cases {
            let (_sender, watch) = watch::channel(applied);
            assert_eq!(
                applied_up_to(watch, index, soon()).await,
                outcome,
                "applied {applied}, read index {index}"
            );
        }
        // The database stopped while waiting: said, not waited out.
        let (sender, watch) = watch::channel(3);
        drop(sender);
        assert_eq!(
            applied_up_to(watch, 5, Instant::now() + Duration::from_secs(10)).await,
            Err(Behind::Stopped)
        );
    }
}
