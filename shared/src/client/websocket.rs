//! An operation's websocket (an exec's streams: LXD's
//! `/1.0/operations/ID/websocket?secret=SECRET`), over the client's connection. A task owns
//! the socket; callers send and receive frames through channels, so one stream can be
//! written and read at once.

use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::{Client, ClientError, Protocol};

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
    /// Connects the websocket at `path` (e.g. an exec's stream).
    pub async fn websocket(&self, path: &str) -> Result<Socket, ClientError> {
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
        let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .map_err(|e| ClientError::Transport {
                place: place.clone(),
                message: format!("cannot open the websocket {path}: {e}"),
            })?;
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
