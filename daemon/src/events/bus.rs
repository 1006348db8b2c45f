//! The daemon's one event bus: what happened, published where it happens (after Raft
//! entries are applied, as operations move) and read by `/1.0/events` and the gRPC Watch.
//!
//! One bus per process: a daemon process serves one member, and the bus outlives the Raft
//! instance that feeds it (a standalone server joining a cluster gets a new one).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use corral_shared::api::Event;
use tokio::sync::broadcast;

/// Messages a slow reader may fall behind by before it is told it lagged.
const CAPACITY: usize = 4096;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Happened {
    /// Entries up to `index` are applied here (after the lifecycle events they carried).
    Applied {
        /// The last applied index.
        index: u64,
    },
    /// An event of this member's own (its operations, its log records).
    Event(Event),
    /// An event every member derives from the replicated log (lifecycle events, join
    /// tokens' operations): each member has it without asking the others.
    Replicated(Event),
    /// Another member's own event, forwarded here (see `events::forward`).
    Forwarded(Event),
}

impl Happened {
    /// The event, if this is one.
    pub fn event(&self) -> Option<&Event> {
        match self {
            Self::Event(e) | Self::Replicated(e) | Self::Forwarded(e) => Some(e),
            Self::Applied { .. } => None,
        }
    }
}

/// A broadcast of [`Happened`]. Its buffer (room for [`CAPACITY`] messages) is made with
/// the first reader: until someone reads, what is published has no one to reach, and a
/// member nobody watches keeps no buffer.
pub struct Bus {
    tx: OnceLock<broadcast::Sender<Arc<Happened>>>,
}

impl Bus {
    const fn new() -> Self {
        Self {
            tx: OnceLock::new(),
        }
    }

    /// Tells every current reader; nobody listening is fine.
    pub fn publish(&self, happened: Happened) {
        if let Some(tx) = self.tx.get()
            && tx.receiver_count() > 0
        {
            let _ = tx.send(Arc::new(happened));
        }
    }

    /// Everything published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Happened>> {
        self.tx
            .get_or_init(|| broadcast::channel(CAPACITY).0)
            .subscribe()
    }
}

/// How many listeners want one kind of event, so that the work of making it is done only
/// while someone wants it.
pub struct Listeners(AtomicUsize);

impl Listeners {
    /// Nobody yet.
    pub const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Counts one more listener until the returned guard is dropped.
    pub fn start(&'static self) -> Listening {
        self.0.fetch_add(1, Ordering::Relaxed);
        Listening(self)
    }

    /// Whether anyone listens now.
    pub fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

impl Default for Listeners {
    fn default() -> Self {
        Self::new()
    }
}

/// Held while one listener wants a kind of event.
pub struct Listening(&'static Listeners);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The name of the member this process serves, as its own events are located.
pub fn location() -> String {
    LOCATION.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Records the member's name (it changes when a server joins a cluster or is renamed).
pub fn set_location(name: &str) {
    *LOCATION.write().unwrap_or_else(|p| p.into_inner()) = name.to_owned();
}

static LOCATION: std::sync::RwLock<String> = std::sync::RwLock::new(String::new());

/// The process's bus.
pub fn bus() -> &'static Bus {
    static BUS: Bus = Bus::new();
    &BUS
}

/// Publishes a lifecycle event of this member's own: an action carried out here (an
/// instance started in its container, a member evacuated) that no replicated write names
/// alone. Other members' listeners get it through `events::forward`.
pub fn announce(
    action: corral_shared::api::Action,
    source: String,
    context: serde_json::Map<String, serde_json::Value>,
) {
    let event = Event::lifecycle(
        action,
        source,
        context,
        &location(),
        crate::operations::now_rfc3339(),
    )
    .with_requestor(super::requestor::current().as_ref());
    bus().publish(Happened::Event(event));
}

/// Publishes what a run of applied entries did, then the index it reached.
pub fn applied(index: u64, events: Vec<Event>) {
    let bus = bus();
    for event in events {
        bus.publish(Happened::Replicated(event));
    }
    bus.publish(Happened::Applied { index });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_is_published_before_the_first_reader_reaches_no_one() {
        let bus = Bus::new();
        bus.publish(Happened::Applied { index: 1 });
        let mut rx = bus.subscribe();
        bus.publish(Happened::Applied { index: 2 });
        assert_eq!(*rx.recv().await.unwrap(), Happened::Applied { index: 2 });
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn readers_see_events_before_the_index_that_carried_them() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        let event = Event::lifecycle(
            corral_shared::api::Action::ConfigUpdated,
            "/1.0".into(),
            Default::default(),
            "m1",
            "t".into(),
        );
        bus.publish(Happened::Event(event.clone()));
        bus.publish(Happened::Applied { index: 7 });
        assert_eq!(*rx.recv().await.unwrap(), Happened::Event(event));
        assert_eq!(*rx.recv().await.unwrap(), Happened::Applied { index: 7 });
    }
}
