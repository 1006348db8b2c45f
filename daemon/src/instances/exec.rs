//! Running a command in an instance (`corral exec`, LXD's `POST /1.0/instances/NAME/exec`):
//! `runc exec` on the member holding it, with its stdin, stdout, stderr and exit code, or a
//! terminal (`-t`). A member that does not hold the instance runs it on the holder through
//! one websocket (see [`remote`]), carrying the same streams.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::local;
use crate::error::{Error, Result};
use crate::node::Node;

pub mod remote;
pub mod session;

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// A terminal instead of three streams.
    #[serde(default)]
    pub interactive: bool,
    /// The terminal's size.
    #[serde(default)]
    pub width: u16,
    /// The terminal's size.
    #[serde(default)]
    pub height: u16,
    /// The working directory ("" for the instance's `/`).
    #[serde(default)]
    pub cwd: String,
}

/// What reaches the command while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Bytes for its stdin (or its terminal).
    Data(Vec<u8>),
    /// Its stdin ends.
    Eof,
    /// Its terminal is now this wide and high.
    Resize(u16, u16),
    /// A signal for it.
    Signal(i32),
}

/// Which stream output came on (a terminal's is [`Stream::Stdout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The streams of one running command.
pub struct Io {
    /// What the client sends.
    pub input: mpsc::Receiver<Input>,
    /// What the command prints.
    pub output: mpsc::Sender<(Stream, Vec<u8>)>,
}

/// Checks a request before anything runs.
pub fn check(req: &ExecRequest) -> Result<()> {
    if req.command.is_empty() || req.command[0].is_empty() {
        return Err(Error::BadRequest(
            "No command given: name what to run, e.g. 'corral exec c1 -- ls /'".into(),
        ));
    }
    if let Some(key) = req
        .environment
        .keys()
        .find(|k| k.is_empty() || k.contains('='))
    {
        return Err(Error::BadRequest(format!(
            "Invalid environment variable name {key:?}: it must be non-empty and have no '='"
        )));
    }
    Ok(())
}

/// The `runc exec` arguments after the state directory.
pub fn runc_args(name: &str, req: &ExecRequest) -> Vec<String> {
    let mut args = vec!["exec".to_owned()];
    if req.interactive {
        args.push("--tty".to_owned());
    }
    if !req.cwd.is_empty() {
        args.push("--cwd".to_owned());
        args.push(req.cwd.clone());
    }
    let mut env = BTreeMap::from([
        (
            "PATH".to_owned(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        ),
        ("HOME".to_owned(), "/root".to_owned()),
        ("USER".to_owned(), "root".to_owned()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ]);
    if req.interactive {
        env.insert("TERM".to_owned(), "xterm".to_owned());
    }
    env.extend(req.environment.clone());
    for (k, v) in env {
        args.push("--env".to_owned());
        args.push(format!("{k}={v}"));
    }
    // runc stops reading its own flags at the container id: what follows is the command.
    args.push(name.to_owned());
    args.extend(req.command.iter().cloned());
    args
}

/// The exit code a shell would report for `status`.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs `req` in instance `name`, held by this member; its exit code.
pub async fn run_here(node: &Node, name: &str, req: &ExecRequest, io: Io) -> Result<i32> {
    check(req)?;
    let runc = local::runc(node)?;
    let running = runc.state(name).await?.is_some_and(|c| c.running());
    if !running {
        return Err(Error::BadRequest(format!(
            "Instance is not running: start it first ('corral start {name}')"
        )));
    }
    let mut context = serde_json::Map::new();
    context.insert("command".into(), req.command.clone().into());
    super::lifecycle::announce(corral_shared::api::Action::InstanceExec, name, context);
    let mut cmd = runc.command();
    cmd.args(runc_args(name, req));
    if req.interactive {
        run_terminal(cmd, req, io).await
    } else {
        run_streams(cmd, io).await
    }
}

/// Copies `from` to `output` as `stream` until it ends.
async fn pump(
    mut from: impl tokio::io::AsyncRead + Unpin,
    stream: Stream,
    output: mpsc::Sender<(Stream, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if output.send((stream, buf[..n].to_vec())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends `signal` to process `pid` (runc passes it on to the command).
fn signal(pid: Option<u32>, signal: i32) {
    if let Some(pid) = pid {
        // SAFETY: kill(2) on a child we spawned, with a signal number from the client.
        unsafe { libc::kill(pid as libc::pid_t, signal) };
    }
}

async fn run_streams(mut cmd: tokio::process::Command, io: Io) -> Result<i32> {
    let Io { mut input, output } = io;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Internal(format!("cannot run runc exec: {e}")))?;
    let pid = child.id();
    let out = tokio::spawn(pump(
        child.stdout.take().expect("piped"),
        Stream::Stdout,
        output.clone(),
    ));
    let err = tokio::spawn(pump(
        child.stderr.take().expect("piped"),
        Stream::Stderr,
        output,
    ));
    let mut stdin = child.stdin.take();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            got = input.recv() => match got {
                Some(Input::Data(bytes)) => {
                    if let Some(s) = stdin.as_mut()
                        && s.write_all(&bytes).await.is_err()
                    {
                        stdin = None;
                    }
                }
                Some(Input::Eof) => stdin = None,
                // The client is gone: wait for the command alone.
                None => {
                    drop(stdin.take());
                    break child.wait().await;
                }
                Some(Input::Signal(sig)) => signal(pid, sig),
                Some(Input::Resize(..)) => {}
            },
        }
    }
    .map_err(|e| Error::Internal(format!("runc exec: {e}")))?;
    // Output the command left in the pipes still goes out.
    let _ = out.await;
    let _ = err.await;
    Ok(exit_code(status))
}

/// A pseudo-terminal pair: (controller, terminal).
fn open_pty(width: u16, height: u16) -> Result<(OwnedFd, OwnedFd)> {
    let mut controller = -1;
    let mut terminal = -1;
    let size = libc::winsize {
        ws_row: if height == 0 { 24 } else { height },
        ws_col: if width == 0 { 80 } else { width },
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills the two descriptors, which we then own.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if rc != 0 {
        return Err(Error::Internal(format!(
            "cannot open a terminal: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both were just opened and are owned by nothing else.
    Ok(unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    })
}

fn resize(controller: &OwnedFd, width: u16, height: u16) {
    let size = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ on a terminal we own; the kernel signals its foreground group.
    unsafe { libc::ioctl(controller.as_raw_fd(), libc::TIOCSWINSZ, &size) };
}

async fn run_terminal(mut cmd: tokio::process::Command, req: &ExecRequest, io: Io) -> Result<i32> {
    let Io { mut input, output } = io;
    let (controller, terminal) = open_pty(req.width, req.height)?;
    let dup = |fd: &OwnedFd| {
        fd.try_clone()
            .map_err(|e| Error::Internal(format!("cannot share the terminal: {e}")))
    };
    cmd.stdin(Stdio::from(dup(&terminal)?))
        .stdout(Stdio::from(dup(&terminal)?))
        .stderr(Stdio::from(dup(&terminal)?));
    // SAFETY: between fork and exec only async-signal-safe calls: runc gets a session of
    // its own with the terminal as its controlling one, so resizes reach it.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Internal(format!("cannot run runc exec: {e}")))?;
    // The command keeps copies of the terminal's descriptors: without them gone too, reading
    // the controller would never end.
    drop(cmd);
    drop(terminal);
    let pid = child.id();
    let reader = tokio::fs::File::from_std(std::fs::File::from(dup(&controller)?));
    let mut writer = tokio::fs::File::from_std(std::fs::File::from(dup(&controller)?));
    let out = tokio::spawn(pump(reader, Stream::Stdout, output));
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            got = input.recv() => match got {
                Some(Input::Data(bytes)) => {
                    let _ = writer.write_all(&bytes).await;
                    let _ = writer.flush().await;
                }
                Some(Input::Resize(w, h)) => resize(&controller, w, h),
                Some(Input::Signal(sig)) => signal(pid, sig),
                Some(Input::Eof) => {}
                None => break child.wait().await,
            },
        }
    }
    .map_err(|e| Error::Internal(format!("runc exec: {e}")))?;
    // Reading the controller ends (EIO) once every holder of the terminal is gone.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), out).await;
    Ok(exit_code(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_exec_is_given_the_command_its_environment_and_terminal() {
        let req = ExecRequest {
            command: vec!["sh".into(), "-c".into(), "echo hi".into()],
            environment: BTreeMap::from([("FOO".into(), "bar".into())]),
            interactive: true,
            cwd: "/tmp".into(),
            ..Default::default()
        };
        let args = runc_args("c1", &req);
        assert_eq!(&args[..4], ["exec", "--tty", "--cwd", "/tmp"]);
        assert!(args.contains(&"FOO=bar".to_owned()));
        assert!(args.contains(&"TERM=xterm".to_owned()));
        let tail = &args[args.len() - 4..];
        assert_eq!(tail, ["c1", "sh", "-c", "echo hi"]);
    }

    #[test]
    fn a_request_needs_a_command_and_proper_variable_names() {
        assert!(check(&ExecRequest::default()).is_err());
        let mut req = ExecRequest {
            command: vec!["ls".into()],
            ..Default::default()
        };
        assert!(check(&req).is_ok());
        req.environment.insert("A=B".into(), "x".into());
        let err = check(&req).unwrap_err().to_string();
        assert!(err.contains("\"A=B\""), "{err}");
    }
}
