//! One feed of the cluster's picture per member, shared by every Watch stream: a single
//! task looks at the cluster when the bus says entries were applied (or Raft or time moved),
//! diffs once, encodes once, and broadcasts; each stream only forwards. So the cost of a
//! look does not grow with the number of watchers.
//!
//! The feed starts with its first watcher and stops when the last one goes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral_shared::api::{ClusterSnapshot, WatchEvent};
use openraft::{BasicNode, RaftMetrics};
use tokio::sync::{broadcast, watch};

use super::bus::{self, Happened};
use super::{Names, diff, look_at, raft_view};
use crate::error::Result;
use crate::node::Node;
use crate::raft::NodeId;

/// How often to look even without a write: local operations and members turning offline
/// as time passes move no Raft entry.
const TICK: Duration = Duration::from_secs(1);
/// How often to look at Raft's view alone: a voter going silent moves no metric.
const RAFT_TICK: Duration = Duration::from_millis(250);
/// Quiet time after a change before looking, so a burst of writes yields one diff.
const SETTLE: Duration = Duration::from_millis(50);
/// The longest a steady stream of writes may hold a look back.
const SETTLE_AT_MOST: Duration = Duration::from_millis(500);
/// Changes a watcher may fall behind by before it is sent a fresh snapshot instead.
const BACKLOG: usize = 256;

/// One change, encoded once for every watcher.
pub type Encoded = Arc<Vec<u8>>;

/// The member's shared feed, started on demand.
#[derive(Default)]
pub struct Hub {
    feed: tokio::sync::Mutex<Option<Arc<Feed>>>,
}

/// The picture every watcher starts from and the changes after it.
struct Feed {
    /// The last picture sent, and whether the feed still runs. Changes are broadcast while
    /// this is held, so a new watcher's snapshot and its first change always meet.
    latest: Mutex<Latest>,
    tx: broadcast::Sender<Encoded>,
}

struct Latest {
    snapshot: ClusterSnapshot,
    running: bool,
}

/// A watcher's start: the picture now, then every change after it.
pub struct Subscription {
    /// The picture to send first.
    pub snapshot: ClusterSnapshot,
    /// The changes after it, encoded.
    pub changes: broadcast::Receiver<Encoded>,
}

/// Encodes a change as the Watch stream carries it.
pub fn encode(event: &WatchEvent) -> Option<Encoded> {
    serde_json::to_vec(event).ok().map(Arc::new)
}

impl Hub {
    /// Joins the feed, starting it if no one watches yet.
    pub async fn subscribe(&self, node: &Arc<Node>) -> Result<Subscription> {
        let mut slot = self.feed.lock().await;
        if let Some(feed) = slot.as_ref() {
            let latest = feed.latest.lock().unwrap_or_else(|p| p.into_inner());
            if latest.running {
                return Ok(Subscription {
                    snapshot: latest.snapshot.clone(),
                    changes: feed.tx.subscribe(),
                });
            }
        }
        // Subscribe to the bus before the first look, so nothing applied while it is read
        // is missed; what it already covers is skipped by index.
        let applied = bus::bus().subscribe();
        let signal = Signal::new(node);
        let (snapshot, names, index) = look_at(node).await?;
        let (tx, changes) = broadcast::channel(BACKLOG);
        let feed = Arc::new(Feed {
            latest: Mutex::new(Latest {
                snapshot: snapshot.clone(),
                running: true,
            }),
            tx,
        });
        *slot = Some(feed.clone());
        let state = Follow {
            names,
            index,
            applied,
            signal,
        };
        if !node
            .tasks
            .spawn("watch feed", follow(node.clone(), feed.clone(), state))
        {
            // The member is stopping: no one will be told of changes any more.
            feed.stop();
        }
        Ok(Subscription { snapshot, changes })
    }
}

/// What the feed's task keeps between looks.
struct Follow {
    names: Names,
    /// The applied index of the last look's rows.
    index: u64,
    applied: broadcast::Receiver<Arc<Happened>>,
    signal: Signal,
}

/// Resolves when entries past `index` were applied (or the bus lagged, which may hide some).
async fn applied_past(rx: &mut broadcast::Receiver<Arc<Happened>>, index: u64) {
    loop {
        match rx.recv().await {
            Ok(h) => {
                if let Happened::Applied { index: now } = *h
                    && now > index
                {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

impl Follow {
    /// Waits for a burst of changes to end (or `SETTLE_AT_MOST`), so it yields one look.
    async fn settle(&mut self, node: &Node) {
        let _ = tokio::time::timeout(SETTLE_AT_MOST, async {
            loop {
                let quiet = tokio::time::timeout(SETTLE, async {
                    tokio::select! {
                        () = applied_past(&mut self.applied, self.index) => {}
                        () = self.signal.changed(node) => {}
                    }
                })
                .await;
                if quiet.is_err() {
                    return;
                }
            }
        })
        .await;
    }
}

impl Feed {
    /// Sends `events` and records `next` as the picture, together; false once no one
    /// watches (the feed then stops, and the next watcher starts another).
    fn publish(&self, events: &[WatchEvent], next: Option<ClusterSnapshot>) -> bool {
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        if self.tx.receiver_count() == 0 {
            latest.running = false;
            return false;
        }
        for event in events {
            if let Some(encoded) = encode(event) {
                let _ = self.tx.send(encoded);
            }
        }
        if let Some(next) = next {
            latest.snapshot = next;
        } else if let Some(WatchEvent::Raft(raft)) = events.last() {
            latest.snapshot.raft = raft.clone();
        }
        true
    }

    fn stop(&self) {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running = false;
    }

    fn raft(&self) -> corral_shared::api::RaftState {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot
            .raft
            .clone()
    }

    fn snapshot(&self) -> ClusterSnapshot {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot
            .clone()
    }
}

/// The feed's task: looks when something moved, until no one watches or the daemon stops.
async fn follow(node: Arc<Node>, feed: Arc<Feed>, mut state: Follow) {
    let shutdown = node.shutdown_requested();
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut raft_tick = tokio::time::interval(RAFT_TICK);
    raft_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = applied_past(&mut state.applied, state.index) => state.settle(&node).await,
            () = state.signal.changed(&node) => state.settle(&node).await,
            _ = tick.tick() => {}
            _ = raft_tick.tick() => {
                let raft = raft_view(&node, &state.names).await;
                let events = if raft != feed.raft() { vec![WatchEvent::Raft(raft)] } else { vec![] };
                if !feed.publish(&events, None) {
                    return;
                }
                continue;
            }
        }
        let (next, names, index) = match look_at(&node).await {
            Ok(look) => look,
            Err(e) => {
                // Transient (a joiner catching up, a busy database): the next look retries,
                // and its diff covers whatever this one missed.
                tracing::debug!("watch: cannot read the cluster state: {e}");
                continue;
            }
        };
        state.names = names;
        state.index = index;
        let events = diff(&feed.snapshot(), &next);
        if !feed.publish(&events, Some(next)) {
            return;
        }
    }
    feed.stop();
}

/// What about Raft, when it moves, is worth a new look: leadership and membership. Applied
/// entries come through the bus; the quorum acknowledgement times and replication progress
/// a leader publishes many times a second are not news.
type Key = (Option<NodeId>, u64, Option<u64>);

fn key(m: &RaftMetrics<NodeId, BasicNode>) -> Key {
    (
        m.current_leader,
        m.current_term,
        m.membership_config.log_id().map(|l| l.index),
    )
}

/// The Raft metrics of the member's current Raft instance, followed across its replacement
/// (a standalone server joining a cluster gets a new instance and id; the old one's channel
/// closes when it stops).
struct Signal {
    metrics: Option<watch::Receiver<RaftMetrics<NodeId, BasicNode>>>,
    id: NodeId,
    seen: Key,
}

impl Signal {
    fn new(node: &Node) -> Self {
        let mut signal = Self {
            metrics: None,
            id: node.id(),
            seen: (None, 0, None),
        };
        signal.subscribe(node);
        signal
    }

    /// Follows the member's current Raft instance; false if it has stopped and its
    /// replacement is not installed yet.
    fn subscribe(&mut self, node: &Node) -> bool {
        let mut metrics = node.raft().metrics();
        if metrics.has_changed().is_err() {
            self.metrics = None;
            return false;
        }
        self.id = node.id();
        self.seen = key(&metrics.borrow_and_update());
        self.metrics = Some(metrics);
        true
    }

    /// Resolves when Raft moved in a way worth a look, or its instance was replaced.
    async fn changed(&mut self, node: &Node) {
        loop {
            let Some(rx) = self.metrics.as_mut().filter(|_| self.id == node.id()) else {
                if self.subscribe(node) {
                    return;
                }
                // Installed only after the old instance stopped: the next tick, which drops
                // this wait, tries again.
                std::future::pending::<()>().await;
                return;
            };
            if rx.changed().await.is_err() {
                self.metrics = None;
                return;
            }
            let now = key(&rx.borrow_and_update());
            if now != self.seen {
                self.seen = now;
                return;
            }
        }
    }
}
