//! LXD's exec for clients: `POST /1.0/instances/NAME/exec` answers with a websocket
//! operation whose metadata holds one secret per stream (`fds`: "0", "1", "2" and
//! "control", or "0" and "control" for a terminal); the client connects each at
//! `/1.0/operations/ID/websocket?secret=SECRET`; the command runs once all are connected,
//! and the operation ends with its exit code as `return`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use corral_shared::api::{InstanceExecControl, InstanceExecPost, Operation, OperationClass};
use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

use super::{ExecRequest, Input, Io, Stream};
use crate::error::Result;
use crate::instances::lifecycle;
use crate::node::Node;

/// How long a client has to connect its websockets.
const CONNECT_BOUND: Duration = Duration::from_secs(30);

/// Websockets waited for, by operation id, then secret: the stream each is for.
type Waiting = HashMap<String, HashMap<String, (String, oneshot::Sender<WebSocket>)>>;

static WAITING: LazyLock<Mutex<Waiting>> = LazyLock::new(Default::default);

fn waiting() -> std::sync::MutexGuard<'static, Waiting> {
    WAITING.lock().unwrap_or_else(|p| p.into_inner())
}

/// The place a client's websocket for operation `id` with `secret` goes; `None` when no
/// exec waits for it.
pub fn claim(id: &str, secret: &str) -> Option<oneshot::Sender<WebSocket>> {
    let mut all = waiting();
    let sockets = all.get_mut(id)?;
    let found = sockets
        .keys()
        .find(|s| corral_shared::fingerprint::constant_time_eq(s.as_bytes(), secret.as_bytes()))?;
    let found = found.clone();
    sockets.remove(&found).map(|(_, tx)| tx)
}

fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Starts an exec of `post` in instance `name` as a websocket operation.
pub fn start(node: Arc<Node>, name: &str, post: &InstanceExecPost) -> Result<Operation> {
    let req = ExecRequest {
        command: post.command.clone(),
        environment: post.environment.clone(),
        interactive: post.interactive,
        width: post.width,
        height: post.height,
        cwd: post.cwd.clone(),
    };
    super::check(&req)?;
    let streams: &[&str] = if post.interactive {
        &["0", "control"]
    } else {
        &["0", "1", "2", "control"]
    };
    let id = uuid::Uuid::new_v4().to_string();
    let mut fds = BTreeMap::new();
    let mut sockets = HashMap::new();
    let mut receivers = Vec::new();
    for stream in streams {
        let s = secret();
        let (tx, rx) = oneshot::channel();
        fds.insert((*stream).to_owned(), s.clone());
        sockets.insert(s, ((*stream).to_owned(), tx));
        receivers.push(((*stream).to_owned(), rx));
    }
    let wait = post.wait_for_websocket;
    if wait {
        waiting().insert(id.clone(), sockets);
    }
    let metadata = serde_json::json!({ "fds": fds, "command": post.command });
    let resources = BTreeMap::from([(
        "instances".to_owned(),
        Some(vec![format!("/1.0/instances/{name}")]),
    )]);
    let ops = node.operations.clone();
    let work = {
        let id = id.clone();
        let name = name.to_owned();
        let fds = fds.clone();
        async move {
            let connected = if wait {
                let all = connect_all(receivers);
                let got = tokio::time::timeout(CONNECT_BOUND, all).await;
                waiting().remove(&id);
                match got {
                    Ok(Some(sockets)) => sockets,
                    _ => {
                        return Err(format!(
                            "the client did not connect the exec's websockets within {CONNECT_BOUND:?}"
                        ));
                    }
                }
            } else {
                HashMap::new()
            };
            let code = run(&node, &name, &req, connected)
                .await
                .map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "fds": fds, "return": code }))
        }
    };
    Ok(ops.start_as(
        id,
        OperationClass::Websocket,
        "Executing command",
        resources,
        metadata,
        work,
    ))
}

async fn connect_all(
    receivers: Vec<(String, oneshot::Receiver<WebSocket>)>,
) -> Option<HashMap<String, WebSocket>> {
    let mut out = HashMap::new();
    for (stream, rx) in receivers {
        out.insert(stream, rx.await.ok()?);
    }
    Some(out)
}

/// Feeds the client's stdin websocket into `input` until it closes.
async fn read_stdin(mut ws: WebSocket, input: mpsc::Sender<Input>) {
    while let Some(Ok(msg)) = ws.recv().await {
        let bytes = match msg {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Close(_) => break,
            _ => continue,
        };
        // An empty frame is how some clients end stdin.
        if bytes.is_empty() {
            break;
        }
        if input.send(Input::Data(bytes)).await.is_err() {
            return;
        }
    }
    let _ = input.send(Input::Eof).await;
}

/// Feeds the client's control websocket (window size, signals) into `input`.
async fn read_control(mut ws: WebSocket, input: mpsc::Sender<Input>) {
    while let Some(Ok(msg)) = ws.recv().await {
        let Message::Text(t) = msg else {
            if matches!(msg, Message::Close(_)) {
                break;
            }
            continue;
        };
        let Ok(control) = serde_json::from_str::<InstanceExecControl>(t.as_str()) else {
            continue;
        };
        let sent = match control.command.as_str() {
            "window-resize" => {
                let dim = |k: &str| control.args.get(k).and_then(|v| v.parse().ok());
                match (dim("width"), dim("height")) {
                    (Some(w), Some(h)) => Some(Input::Resize(w, h)),
                    _ => None,
                }
            }
            "signal" => Some(Input::Signal(control.signal)),
            _ => None,
        };
        if let Some(sent) = sent
            && input.send(sent).await.is_err()
        {
            return;
        }
    }
}

/// Runs the command with the client's websockets as its streams.
async fn run(
    node: &Node,
    name: &str,
    req: &ExecRequest,
    mut sockets: HashMap<String, WebSocket>,
) -> Result<i32> {
    let (input_tx, input) = mpsc::channel(64);
    let (output, mut output_rx) = mpsc::channel::<(Stream, Vec<u8>)>(64);
    if let Some(control) = sockets.remove("control") {
        tokio::spawn(read_control(control, input_tx.clone()));
    }
    let writer = if req.interactive {
        let terminal = sockets.remove("0");
        tokio::spawn(async move {
            let Some(mut ws) = terminal else {
                while output_rx.recv().await.is_some() {}
                return;
            };
            let mut open = true;
            loop {
                tokio::select! {
                    out = output_rx.recv() => match out {
                        Some((_, bytes)) => {
                            if ws.send(Message::Binary(bytes.into())).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    got = ws.recv(), if open => match got {
                        Some(Ok(Message::Binary(b))) => {
                            let _ = input_tx.send(Input::Data(b.to_vec())).await;
                        }
                        Some(Ok(Message::Text(t))) => {
                            let _ = input_tx.send(Input::Data(t.as_bytes().to_vec())).await;
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                            open = false;
                            let _ = input_tx.send(Input::Eof).await;
                        }
                        Some(Ok(_)) => {}
                    },
                }
            }
            let _ = ws.send(Message::Close(None)).await;
        })
    } else {
        match sockets.remove("0") {
            Some(stdin) => drop(tokio::spawn(read_stdin(stdin, input_tx))),
            None => drop(input_tx),
        }
        let mut out = sockets.remove("1");
        let mut err = sockets.remove("2");
        tokio::spawn(async move {
            while let Some((stream, bytes)) = output_rx.recv().await {
                let ws = if stream == Stream::Stdout {
                    out.as_mut()
                } else {
                    err.as_mut()
                };
                if let Some(ws) = ws {
                    let _ = ws.send(Message::Binary(bytes.into())).await;
                }
            }
            for ws in [out.as_mut(), err.as_mut()].into_iter().flatten() {
                let _ = ws.send(Message::Close(None)).await;
            }
        })
    };
    let io = Io { input, output };
    let code = lifecycle::exec(node, name, req, io).await;
    // The output reaches the client before the operation says the command ended.
    let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
    code
}
