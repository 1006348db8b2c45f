//! `corral dial-stdio [--dir DIR]`: joins standard input and output to the local daemon's
//! unix socket, both ways. An SSH remote runs it on the far side (`ssh HOST corral
//! dial-stdio`), so the operator's corral speaks to the daemon through ssh's pipe. Nothing
//! but the relayed bytes goes to standard output; what goes wrong goes to standard error.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use corral_shared::paths::{DIR_ENV, corral_dir, unix_socket};

use crate::error::CliError;

/// How long the daemon may go on answering once the client's side has closed.
const DRAIN: Duration = Duration::from_secs(5);
/// How long the client's side may take to be seen ending once the daemon has closed.
const CLIENT_GRACE: Duration = Duration::from_millis(500);

/// `corral dial-stdio`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DialStdioArgs {
    /// The daemon's directory (default: CORRAL_DIR, else the usual place)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Which side closed first.
enum Closed {
    /// The client's side: standard input ended (it has nothing more to send) or standard
    /// output broke (nobody reads any more).
    Client,
    /// The daemon closed the socket while the client was still there.
    Daemon,
}

/// How one direction of the relay ended.
enum Relayed {
    /// The source ended or failed.
    SourceEnded,
    /// The destination could not be written.
    SinkBroke,
}

/// Relays until either side closes.
pub fn run(args: DialStdioArgs) -> Result<(), CliError> {
    let dir = args.dir.unwrap_or_else(corral_dir);
    let socket = unix_socket(&dir);
    let daemon = UnixStream::connect(&socket).map_err(|e| {
        CliError::Failed(unreachable(
            &dir,
            &socket,
            e.kind(),
            &user(),
            &e.to_string(),
        ))
    })?;
    let to_daemon = daemon.try_clone()?;
    // Unbuffered handles of their own: the caller holds the lock of `io::stdout()`.
    let stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let stdout = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let (closed, ended) = mpsc::channel();
    let client_done = closed.clone();
    // Threads, not tasks: a blocked read of standard input must not hold up the exit.
    // The socket is not half-closed when the client's side ends: the daemon would take
    // that for a hang-up and drop an answer it is still writing.
    std::thread::spawn(move || {
        let side = match relay(&mut &stdin, &mut &to_daemon) {
            Relayed::SourceEnded => Closed::Client,
            Relayed::SinkBroke => Closed::Daemon,
        };
        let _ = client_done.send(side);
    });
    std::thread::spawn(move || {
        let side = match relay(&mut &daemon, &mut &stdout) {
            Relayed::SourceEnded => Closed::Daemon,
            Relayed::SinkBroke => Closed::Client,
        };
        let _ = closed.send(side);
    });
    match ended.recv() {
        // The daemon's close after a finished exchange (`Connection: close`) can overtake
        // the client's end of input, which was already on its way: only a client still
        // there once the grace is over was hung up on.
        Ok(Closed::Daemon) => {
            if hung_up_on(ended.recv_timeout(CLIENT_GRACE).ok()) {
                Err(CliError::Failed(hung_up(&dir)))
            } else {
                Ok(())
            }
        }
        _ => {
            // The daemon finishes what it was sending, within bounds.
            let _ = ended.recv_timeout(DRAIN);
            Ok(())
        }
    }
}

/// Copies `from` to `to` chunk by chunk, flushing each at once (the peer waits for it).
fn relay(from: &mut impl Read, to: &mut impl Write) -> Relayed {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) => return Relayed::SourceEnded,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Relayed::SourceEnded,
        };
        if to.write_all(&chunk[..n]).and_then(|()| to.flush()).is_err() {
            return Relayed::SinkBroke;
        }
    }
}

/// Whether the daemon, having closed first, hung up on a client still there: yes unless the
/// client's side was seen ending within the grace (`then`).
fn hung_up_on(then: Option<Closed>) -> bool {
    !matches!(then, Some(Closed::Client))
}

/// The daemon in `dir` closed the connection while the client still used it.
fn hung_up(dir: &Path) -> String {
    format!(
        "the Corral daemon at {} closed the connection: it stopped or restarted; its log says \
         why, and 'corrald' starts it again",
        dir.display()
    )
}

/// The user this runs as, for messages.
fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            // SAFETY: geteuid(2) has no preconditions and cannot fail.
            format!("uid {}", unsafe { libc::geteuid() })
        })
}

/// Why the daemon's socket at `socket` (in `dir`) cannot be opened, and what to do.
fn unreachable(dir: &Path, socket: &Path, kind: io::ErrorKind, user: &str, os: &str) -> String {
    let (dir, socket) = (dir.display(), socket.display());
    match kind {
        io::ErrorKind::NotFound => format!(
            "no Corral daemon at {dir} (no socket at {socket}): start it with 'corrald' (or \
             its service), or name the daemon's directory in the remote's address \
             (ssh://HOST/PATH) or with --dir or {DIR_ENV}"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "{user} may not open the Corral daemon's socket {socket} (it is root-only): \
             connect as root (ssh://root@HOST) or as a user allowed to open it"
        ),
        io::ErrorKind::ConnectionRefused => format!(
            "no Corral daemon listens on {socket} (the socket is left from one that \
             stopped): start it with 'corrald' (or its service)"
        ),
        _ => format!("cannot open the Corral daemon's socket {socket}: {os}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_socket_says_why_and_what_to_do() {
        let dir = Path::new("/srv/corral");
        let socket = unix_socket(dir);
        let cases = [
            (
                io::ErrorKind::NotFound,
                "no Corral daemon at /srv/corral (no socket at /srv/corral/unix.socket): \
                 start it with 'corrald'",
            ),
            (
                io::ErrorKind::PermissionDenied,
                "ops may not open the Corral daemon's socket /srv/corral/unix.socket (it is \
                 root-only): connect as root (ssh://root@HOST) or as a user allowed to open it",
            ),
            (
                io::ErrorKind::ConnectionRefused,
                "no Corral daemon listens on /srv/corral/unix.socket",
            ),
            (
                io::ErrorKind::Other,
                "cannot open the Corral daemon's socket /srv/corral/unix.socket: odd",
            ),
        ];
        for (kind, says) in cases {
            let message = unreachable(dir, &socket, kind, "ops", "odd");
            assert!(message.starts_with(says), "{kind:?}: {message}");
        }
    }

    #[test]
    fn bytes_are_relayed_until_the_source_ends() {
        let mut out = Vec::new();
        let ended = relay(&mut &b"GET /1.0 HTTP/1.1\r\n\r\n"[..], &mut out);
        assert!(matches!(ended, Relayed::SourceEnded));
        assert_eq!(out, b"GET /1.0 HTTP/1.1\r\n\r\n");
        let mut full = [0u8; 4];
        let ended = relay(&mut &b"more than four"[..], &mut &mut full[..]);
        assert!(matches!(ended, Relayed::SinkBroke));
    }

    #[test]
    fn a_daemon_closing_first_hung_up_only_on_a_client_still_there() {
        // (what was seen within the grace after the daemon closed, hung up on)
        let cases = [
            (Some(Closed::Client), false),
            (Some(Closed::Daemon), true),
            (None, true),
        ];
        for (then, want) in cases {
            let seen = format!("{:?}", then.as_ref().map(|c| matches!(c, Closed::Client)));
            assert_eq!(hung_up_on(then), want, "client ended: {seen}");
        }
    }

    #[test]
    fn a_daemon_that_hangs_up_is_named_with_what_to_do() {
        assert_eq!(
            hung_up(Path::new("/srv/corral")),
            "the Corral daemon at /srv/corral closed the connection: it stopped or restarted; \
             its log says why, and 'corrald' starts it again"
        );
    }
}
