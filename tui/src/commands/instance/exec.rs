//! `corral exec NAME -- COMMAND...`: LXD's exec — a websocket operation whose streams this
//! console connects (stdin, stdout, stderr and control; or one terminal and control), and
//! whose end carries the command's exit code, which `corral` exits with.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use corral_shared::api::{InstanceExecControl, InstanceExecPost};
use corral_shared::client::{Client, Frame, Socket};
use tokio::signal::unix::{SignalKind, signal};

use super::ExecArgs;
use crate::error::CliError;

/// The longest a command may run under `corral exec`.
const COMMAND_WAIT: Duration = Duration::from_secs(24 * 3600);

/// The exec's request for `args`, in a terminal of `size` when `interactive`.
pub fn request(
    args: &ExecArgs,
    interactive: bool,
    size: (u16, u16),
) -> Result<InstanceExecPost, CliError> {
    let environment: BTreeMap<String, String> = super::pairs(&args.env)?;
    Ok(InstanceExecPost {
        command: args.command.clone(),
        environment,
        wait_for_websocket: true,
        interactive,
        width: size.0,
        height: size.1,
        record_output: false,
        cwd: args.cwd.clone().unwrap_or_default(),
    })
}

/// Whether to run in a terminal: `-t` or `-T` say; else when stdin and stdout are terminals.
pub fn wants_terminal(args: &ExecArgs, stdin_tty: bool, stdout_tty: bool) -> bool {
    if args.interactive {
        return true;
    }
    !args.noninteractive && stdin_tty && stdout_tty
}

/// Runs the command and returns its exit code.
pub async fn run(client: &Client, args: &ExecArgs) -> Result<i32, CliError> {
    let interactive = wants_terminal(
        args,
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let post = request(args, interactive, size)?;
    let response = client
        .post(&format!("/1.0/instances/{}/exec", args.name), &post)
        .await?;
    let op = response.operation()?;
    let fds: BTreeMap<String, String> = op
        .metadata
        .get("fds")
        .and_then(|f| serde_json::from_value(f.clone()).ok())
        .ok_or_else(|| {
            CliError::Failed(format!(
                "the exec operation {} named no websockets to connect",
                op.id
            ))
        })?;
    let mut sockets = BTreeMap::new();
    for (stream, secret) in &fds {
        let path = format!("/1.0/operations/{}/websocket?secret={secret}", op.id);
        sockets.insert(stream.clone(), client.websocket(&path).await?);
    }
    let streams = if interactive {
        terminal(&mut sockets).await
    } else {
        separate(&mut sockets)
    };
    let done = client
        .wait_operation(&format!("/1.0/operations/{}", op.id), COMMAND_WAIT)
        .await?;
    // Whatever the command printed is written out before `corral` exits.
    let _ = tokio::time::timeout(Duration::from_secs(10), streams).await;
    let code = done
        .metadata
        .get("return")
        .and_then(|r| r.as_i64())
        .ok_or_else(|| {
            CliError::Failed(format!("the exec operation {} gave no exit code", op.id))
        })?;
    Ok(code as i32)
}

/// Copies a received stream into `out` until it ends.
async fn drain(mut socket: Socket, mut out: impl Write) {
    while let Some(frame) = socket.recv.recv().await {
        match frame {
            Frame::Binary(b) => {
                let _ = out.write_all(&b);
                let _ = out.flush();
            }
            Frame::Text(t) => {
                let _ = out.write_all(t.as_bytes());
                let _ = out.flush();
            }
            Frame::Close => break,
        }
    }
}

/// Copies this process's stdin to `send` until it ends, from a thread of its own (a read
/// of a terminal nobody types in must not hold up the end of the command); then closes the
/// socket when it carries stdin alone (`close`), since a terminal's still brings output.
fn feed(send: tokio::sync::mpsc::Sender<Frame>, close: bool) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if send
                        .blocking_send(Frame::Binary(buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        if close {
            let _ = send.blocking_send(Frame::Close);
        } else {
            // Held until the process ends: dropping it would close the terminal's socket.
            let _held = send;
            loop {
                std::thread::park();
            }
        }
    });
}

/// Three streams kept apart; returns when stdout and stderr have ended.
fn separate(sockets: &mut BTreeMap<String, Socket>) -> tokio::task::JoinHandle<()> {
    if let Some(stdin) = sockets.remove("0") {
        feed(stdin.send, true);
    }
    let stdout = sockets.remove("1");
    let stderr = sockets.remove("2");
    tokio::spawn(async move {
        let out = stdout.map(|s| tokio::spawn(drain(s, std::io::stdout())));
        let err = stderr.map(|s| tokio::spawn(drain(s, std::io::stderr())));
        for task in [out, err].into_iter().flatten() {
            let _ = task.await;
        }
    })
}

/// Puts the local terminal in raw mode while it lives.
struct RawMode(bool);

impl RawMode {
    fn enable() -> Self {
        RawMode(std::io::stdin().is_terminal() && crossterm::terminal::enable_raw_mode().is_ok())
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// The control message giving the local terminal's size, if it has one.
fn window_resize() -> Option<String> {
    let (width, height) = crossterm::terminal::size().ok()?;
    serde_json::to_string(&resize_message(width, height)).ok()
}

/// LXD's `window-resize` control message for a `width`x`height` terminal.
fn resize_message(width: u16, height: u16) -> InstanceExecControl {
    InstanceExecControl {
        command: "window-resize".into(),
        args: BTreeMap::from([
            ("width".into(), width.to_string()),
            ("height".into(), height.to_string()),
        ]),
        signal: 0,
    }
}

/// One terminal: this one's keys go in, the instance's screen comes out.
async fn terminal(sockets: &mut BTreeMap<String, Socket>) -> tokio::task::JoinHandle<()> {
    let raw = RawMode::enable();
    // The control socket stays open while the command runs: it gives the terminal's size
    // at once, then again each time the window changes (SIGWINCH), as lxc does.
    let control = sockets.remove("control");
    if let Some(control) = &control {
        if let Some(text) = window_resize() {
            let _ = control.send.send(Frame::Text(text)).await;
        }
        let send = control.send.clone();
        if let Ok(mut changes) = signal(SignalKind::window_change()) {
            tokio::spawn(async move {
                while changes.recv().await.is_some() {
                    let Some(text) = window_resize() else {
                        continue;
                    };
                    if send.send(Frame::Text(text)).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
    let Some(socket) = sockets.remove("0") else {
        return tokio::spawn(async {});
    };
    let Socket { send, recv } = socket;
    feed(send, false);
    let (unused, _) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let _held = (raw, control);
        drain(Socket { send: unused, recv }, std::io::stdout()).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(t: bool, no_t: bool) -> ExecArgs {
        ExecArgs {
            name: "c1".into(),
            command: vec!["sh".into()],
            interactive: t,
            noninteractive: no_t,
            env: vec!["A=1".into()],
            cwd: None,
        }
    }

    #[test]
    fn a_terminal_is_used_when_asked_or_when_both_ends_are_terminals() {
        for (t, no_t, stdin, stdout, want) in [
            (true, false, false, false, true),
            (false, true, true, true, false),
            (false, false, true, true, true),
            (false, false, true, false, false),
            (false, false, false, true, false),
        ] {
            assert_eq!(
                wants_terminal(&args(t, no_t), stdin, stdout),
                want,
                "-t={t} -T={no_t} stdin={stdin} stdout={stdout}"
            );
        }
    }

    #[test]
    fn the_request_is_lxds() {
        let post = request(&args(false, false), false, (100, 30)).unwrap();
        assert!(post.wait_for_websocket);
        assert_eq!(post.environment["A"], "1");
        let json = serde_json::to_value(&post).unwrap();
        assert_eq!(json["wait-for-websocket"], true);
        assert_eq!(json["command"], serde_json::json!(["sh"]));
    }
}
