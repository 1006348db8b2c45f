//! The daemon's gRPC `Watch` stream, opened over the same [`Connector`] as the REST
//! client, so the dashboard reaches a daemon exactly as every other command does.

use std::error::Error;
use std::time::Duration;

use corral_proto::v1::WatchMessage;
use corral_proto::v1::WatchRequest;
use corral_proto::v1::operator_client::OperatorClient;
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use super::Client;
use super::connector::{Place, Protocol};
use crate::api::WatchEvent;

/// Why the Watch stream could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// No HTTP/2 connection to the daemon could be made.
    #[error("cannot reach the Corral daemon at {place}: {reason}")]
    Connect {
        /// Where the daemon is.
        place: Place,
        /// What failed, with its causes.
        reason: String,
    },
    /// The daemon refused or ended the stream with a gRPC status.
    #[error("{}", status_text(.0))]
    Status(tonic::Status),
    /// A message is not a [`WatchEvent`] this client knows.
    #[error(
        "the daemon sent a watch event this corral does not understand ({0}); \
         'corral version' shows whether the two differ"
    )]
    Decode(String),
}

impl WatchError {
    /// The gRPC status, when the daemon sent one (a refusal says why and what to do).
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            WatchError::Status(status) => Some(status),
            _ => None,
        }
    }
}

/// An open Watch stream: a snapshot first, then changes.
pub struct WatchStream {
    stream: tonic::Streaming<WatchMessage>,
}

impl WatchStream {
    /// The next event; `None` once the daemon closed the stream.
    pub async fn next(&mut self) -> Result<Option<WatchEvent>, WatchError> {
        let Some(message) = self.stream.message().await.map_err(WatchError::Status)? else {
            return Ok(None);
        };
        serde_json::from_slice(&message.json)
            .map(Some)
            .map_err(|e| WatchError::Decode(e.to_string()))
    }
}

impl Client {
    /// An HTTP/2 channel to the daemon for gRPC, connected over this client's transport.
    pub async fn grpc_channel(&self) -> Result<Channel, WatchError> {
        let connector = self.connector.clone();
        let dial = tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            async move { connector.connect(Protocol::Http2).await.map(TokioIo::new) }
        });
        // The URI is a placeholder: the connector knows where the daemon is.
        Endpoint::from_static("http://corral")
            .connect_timeout(self.timeout)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .connect_with_connector(dial)
            .await
            .map_err(|e| WatchError::Connect {
                place: self.place(),
                reason: chain(&e),
            })
    }

    /// Opens the daemon's Watch stream.
    pub async fn watch(&self) -> Result<WatchStream, WatchError> {
        let channel = self.grpc_channel().await?;
        let stream = OperatorClient::new(channel)
            .watch(WatchRequest {})
            .await
            .map_err(WatchError::Status)?
            .into_inner();
        Ok(WatchStream { stream })
    }
}

/// A gRPC status in words.
fn status_text(status: &tonic::Status) -> String {
    match status.code() {
        tonic::Code::Unimplemented => "the daemon does not serve the Watch stream (gRPC \
                                       Unimplemented); it may be older than this corral"
            .into(),
        code => {
            let mut text = format!("{code:?}: {}", status.message());
            if let Some(source) = status.source() {
                text.push_str(&format!(" ({})", chain(source)));
            }
            text
        }
    }
}

/// An error and its causes, `outer: inner: innermost`.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}
