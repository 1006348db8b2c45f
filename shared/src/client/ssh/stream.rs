//! The byte stream of an SSH remote: a child `ssh ... corral dial-stdio` whose standard
//! input and output carry HTTP. When the child ends badly, reads and writes fail with what
//! it said on standard error (see [`super::failure`]) instead of a bare end of stream.

use std::future::Future;
use std::io::{self, IsTerminal};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

use super::SshTarget;
use super::command::{SSH_COMMAND_VAR, command_words, ssh_argv};
use super::failure::{SshFailure, classify};

/// How long ssh may take to exit once its output has ended, before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// How much of ssh's standard error is kept (the rest is read and dropped).
const STDERR_KEEP: usize = 64 * 1024;

/// Starts `ssh` for `target` and returns its pipes as one stream.
pub async fn connect(target: &SshTarget) -> io::Result<SshStream> {
    let setting = std::env::var(SSH_COMMAND_VAR).ok();
    let words = match &target.ssh_command {
        Some(words) if !words.is_empty() => words.to_vec(),
        _ => command_words(setting.as_deref())
            .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?,
    };
    // With no terminal to answer a prompt, ssh must fail rather than wait for one.
    let batch = !io::stdin().is_terminal();
    let argv = ssh_argv(&words, target, batch);
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| spawn_error(&argv[0], argv[0] != "ssh", e))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(io::Error::other("ssh started without the pipes asked for"));
    };
    let stderr = tokio::spawn(async move {
        let mut stderr = stderr;
        let mut kept = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
            let room = STDERR_KEEP.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..n.min(room)]);
        }
        String::from_utf8_lossy(&kept).into_owned()
    });
    Ok(SshStream {
        stdin: Some(stdin),
        stdout,
        end: End::Running(Box::new(Running {
            child,
            stderr,
            target: target.clone(),
        })),
        first_error: None,
    })
}

/// Why `program` could not be started, and what to do; `chosen` when someone named a
/// program other than the system's `ssh` (usually through `CORRAL_SSH_COMMAND`).
fn spawn_error(program: &str, chosen: bool, e: io::Error) -> io::Error {
    let what = if chosen {
        format!("the ssh command {program:?}")
    } else {
        "ssh".into()
    };
    let hint = match (e.kind(), chosen) {
        (io::ErrorKind::NotFound, false) => {
            "; install the OpenSSH client (e.g. 'apt-get install openssh-client')"
        }
        (io::ErrorKind::NotFound, true) => "; check the program named in CORRAL_SSH_COMMAND",
        _ => "",
    };
    io::Error::new(e.kind(), format!("cannot run {what}: {e}{hint}"))
}

/// A running `ssh ... corral dial-stdio`: its input and output, and how it ended.
pub struct SshStream {
    /// `None` once shut down: closing it tells the far side nothing more is coming.
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    end: End,
    /// The error that made the stream look at how ssh ended, returned if ssh ended well.
    first_error: Option<io::Error>,
}

/// A child still running; dropping it kills it.
struct Running {
    child: Child,
    /// Collects what it writes on standard error.
    stderr: JoinHandle<String>,
    target: SshTarget,
}

/// The child's state, as far as the stream knows it.
enum End {
    /// Running.
    Running(Box<Running>),
    /// Its output ended or broke: waiting for its exit status and last words.
    Ending(Pin<Box<dyn Future<Output = Option<SshFailure>> + Send>>),
    /// It ended: with a failure, or well (`None`).
    Ended(Option<SshFailure>),
}

impl SshStream {
    /// Once ssh's pipes end or break: waits for ssh to exit and reads what it said.
    /// `Ready(None)` when it ended well.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Option<SshFailure>> {
        loop {
            match &mut self.end {
                End::Running(_) => {
                    let End::Running(running) = std::mem::replace(&mut self.end, End::Ended(None))
                    else {
                        unreachable!("matched just above");
                    };
                    let Running {
                        mut child,
                        stderr,
                        target,
                    } = *running;
                    self.end = End::Ending(Box::pin(async move {
                        let status = match tokio::time::timeout(EXIT_WAIT, child.wait()).await {
                            Ok(Ok(status)) => Some(status),
                            _ => {
                                let _ = child.start_kill();
                                None
                            }
                        };
                        let said = tokio::time::timeout(EXIT_WAIT, stderr)
                            .await
                            .ok()
                            .and_then(Result::ok)
                            .unwrap_or_default();
                        match status {
                            Some(status) if status.success() => None,
                            Some(status) => Some(classify(&target, status.code(), &said)),
                            None => Some(classify(&target, None, &said)),
                        }
                    }));
                }
                End::Ending(waiting) => {
                    let outcome = ready!(waiting.as_mut().poll(cx));
                    self.end = End::Ended(outcome);
                }
                End::Ended(outcome) => return Poll::Ready(outcome.clone()),
            }
        }
    }

    /// The error to report once ssh's output ended or broke with `error` (`None`: a plain
    /// end of stream): ssh's failure when it failed, else the original outcome.
    fn poll_outcome(
        &mut self,
        cx: &mut Context<'_>,
        error: Option<io::Error>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = error {
            self.first_error.get_or_insert(e);
        }
        match ready!(self.poll_end(cx)) {
            Some(failure) => Poll::Ready(Err(failure.into_io())),
            None => Poll::Ready(self.first_error.take().map_or(Ok(()), Err)),
        }
    }
}

impl AsyncRead for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !matches!(this.end, End::Running(_)) {
            return this.poll_outcome(cx, None);
        }
        let before = buf.filled().len();
        match ready!(Pin::new(&mut this.stdout).poll_read(cx, buf)) {
            Ok(()) if buf.filled().len() > before || buf.remaining() == 0 => Poll::Ready(Ok(())),
            // The end of ssh's output: did it end well?
            Ok(()) => this.poll_outcome(cx, None),
            Err(e) => this.poll_outcome(cx, Some(e)),
        }
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(stdin) = this
            .stdin
            .as_mut()
            .filter(|_| matches!(this.end, End::Running(_)))
        else {
            return this
                .poll_outcome(cx, Some(io::ErrorKind::BrokenPipe.into()))
                .map_ok(|()| 0);
        };
        match ready!(Pin::new(stdin).poll_write(cx, data)) {
            Ok(n) => Poll::Ready(Ok(n)),
            Err(e) => this.poll_outcome(cx, Some(e)).map_ok(|()| 0),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Closing ssh's input is how the far side learns that nothing more is coming.
        self.get_mut().stdin = None;
        Poll::Ready(Ok(()))
    }
}
