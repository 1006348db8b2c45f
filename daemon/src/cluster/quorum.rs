//! Explaining a lost quorum: which database members cannot be reached, and what to do.

use std::time::Duration;

use crate::db::global::queries;
use crate::node::Node;

/// How long each database member gets to accept a connection when probed.
const PROBE: Duration = Duration::from_millis(500);

/// A database member and whether it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// Member name (or `member N` when the database has no row for it).
    pub name: String,
    /// Its address.
    pub address: String,
    /// Whether a TCP connection succeeded.
    pub reachable: bool,
}

/// The message for a write that could not be committed in `waited`.
pub fn explain(waited: Duration, probed: &[Probed]) -> String {
    let down: Vec<String> = probed
        .iter()
        .filter(|p| !p.reachable)
        .map(|p| format!("{} ({})", p.name, p.address))
        .collect();
    let needed = corral_shared::quorum::quorum(probed.len());
    if down.is_empty() {
        return format!(
            "no write could be committed within {}s: every database member answers, but no leader was elected; retry, and check 'corral cluster list'",
            waited.as_secs()
        );
    }
    format!(
        "the cluster database has lost quorum: no write could be committed within {}s because {} of {} database members are unreachable: {} ({} must be up). \
         Bring them back; if they are lost for good, run 'corrald cluster recover-from-quorum-loss' on the surviving member with the newest log",
        waited.as_secs(),
        down.len(),
        probed.len(),
        down.join(", "),
        needed
    )
}

/// Probes every voter in parallel (bounded) and explains why writes fail.
pub async fn diagnose(node: &Node, waited: Duration) -> String {
    let membership = node.raft().metrics().borrow().membership_config.clone();
    let rows = node.global.read(queries::members).await.unwrap_or_default();
    let mut probes = tokio::task::JoinSet::new();
    for id in membership.membership().voter_ids() {
        let row = rows.iter().find(|r| r.id == id);
        let address = row
            .map(|r| r.address.clone())
            .or_else(|| {
                membership
                    .membership()
                    .get_node(&id)
                    .map(|n| n.addr.clone())
            })
            .unwrap_or_default();
        let name = row.map_or_else(|| format!("member {id}"), |r| r.name.clone());
        let me = id == node.id();
        probes.spawn(async move {
            let reachable = me
                || matches!(
                    tokio::time::timeout(PROBE, tokio::net::TcpStream::connect(&address)).await,
                    Ok(Ok(_))
                );
            Probed {
                name,
                address,
                reachable,
            }
        });
    }
    let mut probed = probes.join_all().await;
    probed.sort_by(|a, b| a.name.cmp(&b.name));
    explain(waited, &probed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(name: &str, reachable: bool) -> Probed {
        Probed {
            name: name.into(),
            address: format!("{name}:8443"),
            reachable,
        }
    }

    #[test]
    fn the_explanation_names_the_unreachable_and_the_way_out() {
        let text = explain(
            Duration::from_secs(8),
            &[
                probed("node1", true),
                probed("node2", false),
                probed("node3", false),
            ],
        );
        assert!(
            text.contains(
                "2 of 3 database members are unreachable: node2 (node2:8443), node3 (node3:8443)"
            ),
            "{text}"
        );
        assert!(
            text.contains("corrald cluster recover-from-quorum-loss"),
            "{text}"
        );
        let text = explain(Duration::from_secs(8), &[probed("node1", true)]);
        assert!(text.contains("no leader was elected"), "{text}");
    }
}
