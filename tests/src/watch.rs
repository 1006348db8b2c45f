//! A client of a member's `Watch` stream, for synchronous tests: it reads events with
//! deadlines, so a test waits for what it expects and fails naming it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_proto::v1::WatchMessage;
use corral_proto::v1::WatchRequest;
use corral_proto::v1::operator_client::OperatorClient;
use corral_shared::api::WatchEvent;
use hyper_util::rt::TokioIo;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint, Uri};

/// An open `Watch` stream.
pub struct Watch {
    runtime: tokio::runtime::Runtime,
    stream: Streaming<WatchMessage>,
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
        let socket = socket.to_owned();
        let runtime = runtime();
        let stream = runtime
            .block_on(async {
                let channel = Endpoint::from_static("http://localhost")
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let socket = socket.clone();
                        async move {
                            tokio::net::UnixStream::connect(socket)
                                .await
                                .map(TokioIo::new)
                        }
                    }))
                    .await
                    .expect("connecting to the unix socket");
                open(channel).await
            })
            .expect("the unix socket accepts a watcher");
        Self {
            runtime,
            stream,
            seen: Vec::new(),
        }
    }

    /// Opens the stream over TLS to `address`; the refusal if the member says no.
    pub fn tls(address: &str, tls: Arc<rustls::ClientConfig>) -> Result<Self, tonic::Status> {
        let runtime = runtime();
        let stream = runtime.block_on(async {
            open(corral_daemon::api::grpc::dial::channel(address, tls)).await
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
            .block_on(async { tokio::time::timeout(timeout, self.stream.message()).await });
        let message = match read {
            Err(_) => return None,
            Ok(Ok(Some(m))) => m,
            Ok(Ok(None)) => panic!("the watch stream ended; events so far: {:#?}", self.seen),
            Ok(Err(status)) => panic!("the watch stream failed: {status:?}"),
        };
        let event: WatchEvent = serde_json::from_slice(&message.json).unwrap_or_else(|e| {
            panic!(
                "a watch message is not a WatchEvent ({e}): {}",
                String::from_utf8_lossy(&message.json)
            )
        });
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

async fn open(channel: Channel) -> Result<Streaming<WatchMessage>, tonic::Status> {
    Ok(OperatorClient::new(channel)
        .watch(WatchRequest {})
        .await?
        .into_inner())
}
