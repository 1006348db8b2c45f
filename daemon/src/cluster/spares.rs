//! Spares: members that hold no database role and are not in the Raft membership, whose
//! replicas the leader keeps current all the same (see [`crate::raft::spare_feed`]). Which
//! members the leader feeds, the loop that feeds them, and what each was last seen to hold
//! (the rebalance promotes only spares it can reach).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::db::global::nodes::MemberState;
use crate::db::global::queries::{self, MemberRow};
use crate::node::Node;
use crate::raft::NodeId;
use crate::raft::spare_feed::{self, Feed, FeedError, IDLE};

/// How recently a spare must have answered for the rebalance to count it as reachable: it
/// hears from the leader at least every [`IDLE`].
const ANSWERED_WITHIN: Duration = Duration::from_secs(3 * IDLE.as_secs());

/// The longest pause between attempts to reach a spare that does not answer: a restarted
/// spare is fed again within it. A restarted spare learns who leads from its first feed, so
/// this must stay well inside the second a read waits for a leader's confirmation before
/// it answers from the replica marked stale (at 1 s, a read right after a restart could
/// lose that race).
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// The members to feed: every member outside the Raft membership except this one and those
/// `recover-from-quorum-loss` left out (their copies may hold writes the cluster never
/// committed; they wait to be removed).
pub fn targets(
    rows: &[MemberRow],
    in_raft: &BTreeSet<NodeId>,
    own: NodeId,
) -> Vec<(NodeId, String)> {
    rows.iter()
        .filter(|r| r.id != own && !in_raft.contains(&r.id))
        .filter(|r| r.state != MemberState::Lost && !r.address.is_empty())
        .map(|r| (r.id, r.address.clone()))
        .collect()
}

/// What each spare fed by this member (while it leads) holds, and when it last answered.
#[derive(Debug)]
pub struct Fed {
    spares: Mutex<HashMap<NodeId, (u64, Instant)>>,
    /// Bumped at every answer, for whoever waits for a spare to catch up.
    answers: tokio::sync::watch::Sender<u64>,
    /// Bumped when a join waits: the loop looks for new spares and retries failing ones now.
    kick: tokio::sync::watch::Sender<u64>,
    /// Each feed's bell: rung when someone waits for that spare to hold the newest
    /// entries, so a feed gathering entries (see [`spare_feed::GATHER`]) sends them now.
    bells: Mutex<HashMap<NodeId, Arc<Notify>>>,
}

impl Default for Fed {
    fn default() -> Self {
        Self {
            spares: Mutex::default(),
            answers: tokio::sync::watch::channel(0).0,
            kick: tokio::sync::watch::channel(0).0,
            bells: Mutex::default(),
        }
    }
}

impl Fed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, (u64, Instant)>> {
        self.spares.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn answered(&self, id: NodeId, holds: u64) {
        self.lock().insert(id, (holds, Instant::now()));
        self.answers.send_modify(|n| *n += 1);
    }

    fn forget_all_but(&self, kept: &BTreeSet<NodeId>) {
        self.lock().retain(|id, _| kept.contains(id));
        self.bells().retain(|id, _| kept.contains(id));
    }

    fn bells(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Arc<Notify>>> {
        self.bells.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bell of the feed of spare `id`.
    fn bell(&self, id: NodeId) -> Arc<Notify> {
        self.bells().entry(id).or_default().clone()
    }

    /// The spares that answered recently: their replicas are current, so they may be given
    /// a database role.
    pub fn reachable(&self) -> BTreeSet<NodeId> {
        self.lock()
            .iter()
            .filter(|(_, (_, at))| at.elapsed() < ANSWERED_WITHIN)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Has the feed of member `asker` send what it gathered now: the member waits for the
    /// newest entries (it asked for a read index, or it is joining). A member that did not
    /// say who it is (an older version) hurries every feed. A member that is not a spare
    /// has no feed, and hurries none.
    pub fn hurry(&self, asker: Option<NodeId>) {
        let bells = self.bells();
        match asker {
            // A bell rung with no one waiting keeps the ring: the next gathering is skipped.
            Some(id) => {
                if let Some(bell) = bells.get(&id) {
                    bell.notify_one();
                }
            }
            None => bells.values().for_each(|bell| bell.notify_one()),
        }
    }

    /// The index spare `id` was last seen to hold.
    pub fn holds(&self, id: NodeId) -> Option<u64> {
        self.lock().get(&id).map(|(index, _)| *index)
    }
}

/// Waits (on the leader) until member `id` holds the log up to `index`: fed as a spare, or
/// replicated by Raft if the role rule made it a database member meanwhile. A new member is
/// fed at once.
pub async fn caught_up(node: &Node, id: NodeId, index: u64) {
    let mut answers = node.spares.answers.subscribe();
    let mut raft = node.raft().metrics();
    node.spares.kick.send_modify(|n| *n += 1);
    node.spares.hurry(Some(id));
    loop {
        let replicated = raft
            .borrow_and_update()
            .replication
            .as_ref()
            .and_then(|r| r.get(&id).cloned().flatten())
            .map(|l| l.index);
        let fed = node.spares.holds(id);
        if replicated.max(fed).is_some_and(|holds| holds >= index) {
            return;
        }
        tokio::select! {
            _ = answers.changed() => {}
            changed = raft.changed() => {
                if changed.is_err() {
                    // Its Raft was replaced (or stopped): follow the current one after the
                    // next answer of a spare.
                    raft = node.raft().metrics();
                    let _ = answers.changed().await;
                }
            }
        }
    }
}

/// Feeds the spares for as long as the member lives, whenever it leads.
pub fn spawn(node: &Arc<Node>) {
    let tasks = node.tasks.clone();
    let node = Arc::downgrade(node);
    tasks.spawn("feeding spares", async move { supervise(node).await });
}

/// Keeps one feeding task per spare while this member leads: starts one for each new spare,
/// stops those of members that left or joined Raft.
async fn supervise(node: Weak<Node>) {
    let mut running: HashMap<NodeId, (String, tokio::task::AbortHandle)> = HashMap::new();
    let mut feeds = JoinSet::new();
    loop {
        while feeds.try_join_next().is_some() {}
        let Some(n) = node.upgrade() else { return };
        let wanted = if n.is_clustered() && n.is_leader() {
            let raft = n.raft();
            let in_raft: BTreeSet<NodeId> = raft
                .metrics()
                .borrow()
                .membership_config
                .membership()
                .nodes()
                .map(|(id, _)| *id)
                .collect();
            let rows = n
                .global
                .read(queries::member_rows)
                .await
                .unwrap_or_default();
            targets(&rows, &in_raft, n.id())
        } else {
            Vec::new()
        };
        let kept: BTreeSet<NodeId> = wanted.iter().map(|(id, _)| *id).collect();
        running.retain(|id, (address, handle)| {
            let keep = !handle.is_finished() && wanted.iter().any(|(w, a)| w == id && a == address);
            if !keep {
                handle.abort();
            }
            keep
        });
        n.spares.forget_all_but(&kept);
        for (id, address) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let handle = feeds.spawn(feed(node.clone(), id, address.clone()));
            running.insert(id, (address, handle));
        }
        let mut metrics = n.raft().server_metrics();
        // A clone of openraft's receiver: without this it reports every change since the
        // instance started, and the loop would spin.
        metrics.borrow_and_update();
        let mut kick = n.spares.kick.subscribe();
        drop(n);
        // Again after a membership or leadership change, when a join asks, or after a while.
        let look = async {
            tokio::select! {
                _ = metrics.changed() => {}
                _ = kick.changed() => {}
            }
        };
        let _ = tokio::time::timeout(IDLE, look).await;
    }
}

/// Feeds spare `id` at `address` until this member stops leading or its Raft is replaced.
async fn feed(node: Weak<Node>, id: NodeId, address: String) {
    let Some(n) = node.upgrade() else { return };
    let (raft, log) = n.raft_and_log();
    let mut applied = n.applied_watch();
    let connection = n.network.spare_connection(id, &address);
    let mut kick = n.spares.kick.subscribe();
    let bell = n.spares.bell(id);
    let gather = spare_feed::gather();
    let mut feed = Feed::new(id, connection, log, n.dirs.snapshots());
    drop(n);
    let mut backoff = Duration::ZERO;
    // A member on its way in does not answer until it has joined: only silence after
    // answers is worth a warning.
    let mut answered_once = false;
    let mut said = false;
    loop {
        match feed.round(&raft).await {
            Ok(holds) => {
                let Some(n) = node.upgrade() else { return };
                n.spares.answered(id, holds);
                drop(n);
                answered_once = true;
                if said {
                    tracing::info!("spare member {id} at {address} is fed again");
                    said = false;
                }
                backoff = Duration::ZERO;
                if holds >= *applied.borrow_and_update()
                    && let Ok(Ok(())) = tokio::time::timeout(IDLE, applied.changed()).await
                {
                    let _ = tokio::time::timeout(gather, bell.notified()).await;
                }
            }
            Err(FeedError::NotLeader) => return,
            Err(FeedError::Failed(why)) => {
                if answered_once && !said {
                    tracing::warn!(
                        "cannot feed spare member {id} at {address} (trying again): {why}"
                    );
                    said = true;
                } else {
                    tracing::debug!("cannot feed member {id} at {address} yet: {why}");
                }
                backoff = (backoff * 2).clamp(Duration::from_millis(250), MAX_BACKOFF);
                let _ = tokio::time::timeout(backoff, kick.changed()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, address: &str, state: MemberState) -> MemberRow {
        MemberRow {
            address: address.into(),
            state,
            ..MemberRow::sample(id)
        }
    }

    #[test]
    fn the_leader_feeds_members_outside_raft_except_lost_ones() {
        let rows = vec![
            row(1, "10.0.0.1:8443", MemberState::Created),
            row(2, "10.0.0.2:8443", MemberState::Created),
            row(3, "10.0.0.3:8443", MemberState::Evacuated),
            row(4, "10.0.0.4:8443", MemberState::Lost),
            row(5, "", MemberState::Created),
            row(6, "10.0.0.6:8443", MemberState::Stopping),
        ];
        let in_raft = BTreeSet::from([1, 2]);
        let fed: Vec<u64> = targets(&rows, &in_raft, 1)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(fed, vec![3, 6]);
        // The leader itself is never fed, in Raft or not.
        let fed: Vec<u64> = targets(&rows, &BTreeSet::new(), 1)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(fed, vec![2, 3, 6]);
    }
}
