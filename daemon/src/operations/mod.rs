//! Background operations, as LXD's `/1.0/operations`: work that runs after its request has
//! been answered, and whose outcome a client can wait for.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral_shared::api::{Operation, OperationClass, OperationStatus};
use tokio::sync::watch;

/// What an operation's work returns: metadata on success, the error text on failure.
pub type Outcome = Result<serde_json::Value, String>;

struct Entry {
    op: Operation,
    done: watch::Sender<bool>,
}

/// The operations this member runs.
#[derive(Clone, Default)]
pub struct Operations {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    location: Arc<Mutex<String>>,
}

/// RFC 3339 with nanoseconds, as LXD writes times.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Tells the event bus how an operation now is, as LXD's `operation` events do.
fn publish(op: &Operation) {
    let event = corral_shared::api::Event::operation(op, now_rfc3339());
    crate::events::bus::bus().publish(crate::events::bus::Happened::Event(event));
}

/// A running operation's handle on its own metadata.
#[derive(Clone)]
pub struct Progress {
    ops: Operations,
    id: String,
}

impl Progress {
    /// The operation's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Replaces the operation's metadata and tells the event bus.
    pub fn set(&self, metadata: serde_json::Value) {
        self.ops.set_metadata(&self.id, metadata);
    }
}

impl Operations {
    /// Sets the member name operations report as their location.
    pub fn set_location(&self, name: &str) {
        *self.location.lock().unwrap_or_else(|p| p.into_inner()) = name.to_owned();
        crate::events::bus::set_location(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts `work` in the background as a task operation and returns it as created.
    pub fn start<F>(
        &self,
        description: &str,
        resources: BTreeMap<String, Option<Vec<String>>>,
        work: F,
    ) -> Operation
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let id = uuid::Uuid::new_v4().to_string();
        let metadata = serde_json::Value::Null;
        self.start_as(
            id,
            OperationClass::Task,
            description,
            resources,
            metadata,
            work,
        )
    }

    /// Starts `work` as operation `id` of `class`, showing `metadata` while it runs (an
    /// exec's websocket secrets); what `work` returns replaces it when it ends.
    pub fn start_as<F>(
        &self,
        id: String,
        class: OperationClass,
        description: &str,
        resources: BTreeMap<String, Option<Vec<String>>>,
        metadata: serde_json::Value,
        work: F,
    ) -> Operation
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let now = now_rfc3339();
        let op = Operation {
            id,
            class,
            description: description.to_owned(),
            created_at: now.clone(),
            updated_at: now,
            status: OperationStatus::Running,
            status_code: OperationStatus::Running.code(),
            resources,
            metadata,
            may_cancel: false,
            err: String::new(),
            location: self
                .location
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        };
        let (done, _) = watch::channel(false);
        self.lock().insert(
            op.id.clone(),
            Entry {
                op: op.clone(),
                done,
            },
        );
        publish(&op);
        let this = self.clone();
        let id = op.id.clone();
        // The work is done for whoever asked: the events it causes say so.
        let requestor = crate::events::requestor::current();
        tokio::spawn(crate::events::requestor::scope(requestor, async move {
            let outcome = work.await;
            this.finish(&id, outcome);
        }));
        op
    }

    /// Starts `work` as [`Operations::start`] does, handing it a [`Progress`] through which
    /// it updates the operation's metadata as it goes (LXD's evacuation progress).
    pub fn start_reporting<F, Fut>(
        &self,
        description: &str,
        resources: BTreeMap<String, Option<Vec<String>>>,
        work: F,
    ) -> Operation
    where
        F: FnOnce(Progress) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let progress_of = self.clone();
        let op = self.start(description, resources, async move {
            let id = rx
                .await
                .map_err(|_| "the operation was not registered".to_owned())?;
            Box::pin(work(Progress {
                ops: progress_of,
                id,
            }))
            .await
        });
        let _ = tx.send(op.id.clone());
        op
    }

    fn set_metadata(&self, id: &str, metadata: serde_json::Value) {
        let mut ops = self.lock();
        let Some(entry) = ops.get_mut(id) else { return };
        if entry.op.status != OperationStatus::Running {
            return;
        }
        entry.op.metadata = metadata;
        entry.op.updated_at = now_rfc3339();
        publish(&entry.op);
    }

    fn finish(&self, id: &str, outcome: Outcome) {
        let mut ops = self.lock();
        let Some(entry) = ops.get_mut(id) else { return };
        let status = match &outcome {
            Ok(_) => OperationStatus::Success,
            Err(_) => OperationStatus::Failure,
        };
        entry.op.status = status;
        entry.op.status_code = status.code();
        entry.op.updated_at = now_rfc3339();
        match outcome {
            Ok(meta) => entry.op.metadata = meta,
            Err(err) => entry.op.err = err,
        }
        publish(&entry.op);
        entry.done.send_replace(true);
    }

    /// One operation.
    pub fn get(&self, id: &str) -> Option<Operation> {
        self.lock().get(id).map(|e| e.op.clone())
    }

    /// Every operation, oldest first.
    pub fn list(&self) -> Vec<Operation> {
        let mut ops: Vec<_> = self.lock().values().map(|e| e.op.clone()).collect();
        ops.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        ops
    }

    /// Waits until the operation is over or `timeout` passes; None if there is no such operation.
    pub async fn wait(&self, id: &str, timeout: Option<Duration>) -> Option<Operation> {
        let mut done = self.lock().get(id)?.done.subscribe();
        let finished = done.wait_for(|d| *d);
        match timeout {
            Some(t) => {
                let _ = tokio::time::timeout(t, finished).await;
            }
            None => {
                let _ = finished.await;
            }
        }
        self.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn operations_report_their_outcome_to_waiters() {
        let ops = Operations::default();
        ops.set_location("node1");
        let ok = ops.start("Bootstrapping", BTreeMap::new(), async {
            Ok(serde_json::json!({"done": true}))
        });
        let failed = ops.start("Failing", BTreeMap::new(), async { Err("it broke".into()) });
        assert_eq!(ok.status, OperationStatus::Running);
        assert_eq!(ok.location, "node1");
        let ok = ops
            .wait(&ok.id, Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(ok.status, OperationStatus::Success);
        assert_eq!(ok.status_code, 200);
        let failed = ops
            .wait(&failed.id, Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(failed.status, OperationStatus::Failure);
        assert_eq!(failed.err, "it broke");
        assert!(ops.wait("missing", None).await.is_none());
        assert_eq!(ops.list().len(), 2);
    }

    #[tokio::test]
    async fn each_step_of_an_operation_is_published() {
        let mut rx = crate::events::bus::bus().subscribe();
        let ops = Operations::default();
        ops.set_location("node1");
        let op = ops.start("Publishing", BTreeMap::new(), async {
            Ok(serde_json::Value::Null)
        });
        ops.wait(&op.id, Some(Duration::from_secs(5)))
            .await
            .unwrap();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let happened = rx.recv().await.unwrap();
            if let crate::events::bus::Happened::Event(e) = &*happened
                && e.metadata["id"] == op.id.as_str()
            {
                assert_eq!(e.location, "node1");
                seen.push(e.metadata["status"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(seen, ["Running", "Success"]);
    }

    #[tokio::test]
    async fn progress_updates_the_running_operation_and_its_outcome_replaces_it() {
        let ops = Operations::default();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let op = ops.start_reporting("Evacuating", BTreeMap::new(), |progress| async move {
            progress.set(serde_json::json!({"evacuation_progress": "halfway"}));
            let _ = wait.await;
            Ok(serde_json::json!({"done": 2}))
        });
        let halfway = std::time::Instant::now() + Duration::from_secs(5);
        while ops.get(&op.id).unwrap().metadata.is_null() {
            assert!(
                std::time::Instant::now() < halfway,
                "no progress within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let seen = ops.get(&op.id).unwrap();
        assert_eq!(seen.metadata["evacuation_progress"], "halfway");
        assert_eq!(seen.status, OperationStatus::Running);
        go.send(()).unwrap();
        let done = ops
            .wait(&op.id, Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(done.metadata["done"], 2);
    }

    #[tokio::test]
    async fn a_wait_ends_at_its_timeout_with_the_operation_still_running() {
        let ops = Operations::default();
        let op = ops.start("Slow", BTreeMap::new(), std::future::pending());
        let seen = ops
            .wait(&op.id, Some(Duration::from_millis(20)))
            .await
            .unwrap();
        assert_eq!(seen.status, OperationStatus::Running);
    }
}
