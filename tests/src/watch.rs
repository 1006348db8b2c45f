//! A client of a member's `Watch` stream, for synchronous tests: it reads events with
//! deadlines, so a test waits for what it expects and fails naming it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_shared::api::WatchEvent;
use corral_shared::client::{Client, Connector, WatchError, WatchStream};

/// An open `Watch` stream.
pub struct Watch {
    runtime: tokio::runtime::Runtime,
    stream: WatchStream,
    /// Every event read so far, for failure messages.
    pub seen: Vec<WatchEvent>,
}

fn runtime() -> tokio::runtime::Runtime {
    // A worker of its own keeps the connection serviced between reads.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

impl Watch {
    /// Opens the stream through a member's unix socket (no certificate needed).
    pub fn unix(socket: &Path) -> Self {
        Self::open(Client::unix(socket.to_owned()))
            .unwrap_or_else(|e| panic!("the unix socket accepts a watcher: {e:?}"))
    }

    /// Opens the stream over TLS to `address`; the refusal if the member says no.
    pub fn tls(address: &str, tls: Arc<rustls::ClientConfig>) -> Result<Self, tonic::Status> {
        Self::open(Client::new(Connector::https_with_config(address, tls)))
    }

    /// Opens the stream through the shared client, as the dashboard does.
    fn open(client: Client) -> Result<Self, tonic::Status> {
        let runtime = runtime();
        let stream = runtime.block_on(client.watch()).map_err(|e| match e {
            WatchError::Status(status) => status,
            other => tonic::Status::unavailable(other.to_string()),
        })?;
        Ok(Self {
            runtime,
            stream,
            seen: Vec::new(),
        })
    }

    /// The next event, or None if none came within `timeout`. Panics if the stream broke.
    pub fn next(&mut self, timeout: Duration) -> Option<WatchEvent> {
        let read = self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, self.stream.next()).await });
        let event = match read {
            Err(_) => return None,
            Ok(Ok(Some(event))) => event,
            Ok(Ok(None)) => panic!("the watch stream ended; events so far: {:#?}", self.seen),
            Ok(Err(e)) => panic!("the watch stream failed: {e:?}"),
        };
        self.seen.push(event.clone());
        Some(event)
    }

    /// Reads events until `found` picks one, or panics after `timeout` naming `what`.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut found: impl FnMut(&WatchEvent) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(hit) = self.next(left).as_ref().and_then(&mut found) {
                return hit;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; events seen: {:#?}",
                self.seen
            );
        }
    }
}
