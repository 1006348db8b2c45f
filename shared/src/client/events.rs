//! Following `/1.0/events`: a websocket over the client's connection (unix socket or
//! HTTPS), one JSON event per text frame, as `lxc monitor` reads it.

use tokio_stream::StreamExt;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::{Client, ClientError, Place, Stream};
use crate::api::{Event, EventType};

/// The events a daemon sends, as they happen.
pub struct EventStream {
    place: Place,
    ws: WebSocketStream<Stream>,
}

/// The path and query asking for `types` (every type when empty), across all projects.
pub fn events_path(types: &[EventType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    if names.is_empty() {
        "/1.0/events?all-projects=true".to_owned()
    } else {
        format!("/1.0/events?type={}&all-projects=true", names.join(","))
    }
}

impl Client {
    /// Starts following the daemon's events of `types` (all when empty).
    pub async fn events(&self, types: &[EventType]) -> Result<EventStream, ClientError> {
        let (place, ws) = self.open_websocket(&events_path(types)).await?;
        Ok(EventStream { place, ws })
    }
}

impl EventStream {
    /// The next event; None once the daemon closed the stream.
    pub async fn next(&mut self) -> Option<Result<Event, ClientError>> {
        loop {
            let frame = match self.ws.next().await? {
                Ok(frame) => frame,
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return None,
                Err(e) => {
                    return Some(Err(ClientError::Transport {
                        place: self.place.clone(),
                        message: e.to_string(),
                    }));
                }
            };
            let text = match frame {
                Message::Text(t) => t.to_string(),
                Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                Message::Close(_) => return None,
                _ => continue,
            };
            return Some(serde_json::from_str(&text).map_err(|e| {
                ClientError::Protocol(format!("an event that is not LXD's event object ({e})"))
            }));
        }
    }

    /// Says goodbye to the daemon.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_the_types_as_lxd_reads_them() {
        use EventType::*;
        assert_eq!(events_path(&[]), "/1.0/events?all-projects=true");
        assert_eq!(
            events_path(&[Lifecycle, Operation]),
            "/1.0/events?type=lifecycle,operation&all-projects=true"
        );
    }
}
