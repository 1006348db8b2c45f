//! Whether a rolling upgrade makes this member refuse its public API: the decision is
//! [`crate::cluster::versions`]'s; this remembers it per replica position, since versions
//! change only through the log and every request asks.

use std::sync::Mutex;

use super::Node;
use crate::cluster::versions::{blocked_refusal, own, waiting_for};
use crate::db::global::queries;

/// The refusal this member answers its public API with while it waits for others, worked
/// out again only when the replica has moved.
#[derive(Default)]
pub struct Gate {
    /// (member id, applied index, refusal) of the last answer.
    last: Mutex<Option<(u64, u64, Option<String>)>>,
}

impl Gate {
    /// Why this member refuses public requests right now, if it does. A refusal is checked
    /// again on a replica confirmed current: the upgrade of the last older member may have
    /// been acknowledged a moment ago, and this member must not refuse after that.
    pub async fn refusal(&self, node: &Node) -> Option<String> {
        self.refusal_at_replica(node).await?;
        if let Err(e) = node.read_barrier_within(super::CONFIRM_WAIT).await {
            tracing::debug!("judging the upgrade state on this replica as it is: {e}");
        }
        self.refusal_at_replica(node).await
    }

    /// [`Gate::refusal`] as this member's replica has it.
    async fn refusal_at_replica(&self, node: &Node) -> Option<String> {
        // Read the position first: a read that sees more is only recomputed sooner.
        let key = (node.id(), node.applied_index());
        if let Some((id, applied, answer)) = &*self.last.lock().unwrap_or_else(|p| p.into_inner())
            && (*id, *applied) == key
        {
            return answer.clone();
        }
        let rows = node
            .global
            .read(queries::member_rows)
            .await
            .unwrap_or_default();
        let mine = own();
        let waiting = waiting_for(mine, key.0, &rows);
        let answer = (!waiting.is_empty()).then(|| blocked_refusal(mine, &waiting));
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((key.0, key.1, answer.clone()));
        answer
    }
}
