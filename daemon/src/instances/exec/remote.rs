//! An exec run on the member holding the instance for a member that does not: one
//! websocket over the cluster connection (`/internal/instances/NAME/exec`). The first frame
//! is the request (JSON text); then stdin goes as binary frames tagged 0 (a lone tag: end
//! of stdin) and control messages as JSON text; output comes back as binary frames tagged
//! 1 (stdout) or 2 (stderr), and the end as a text frame `{"return": CODE}` or
//! `{"error": MESSAGE}`.

use std::sync::Arc;

use axum::extract::ws::{Message as AxMessage, WebSocket};
use futures_util::SinkExt;
use rustls::pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{ExecRequest, Input, Io, Stream};
use crate::error::{Error, Result};
use crate::instances::holder::Holder;
use crate::node::Node;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;

/// How the command ended, as the holder tells it.
#[derive(Debug, Serialize, Deserialize)]
struct End {
    #[serde(default, rename = "return", skip_serializing_if = "Option::is_none")]
    code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

/// A control message as it travels (the client's, read by the front member).
#[derive(Debug, Serialize, Deserialize)]
enum Control {
    Resize(u16, u16),
    Signal(i32),
}

/// Serves an exec for another member on websocket `ws` (the holder's side).
pub async fn serve(node: Arc<Node>, name: String, mut ws: WebSocket) {
    let req: ExecRequest = match ws.recv().await {
        Some(Ok(AxMessage::Text(t))) => match serde_json::from_str(t.as_str()) {
            Ok(req) => req,
            Err(e) => {
                let end = End {
                    code: None,
                    error: Some(format!("malformed exec request: {e}")),
                    status: Some(400),
                };
                let _ = ws.send(AxMessage::Text(json(&end).into())).await;
                return;
            }
        },
        _ => return,
    };
    let (input_tx, input) = mpsc::channel(64);
    let (output, mut output_rx) = mpsc::channel::<(Stream, Vec<u8>)>(64);
    let run = {
        let node = node.clone();
        crate::events::requestor::spawn(async move {
            super::run_here(&node, &name, &req, Io { input, output }).await
        })
    };
    let mut input_tx = Some(input_tx);
    loop {
        tokio::select! {
            out = output_rx.recv() => match out {
                Some((stream, bytes)) => {
                    let tag = if stream == Stream::Stdout { STDOUT } else { STDERR };
                    let mut frame = Vec::with_capacity(bytes.len() + 1);
                    frame.push(tag);
                    frame.extend_from_slice(&bytes);
                    if ws.send(AxMessage::Binary(frame.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            got = ws.recv(), if input_tx.is_some() => {
                let sent = match got {
                    Some(Ok(AxMessage::Binary(b))) if b.len() > 1 && b[0] == STDIN => {
                        Some(Input::Data(b[1..].to_vec()))
                    }
                    Some(Ok(AxMessage::Binary(b))) if b.len() == 1 => Some(Input::Eof),
                    Some(Ok(AxMessage::Text(t))) => match serde_json::from_str(t.as_str()) {
                        Ok(Control::Resize(w, h)) => Some(Input::Resize(w, h)),
                        Ok(Control::Signal(s)) => Some(Input::Signal(s)),
                        Err(_) => None,
                    },
                    Some(Ok(_)) => None,
                    // The front member is gone: the command's stdin ends with it.
                    _ => {
                        input_tx = None;
                        None
                    }
                };
                if let (Some(msg), Some(tx)) = (sent, input_tx.as_ref()) {
                    let _ = tx.send(msg).await;
                }
            }
        }
    }
    let end = match run.await {
        Ok(Ok(code)) => End {
            code: Some(code),
            error: None,
            status: None,
        },
        Ok(Err(e)) => End {
            code: None,
            status: Some(e.http_status()),
            error: Some(e.to_string()),
        },
        Err(e) => End {
            code: None,
            status: Some(500),
            error: Some(format!("the exec stopped: {e}")),
        },
    };
    let _ = ws.send(AxMessage::Text(json(&end).into())).await;
    let _ = ws.send(AxMessage::Close(None)).await;
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Runs `req` in instance `name` on `holder`, relaying `io`; the command's exit code.
pub async fn run_on(
    node: &Node,
    holder: &Holder,
    name: &str,
    req: &ExecRequest,
    io: Io,
) -> Result<i32> {
    let Io { mut input, output } = io;
    let tls = node
        .network
        .dialer()
        .tls()
        .ok_or_else(|| holder.unreachable("this member has no cluster certificate"))?;
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(&holder.address)
            .await
            .map_err(|e| e.to_string())?;
        let server = ServerName::try_from("corral").map_err(|e| e.to_string())?;
        let stream = tokio_rustls::TlsConnector::from(tls.http1)
            .connect(server, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let url = format!("ws://corral/internal/instances/{name}/exec");
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        // The holder announces the exec on behalf of whoever asked this member.
        if let Ok(who) = crate::events::requestor::header_now().parse() {
            request
                .headers_mut()
                .insert(crate::events::requestor::HEADER, who);
        }
        tokio_tungstenite::client_async(request, stream)
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| e.to_string())
    };
    let mut ws = tokio::time::timeout(crate::peers::dial::CONNECT_TIMEOUT * 5, connect)
        .await
        .map_err(|_| holder.unreachable("no answer in time"))?
        .map_err(|e| holder.unreachable(&e))?;
    let first = serde_json::to_string(req).map_err(|e| Error::Internal(e.to_string()))?;
    ws.send(Message::Text(first.into()))
        .await
        .map_err(|e| holder.unreachable(&e.to_string()))?;
    let mut input_open = true;
    loop {
        tokio::select! {
            got = input.recv(), if input_open => {
                let frame = match got {
                    Some(Input::Data(bytes)) => {
                        let mut frame = Vec::with_capacity(bytes.len() + 1);
                        frame.push(STDIN);
                        frame.extend_from_slice(&bytes);
                        Message::Binary(frame.into())
                    }
                    Some(Input::Eof) => Message::Binary(vec![STDIN].into()),
                    Some(Input::Resize(w, h)) => Message::Text(json(&Control::Resize(w, h)).into()),
                    Some(Input::Signal(s)) => Message::Text(json(&Control::Signal(s)).into()),
                    None => {
                        input_open = false;
                        Message::Binary(vec![STDIN].into())
                    }
                };
                if ws.send(frame).await.is_err() {
                    input_open = false;
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(b))) if !b.is_empty() => {
                    let stream = if b[0] == STDERR { Stream::Stderr } else { Stream::Stdout };
                    let _ = output.send((stream, b[1..].to_vec())).await;
                }
                Some(Ok(Message::Text(t))) => {
                    let end: End = serde_json::from_str(t.as_str()).map_err(|e| {
                        Error::Internal(format!("member {} ended an exec oddly: {e}", holder.name))
                    })?;
                    return match (end.code, end.error) {
                        (Some(code), _) => Ok(code),
                        (None, error) => Err(Error::from_status(
                            end.status.unwrap_or(500),
                            error.unwrap_or_else(|| "the exec failed".into()),
                        )),
                    };
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(holder.unreachable(&e.to_string())),
                None => {
                    return Err(holder.unreachable("it closed the exec before the command ended"));
                }
            },
        }
    }
}
