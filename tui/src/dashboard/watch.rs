//! The daemon's gRPC `Watch` stream, read over its unix socket: each message becomes a
//! [`Msg::Watch`]; the stream's end (or failure to open it) is returned as words.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use corral_proto::v1::WatchRequest;
use corral_proto::v1::operator_client::OperatorClient;
use corral_shared::api::WatchEvent;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::sync::mpsc::UnboundedSender;
use tonic::transport::{Endpoint, Uri};

use super::app::Msg;
use super::clock::Stamp;

/// Reads the stream until it ends, sending each event to `tx`; returns why it ended.
pub async fn pump(socket: PathBuf, tx: &UnboundedSender<Msg>) -> String {
    match read(socket.clone(), tx).await {
        Ok(()) => "the daemon closed the stream".into(),
        Err(e) => e,
    }
}

async fn read(socket: PathBuf, tx: &UnboundedSender<Msg>) -> Result<(), String> {
    let path = socket.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move { UnixStream::connect(path).await.map(TokioIo::new) }
    });
    // The URI is a placeholder: the connector always dials the socket.
    let channel = Endpoint::from_static("http://localhost")
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .connect_with_connector(connector)
        .await
        .map_err(|e| {
            format!(
                "cannot reach the Corral daemon at {}: {}",
                socket.display(),
                chain(&e)
            )
        })?;
    let mut client = OperatorClient::new(channel);
    let mut stream = client
        .watch(WatchRequest {})
        .await
        .map_err(|s| status_text(&s))?
        .into_inner();
    while let Some(message) = stream.message().await.map_err(|s| status_text(&s))? {
        let event: WatchEvent = serde_json::from_slice(&message.json).map_err(|e| {
            format!(
                "the daemon sent a watch event this corral does not understand ({e}); \
                 'corral version' shows whether the two differ"
            )
        })?;
        if tx.send(Msg::Watch(event, Stamp::now())).is_err() {
            // The dashboard is gone.
            return Ok(());
        }
    }
    Ok(())
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
