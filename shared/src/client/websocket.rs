//! An operation's websocket (an exec's streams: LXD's
//! `/1.0/operations/ID/websocket?secret=SECRET`), over the client's connection. A task owns
//! the socket; callers send and receive frames through channels, so one stream can be
//! written and read at once.

use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;

use super::{Client, ClientError, Place, Protocol, Stream};
use crate::api::Envelope;

/// A frame on an operation's websocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Bytes (a stream's data).
    Binary(Vec<u8>),
    /// Text (a control message).
    Text(String),
    /// The end of the stream.
    Close,
}

/// One connected websocket: frames to send, frames received (ending with the socket).
pub struct Socket {
    /// Frames to send; [`Frame::Close`] closes the socket's sending side.
    pub send: mpsc::Sender<Frame>,
    /// Frames as they come; `None` once the socket is closed.
    pub recv: mpsc::Receiver<Frame>,
}

impl Client {
    /// Opens the websocket at `path` over whatever transport the client speaks (unix socket,
    /// HTTPS or SSH); a refusal is the daemon's own message when it gave one.
    pub(super) async fn open_websocket(
        &self,
        path: &str,
    ) -> Result<(Place, WebSocketStream<Stream>), ClientError> {
        let place = self.place();
        let stream = self
            .connector()
            .connect(Protocol::Http1)
            .await
            .map_err(|source| ClientError::Connect {
                place: place.clone(),
                source,
            })?;
        let url = format!("ws://corral{path}");
        let (ws, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .map_err(|e| refused(&place, path, e))?;
        Ok((place, ws))
    }

    /// Connects the websocket at `path` (e.g. an exec's stream).
    pub async fn websocket(&self, path: &str) -> Result<Socket, ClientError> {
        let (_, mut ws) = self.open_websocket(path).await?;
        let (send, mut outgoing) = mpsc::channel::<Frame>(64);
        let (incoming, recv) = mpsc::channel::<Frame>(64);
        tokio::spawn(async move {
            let mut sending = true;
            let mut receiving = true;
            while sending || receiving {
                tokio::select! {
                    out = outgoing.recv(), if sending => {
                        let msg = match out {
                            Some(Frame::Binary(b)) => Message::Binary(b.into()),
                            Some(Frame::Text(t)) => Message::Text(t.into()),
                            Some(Frame::Close) | None => {
                                sending = false;
                                Message::Close(None)
                            }
                        };
                        if ws.send(msg).await.is_err() {
                            sending = false;
                        }
                    }
                    got = ws.next(), if receiving => {
                        let frame = match got {
                            Some(Ok(Message::Binary(b))) => Frame::Binary(b.to_vec()),
                            Some(Ok(Message::Text(t))) => Frame::Text(t.to_string()),
                            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                                receiving = false;
                                let _ = incoming.send(Frame::Close).await;
                                continue;
                            }
                            Some(Ok(_)) => continue,
                        };
                        if incoming.send(frame).await.is_err() {
                            receiving = false;
                        }
                    }
                }
            }
        });
        Ok(Socket { send, recv })
    }
}

/// Why the daemon did not open the websocket at `path`, in its own words when it gave them.
fn refused(place: &Place, path: &str, e: WsError) -> ClientError {
    match e {
        WsError::Http(resp) => {
            let status = resp.status().as_u16();
            let message = resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<Envelope>(b).ok())
                .map(|env| env.error)
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("the daemon refused {path} with HTTP {status}"));
            ClientError::Api { status, message }
        }
        other => ClientError::Transport {
            place: place.clone(),
            message: format!("cannot open the websocket {path}: {other}"),
        },
    }
}
