//! Why an SSH connection ended, read from ssh's standard error and exit status and worded
//! with what to do about it.

use std::fmt;
use std::io;

use super::SshTarget;
use super::command::by_hand;

/// ssh's own exit status for its own errors (the remote command's status otherwise).
const SSH_ERROR: i32 = 255;
/// A shell's status for a command it cannot find.
const NOT_FOUND: i32 = 127;
/// How many of ssh's last lines a message quotes.
const QUOTED_LINES: usize = 3;

/// ssh (or the far side's `corral dial-stdio`) failed: what it said, worded for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshFailure {
    /// The nearest I/O kind, for callers that tell failures apart.
    pub kind: io::ErrorKind,
    /// What happened and what to do.
    pub message: String,
}

impl fmt::Display for SshFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SshFailure {}

impl SshFailure {
    /// The failure as an I/O error whose payload is `self`, so it crosses hyper and tonic
    /// and can be found again (see [`SshFailure::find`]).
    pub fn into_io(self) -> io::Error {
        io::Error::new(self.kind, self)
    }

    /// The SSH failure somewhere in `error`'s chain of causes, if there is one.
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a SshFailure> {
        if let Some(failure) = error.downcast_ref::<SshFailure>() {
            return Some(failure);
        }
        // An I/O error's `source` skips its own payload: look inside it first.
        if let Some(inner) = error.downcast_ref::<io::Error>().and_then(|e| e.get_ref())
            && let Some(failure) = SshFailure::find(inner)
        {
            return Some(failure);
        }
        error.source().and_then(SshFailure::find)
    }
}

/// Why ssh ended with `code` (`None`: killed by a signal) after writing `stderr`. Called
/// only for an unsuccessful end.
pub fn classify(target: &SshTarget, code: Option<i32>, stderr: &str) -> SshFailure {
    let lines = meaningful_lines(stderr);
    let said = quote(&lines);
    let text = stderr.to_ascii_lowercase();
    let host = &target.host;
    let user = target
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "your user".into());
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    let failure = |kind, message: String| SshFailure { kind, message };

    if has(&[
        "could not resolve hostname",
        "name or service not known",
        "temporary failure in name resolution",
        "nodename nor servname",
    ]) {
        return failure(
            io::ErrorKind::NotFound,
            format!(
                "the host name {host} could not be resolved: ssh said {said}; check the name \
                 (or its Host entry in ~/.ssh/config) and this machine's DNS"
            ),
        );
    }
    if has(&["connection refused"]) {
        return failure(
            io::ErrorKind::ConnectionRefused,
            format!(
                "{host} refused the SSH connection{}: ssh said {said}; check that sshd runs \
                 there and listens on that port",
                port_words(target)
            ),
        );
    }
    if has(&[
        "no route to host",
        "network is unreachable",
        "connection timed out",
        "operation timed out",
        "host is down",
    ]) {
        return failure(
            io::ErrorKind::HostUnreachable,
            format!(
                "{host} cannot be reached{}: ssh said {said}; check that it is up and that \
                 this machine's network (or VPN, or jump host) leads to it",
                port_words(target)
            ),
        );
    }
    if has(&[
        "remote host identification has changed",
        "has changed and you have requested strict checking",
    ]) {
        return failure(
            io::ErrorKind::InvalidData,
            format!(
                "the host key of {host} has changed since it was accepted: ssh said {said}; \
                 if the server was reinstalled on purpose, remove the old key with \
                 'ssh-keygen -R {host}' and connect once with '{}' to accept the new one, \
                 otherwise do not connect",
                by_hand(target)
            ),
        );
    }
    if has(&["host key verification failed"]) {
        return failure(
            io::ErrorKind::InvalidData,
            format!(
                "the host key of {host} is not known here, and with no terminal ssh cannot ask \
                 whether to trust it: ssh said {said}; connect once with '{}' to check and \
                 accept it, or add it to ~/.ssh/known_hosts",
                by_hand(target)
            ),
        );
    }
    if has(&["permission denied ("]) {
        return failure(
            io::ErrorKind::PermissionDenied,
            format!(
                "{host} refused to log {user} in: ssh said {said}; check that ssh-agent holds \
                 the key ('ssh-add -l') or that ~/.ssh/config names it (IdentityFile), and \
                 that its public key is in ~{user}/.ssh/authorized_keys on {host}"
            ),
        );
    }
    if code == Some(NOT_FOUND)
        && has(&[
            "command not found",
            ": not found",
            "no such file or directory",
        ])
    {
        return failure(
            io::ErrorKind::NotFound,
            format!(
                "corral is not installed on {host}, or not on the PATH of {user}'s \
                 non-interactive shell: ssh said {said}; install corral there, or make the \
                 shell find it (a link in /usr/local/bin, or PATH set in ~/.bashrc before its \
                 interactive-only part)"
            ),
        );
    }
    if has(&["unrecognized subcommand 'dial-stdio'"]) {
        return failure(
            io::ErrorKind::Unsupported,
            format!(
                "the corral on {host} is too old for SSH remotes (it has no 'dial-stdio'): \
                 install the same version there as here ('corral version' shows it)"
            ),
        );
    }
    // Any status but ssh's own is the far side's: `corral dial-stdio` says what is wrong.
    if code.is_some() && code != Some(SSH_ERROR) && !lines.is_empty() {
        let words = lines
            .iter()
            .map(|l| l.strip_prefix("Error: ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join(" ");
        return failure(
            io::ErrorKind::ConnectionRefused,
            format!("on {host}: {words}"),
        );
    }
    if has(&[
        "connection closed by",
        "connection reset by",
        "kex_exchange_identification",
    ]) {
        return failure(
            io::ErrorKind::ConnectionReset,
            format!(
                "{host} closed the SSH connection{}: ssh said {said}; its sshd log says why \
                 (too many connections, or this machine is not allowed)",
                port_words(target)
            ),
        );
    }
    let how = match code {
        Some(code) => format!("ssh ended with exit status {code}"),
        None => "ssh was killed by a signal".into(),
    };
    let message = if lines.is_empty() {
        format!(
            "{how} without saying why; try '{} corral version' to see what happens",
            by_hand(target)
        )
    } else {
        format!(
            "{how}: ssh said {said}; try '{} corral version' to see what happens",
            by_hand(target)
        )
    };
    failure(io::ErrorKind::BrokenPipe, message)
}

/// ` (port N)` when the target names a port.
fn port_words(target: &SshTarget) -> String {
    target
        .port
        .map(|p| format!(" on port {p}"))
        .unwrap_or_default()
}

/// ssh's lines worth showing: no blank lines, no notice that a key was added.
fn meaningful_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| l.trim_end_matches('\r').trim())
        .filter(|l| !l.is_empty())
        .filter(|l| !l.starts_with("Warning: Permanently added"))
        .filter(|l| !l.chars().all(|c| c == '@'))
        .map(str::to_owned)
        .collect()
}

/// The last few lines, quoted as one.
fn quote(lines: &[String]) -> String {
    let start = lines.len().saturating_sub(QUOTED_LINES);
    format!("\"{}\"", lines[start..].join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real standard error of OpenSSH 9.2 (and of bash and dash on the far side).
    const UNRESOLVED: &str =
        "ssh: Could not resolve hostname nowhere.invalid: Name or service not known\r\n";
    const REFUSED: &str = "ssh: connect to host 127.0.0.1 port 2222: Connection refused\r\n";
    const NO_ROUTE: &str = "ssh: connect to host 10.1.2.3 port 22: No route to host\r\n";
    const TIMED_OUT: &str = "ssh: connect to host 10.1.2.3 port 22: Connection timed out\r\n";
    const UNKNOWN_KEY: &str = "No ED25519 host key is known for [127.0.0.5]:2222 and you \
                               have requested strict checking.\r\nHost key verification \
                               failed.\r\n";
    const CHANGED_KEY: &str = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n\
        @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n\
        @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n\
        IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\r\n\
        Host key for [127.0.0.5]:2222 has changed and you have requested strict checking.\r\n\
        Host key verification failed.\r\n";
    const DENIED: &str = "root@127.0.0.5: Permission denied (publickey).\r\n";
    const BASH_MISSING: &str = "bash: line 1: corral: command not found\n";
    const DASH_MISSING: &str = "sh: 1: corral: not found\n";
    const OLD_CORRAL: &str = "error: unrecognized subcommand 'dial-stdio'\n\nUsage: corral \
                              <COMMAND>\n\nFor more information, try '--help'.\n";
    const NO_DAEMON: &str = "Error: no Corral daemon at /srv/c (no socket at \
                             /srv/c/unix.socket): start it with 'corrald'\n";
    const CLOSED: &str = "Connection closed by 127.0.0.5 port 2222\r\n";
    const RESET: &str = "kex_exchange_identification: read: Connection reset by peer\r\nConnection reset by \
         127.0.0.5 port 2222\r\n";
    const ADDED: &str = "Warning: Permanently added '[127.0.0.5]:2222' (ED25519) to the list \
                         of known hosts.\r\n";

    #[test]
    fn what_ssh_said_becomes_what_to_do() {
        let target = SshTarget::parse("ssh://root@lab:2222/srv/c").unwrap();
        let added_then_missing = format!("{ADDED}{BASH_MISSING}");
        type Case<'a> = (Option<i32>, &'a str, io::ErrorKind, &'a [&'a str]);
        let cases: [Case; 15] = [
            (
                Some(255),
                UNRESOLVED,
                io::ErrorKind::NotFound,
                &["host name lab could not be resolved", "Name or service"],
            ),
            (
                Some(255),
                REFUSED,
                io::ErrorKind::ConnectionRefused,
                &[
                    "lab refused the SSH connection on port 2222",
                    "sshd runs there",
                ],
            ),
            (
                Some(255),
                NO_ROUTE,
                io::ErrorKind::HostUnreachable,
                &["lab cannot be reached", "No route to host"],
            ),
            (
                Some(255),
                TIMED_OUT,
                io::ErrorKind::HostUnreachable,
                &["cannot be reached", "timed out"],
            ),
            (
                Some(255),
                UNKNOWN_KEY,
                io::ErrorKind::InvalidData,
                &[
                    "host key of lab is not known here",
                    "no terminal",
                    "connect once with 'ssh -p 2222 root@lab'",
                    "known_hosts",
                ],
            ),
            (
                Some(255),
                CHANGED_KEY,
                io::ErrorKind::InvalidData,
                &["has changed since it was accepted", "ssh-keygen -R lab"],
            ),
            (
                Some(255),
                DENIED,
                io::ErrorKind::PermissionDenied,
                &[
                    "lab refused to log root in",
                    "Permission denied (publickey)",
                    "ssh-add -l",
                    "~root/.ssh/authorized_keys on lab",
                ],
            ),
            (
                Some(127),
                BASH_MISSING,
                io::ErrorKind::NotFound,
                &[
                    "corral is not installed on lab, or not on the PATH of root's \
                     non-interactive shell: ssh said \"bash: line 1: corral: command not found\"",
                ],
            ),
            (
                Some(127),
                DASH_MISSING,
                io::ErrorKind::NotFound,
                &["corral is not installed on lab"],
            ),
            (
                Some(127),
                &added_then_missing,
                io::ErrorKind::NotFound,
                &["ssh said \"bash: line 1: corral: command not found\""],
            ),
            (
                Some(2),
                OLD_CORRAL,
                io::ErrorKind::Unsupported,
                &["too old for SSH remotes"],
            ),
            (
                Some(1),
                NO_DAEMON,
                io::ErrorKind::ConnectionRefused,
                &["on lab: no Corral daemon at /srv/c (no socket at /srv/c/unix.socket)"],
            ),
            (
                Some(255),
                CLOSED,
                io::ErrorKind::ConnectionReset,
                &["lab closed the SSH connection on port 2222", "sshd log"],
            ),
            (
                Some(255),
                RESET,
                io::ErrorKind::ConnectionReset,
                &["lab closed the SSH connection", "Connection reset by peer"],
            ),
            (
                None,
                "",
                io::ErrorKind::BrokenPipe,
                &["ssh was killed by a signal without saying why"],
            ),
        ];
        for (code, stderr, kind, says) in cases {
            let failure = classify(&target, code, stderr);
            assert_eq!(failure.kind, kind, "{stderr:?}: {failure}");
            for part in says {
                assert!(
                    failure.message.contains(part),
                    "{stderr:?}:\n{failure}\nlacks {part:?}"
                );
            }
            assert!(!failure.message.contains('\r'), "{failure}");
        }
    }

    #[test]
    fn an_unknown_failure_quotes_ssh_and_says_how_to_look_closer() {
        let target = SshTarget::parse("ssh://lab").unwrap();
        let failure = classify(&target, Some(255), "something odd\n");
        assert_eq!(
            failure.message,
            "ssh ended with exit status 255: ssh said \"something odd\"; try 'ssh lab corral \
             version' to see what happens"
        );
    }

    #[test]
    fn a_failure_is_found_again_behind_io_errors() {
        let target = SshTarget::parse("ssh://lab").unwrap();
        let failure = classify(&target, Some(255), REFUSED);
        let wrapped = io::Error::other(failure.clone().into_io());
        assert_eq!(SshFailure::find(&wrapped), Some(&failure));
        assert_eq!(SshFailure::find(&io::Error::other("plain")), None);
    }
}
