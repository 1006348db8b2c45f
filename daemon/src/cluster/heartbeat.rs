//! Heartbeats: the leader asks every member whether it is alive, and records the time of
//! each answer in the database, from which every member judges who is offline.

use std::sync::{Arc, Weak};
use std::time::Duration;

use corral_proto::v1::HeartbeatRequest;

use super::rebalance;
use crate::db::batch::Batch;
use crate::db::global::{nodes, queries};
use crate::node::Node;
use crate::peers::Peers;

/// How long one member may take to answer a heartbeat.
const ANSWER: Duration = Duration::from_secs(2);

/// The heartbeat period for an offline threshold: a quarter of it, between 1 and 5 s, so a
/// member is judged offline close to the threshold after its last answer.
pub fn interval(offline_threshold: Duration) -> Duration {
    (offline_threshold / 4).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// Runs heartbeats for as long as the member lives; only the leader's rounds do anything.
pub fn spawn(node: &Arc<Node>) {
    let tasks = node.tasks.clone();
    let node = Arc::downgrade(node);
    tasks.spawn("heartbeats", async move {
        loop {
            let period = match period(&node).await {
                Some(p) => p,
                None => return,
            };
            tokio::time::sleep(period).await;
            let Some(n) = node.upgrade() else { return };
            if n.is_clustered() && n.is_leader() {
                round(&n).await;
            }
        }
    });
}

async fn period(node: &Weak<Node>) -> Option<Duration> {
    let n = node.upgrade()?;
    let config = n.global.read(queries::config).await.unwrap_or_default();
    Some(interval(
        corral_shared::config::ClusterSettings::from_config(&config).offline_threshold,
    ))
}

/// One round: ask everyone, record who answered, and rebalance if the answers call for it.
pub async fn round(node: &Node) {
    let Ok(rows) = node.global.read(queries::member_rows).await else {
        return;
    };
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let Ok(peers) = Peers::of(node) else {
        return;
    };
    let others = rows
        .iter()
        .filter(|r| r.id != node.id())
        .map(|r| (r.id, r.address.clone()))
        .collect();
    // Heartbeats go out together; each is bounded by its own timeout.
    let answers = peers
        .fan_out(others, ANSWER, |member| {
            let request = HeartbeatRequest {
                leader_time_ms: now_ms as i64,
            };
            async move {
                let reply = member.heartbeat(request).await?;
                let back = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
                Ok(skew_ms(now_ms as i64, back as i64, reply.member_time_ms))
            }
        })
        .await;
    let mut alive: Vec<(u64, i64)> = answers
        .into_iter()
        .filter_map(|(id, answer)| answer.ok().map(|skew| (id, skew)))
        .collect();
    alive.push((node.id(), 0));
    let mut batch = Batch::new();
    nodes::record_heartbeats(&mut batch, &super::members::now(), &alive);
    if node.propose(batch).await.is_err() {
        return;
    }
    if rebalance::needed(node).await.unwrap_or(false) {
        let _ = rebalance::run(node).await;
    }
}

/// How far a member's clock is from the leader's: its reported time against the middle of
/// the round trip, which cancels the network delay when it is symmetric.
pub fn skew_ms(sent_ms: i64, received_ms: i64, member_ms: i64) -> i64 {
    member_ms - (sent_ms + (received_ms - sent_ms) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_measured_against_the_middle_of_the_round_trip() {
        for (sent, received, member, want) in [
            (1000, 1010, 1005, 0),
            (1000, 1010, 8005, 7000),
            (1000, 1000, 0, -1000),
        ] {
            assert_eq!(skew_ms(sent, received, member), want);
        }
    }

    #[test]
    fn the_period_follows_the_threshold_within_bounds() {
        for (threshold, want) in [(20, 5000), (11, 2750), (2, 1000), (600, 5000)] {
            assert_eq!(
                interval(Duration::from_secs(threshold)),
                Duration::from_millis(want),
                "{threshold}s"
            );
        }
    }
}
