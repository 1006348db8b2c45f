//! The daemon's gRPC `Watch` stream, read through the shared client (the same transport as
//! every other command): each message becomes a [`Msg::Watch`]; the stream's end (or
//! failure to open it) is returned as words.

use corral_shared::client::Client;
use tokio::sync::mpsc::UnboundedSender;

use super::app::Msg;
use super::clock::Stamp;

/// Reads the stream until it ends, sending each event to `tx`; returns why it ended.
pub async fn pump(client: Client, tx: &UnboundedSender<Msg>) -> String {
    let mut stream = match client.watch().await {
        Ok(stream) => stream,
        Err(e) => return e.to_string(),
    };
    loop {
        match stream.next().await {
            Ok(Some(event)) => {
                if tx.send(Msg::Watch(event, Stamp::now())).is_err() {
                    // The dashboard is gone.
                    return "the daemon closed the stream".into();
                }
            }
            Ok(None) => return "the daemon closed the stream".into(),
            Err(e) => return e.to_string(),
        }
    }
}
