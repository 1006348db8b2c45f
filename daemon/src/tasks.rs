//! Tasks with an owner: every background loop and connection of a member is spawned here,
//! so that a shutdown reaches all of them and waits, within a bound, until they are gone
//! (as tokio's mini-redis does: one shutdown signal, and a drain that waits for each task).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

/// The tasks of one member and the signal that tells them to stop.
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    signal: watch::Receiver<bool>,
    /// None once drained: a task asked for after that is not started.
    set: Mutex<Option<Owned>>,
}

/// The running tasks and what each is, by task id, for the log.
#[derive(Default)]
struct Owned {
    set: JoinSet<()>,
    names: BTreeMap<tokio::task::Id, &'static str>,
}

impl Owned {
    /// Forgets the tasks that have ended.
    fn reap(&mut self) {
        while let Some(done) = self.set.try_join_next_with_id() {
            let id = match done {
                Ok((id, ())) => id,
                Err(e) => e.id(),
            };
            self.names.remove(&id);
        }
    }

    fn running(&self) -> Vec<&'static str> {
        self.names.values().copied().collect()
    }
}

impl Tasks {
    /// Tasks that stop when `signal` turns true (the member's shutdown request).
    pub fn new(signal: watch::Receiver<bool>) -> Tasks {
        Tasks {
            inner: Arc::new(Inner {
                signal,
                set: Mutex::new(Some(Owned::default())),
            }),
        }
    }

    /// The shutdown signal, for a task that ends gracefully on its own (a connection
    /// finishing its request) rather than being dropped.
    pub fn signal(&self) -> watch::Receiver<bool> {
        self.inner.signal.clone()
    }

    /// Whether a shutdown was signalled.
    pub fn stopping(&self) -> bool {
        *self.inner.signal.borrow()
    }

    /// Runs `work` (a loop, named `what` in the log) until it ends or the shutdown signal
    /// comes, when it is dropped at its next await. Returns false, starting nothing, once
    /// the tasks were drained.
    pub fn spawn(
        &self,
        what: &'static str,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> bool {
        let mut signal = self.signal();
        self.spawn_graceful(what, async move {
            tokio::select! {
                _ = signal.wait_for(|stop| *stop) => {}
                () = work => {}
            }
        })
    }

    /// Runs `work`, which watches [`Tasks::signal`] itself and ends soon after it (a
    /// connection finishing the request in hand); a drain waits for it within its bound.
    pub fn spawn_graceful(
        &self,
        what: &'static str,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> bool {
        let mut guard = self.inner.set.lock().unwrap_or_else(|p| p.into_inner());
        let Some(owned) = guard.as_mut() else {
            tracing::debug!("not starting {what}: the member is stopping");
            return false;
        };
        owned.reap();
        let id = owned.set.spawn(work).id();
        owned.names.insert(id, what);
        true
    }

    /// How many tasks are running.
    pub fn running(&self) -> usize {
        let mut guard = self.inner.set.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_mut().map_or(0, |owned| {
            owned.reap();
            owned.set.len()
        })
    }

    /// After the shutdown signal: waits up to `bound` for every task to end, then aborts
    /// the rest (naming them in the log). No task starts afterwards. Returns how many had
    /// to be aborted.
    pub async fn drain(&self, bound: Duration) -> usize {
        let taken = self
            .inner
            .set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut owned) = taken else { return 0 };
        let waited = tokio::time::timeout(bound, async {
            while let Some(done) = owned.set.join_next_with_id().await {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                owned.names.remove(&id);
            }
        })
        .await;
        if waited.is_ok() {
            return 0;
        }
        let left = owned.running();
        tracing::warn!(
            "{} task(s) still running {bound:?} after the shutdown signal, stopped now: {}",
            left.len(),
            left.join(", ")
        );
        owned.set.shutdown().await;
        left.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_ends_loops_waits_for_graceful_tasks_and_aborts_what_overstays() {
        let (stop, signal) = watch::channel(false);
        let tasks = Tasks::new(signal);
        let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
        // A loop that never ends by itself.
        tasks.spawn("loop", std::future::pending());
        // A graceful task: ends a moment after the signal.
        let mut signal = tasks.signal();
        let tx = ended_tx.clone();
        tasks.spawn_graceful("graceful", async move {
            let _ = signal.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tx.send("graceful");
        });
        assert_eq!(tasks.running(), 2);
        stop.send_replace(true);
        assert!(tasks.stopping());
        assert_eq!(tasks.drain(Duration::from_secs(5)).await, 0);
        assert_eq!(ended.recv().await, Some("graceful"));
        assert_eq!(tasks.running(), 0);
        // Drained: nothing new starts.
        assert!(!tasks.spawn("late", async {}));
    }

    #[tokio::test]
    async fn a_task_that_ignores_the_signal_is_aborted_at_the_bound() {
        let (stop, signal) = watch::channel(false);
        let tasks = Tasks::new(signal);
        tasks.spawn_graceful("stubborn", std::future::pending());
        tasks.spawn("short", async {});
        stop.send_replace(true);
        let started = tokio::time::Instant::now();
        assert_eq!(tasks.drain(Duration::from_millis(100)).await, 1);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
