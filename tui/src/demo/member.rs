//! One `corrald` process of the demo: its directory, address, log, and its life.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use corral_shared::client::Client;
use tokio::time::Instant;

use crate::error::CliError;

/// How often process and readiness checks look again.
const POLL: Duration = Duration::from_millis(50);

/// How much of a log an error quotes.
const LOG_TAIL_LINES: usize = 15;

/// How the demo starts a member's daemon: a program, and the name it runs under (argv[0]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonProgram {
    /// The executable.
    pub program: PathBuf,
    /// argv[0] when it is not the program's path: `corrald` makes `corral` the daemon.
    pub arg0: Option<OsString>,
}

impl DaemonProgram {
    /// `program` run as it is: a stand-in for the daemon in tests.
    #[cfg(test)]
    pub fn binary(program: &Path) -> DaemonProgram {
        DaemonProgram {
            program: program.to_path_buf(),
            arg0: None,
        }
    }

    /// The `corral` at `exe` run as the daemon (see [`crate::cli::daemon_args`]): the
    /// members are then always the console's own version, and nothing else needs building.
    pub fn this_corral(exe: &Path) -> DaemonProgram {
        DaemonProgram {
            program: exe.to_path_buf(),
            arg0: Some(crate::cli::DAEMON.into()),
        }
    }
}

impl fmt::Display for DaemonProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg0 {
            None => write!(f, "{}", self.program.display()),
            Some(name) => write!(
                f,
                "{} (as {})",
                self.program.display(),
                name.to_string_lossy()
            ),
        }
    }
}

/// A running (or stopped) demo member. Dropping it kills the process if it still runs.
#[derive(Debug)]
pub struct Member {
    /// Its name in the cluster.
    pub name: String,
    /// `IP:PORT` it serves the API and the cluster on.
    pub address: String,
    /// Its `CORRAL_DIR`.
    pub dir: PathBuf,
    /// Where its standard output and error go.
    pub log: PathBuf,
    child: Option<Child>,
    pid: u32,
}

/// A free port on `ip`, found by binding port 0 (the kernel's choice is released at once,
/// so another program could take it first; on loopback that is very unlikely).
pub fn free_address(ip: &str) -> Result<String, CliError> {
    let listener = TcpListener::bind((ip, 0)).map_err(|e| {
        CliError::Failed(format!(
            "cannot find a free port on {ip}: {e}; the demo needs the loopback addresses \
             127.0.0.1 to 127.0.0.3"
        ))
    })?;
    let port = listener.local_addr()?.port();
    Ok(format!("{ip}:{port}"))
}

impl Member {
    /// Starts `corrald` for `name` with `dir` as its `CORRAL_DIR` and its output in `log`.
    /// The process gets its own process group, so a Ctrl-C at the terminal reaches only the
    /// console, which then stops the members in order; and it is sent SIGTERM if the console
    /// dies without doing so.
    pub fn spawn(
        corrald: &DaemonProgram,
        name: &str,
        address: String,
        dir: PathBuf,
        log: PathBuf,
    ) -> Result<Member, CliError> {
        std::fs::create_dir_all(&dir)?;
        let out = File::create(&log)?;
        let mut command = Command::new(&corrald.program);
        if let Some(arg0) = &corrald.arg0 {
            command.arg0(arg0);
        }
        command
            .env("CORRAL_DIR", &dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        // SAFETY: the closure runs in the child between fork and exec and only makes one
        // async-signal-safe system call; it touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        }
        let child = command
            .spawn()
            .map_err(|e| CliError::Failed(format!("cannot start {corrald} for {name}: {e}")))?;
        Ok(Member {
            name: name.to_string(),
            address,
            dir,
            log,
            pid: child.id(),
            child: Some(child),
        })
    }

    /// The process id it was started with.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// A client of its unix socket.
    pub fn client(&self) -> Client {
        Client::unix(corral_shared::paths::unix_socket(&self.dir))
    }

    /// How the process ended, if it has (reaping it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// Waits until the daemon says it is ready, failing early if it exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), CliError> {
        let client = self.client().with_timeout(Duration::from_secs(2));
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Err(self.failure(&format!(
                    "corrald for {} exited ({status}) before it was ready",
                    self.name
                )));
            }
            let last = match client.is_ready().await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(self.failure(&format!(
                    "{} was not ready within {}s (last answer: {last})",
                    self.name,
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Asks the daemon to stop; if it cannot be asked, sends it SIGTERM instead.
    pub async fn ask_to_stop(&mut self) {
        if !self.is_running() {
            return;
        }
        let client = self.client().with_timeout(Duration::from_secs(5));
        if client
            .request("PUT", "/internal/shutdown", None, None)
            .await
            .is_err()
        {
            self.signal(libc::SIGTERM);
        }
    }

    /// Waits for the process to exit until `deadline`; `false` if it is still running then.
    pub async fn wait_exit(&mut self, deadline: Instant) -> bool {
        loop {
            if !self.is_running() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, signal: libc::c_int) {
        if let Ok(pid) = libc::pid_t::try_from(self.pid) {
            // SAFETY: kill(2) on our own child's pid; the child is not reaped yet (we hold
            // it and only reap through `try_wait`), so the pid cannot name another process.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// An error saying `what`, with the end of the member's log.
    pub fn failure(&self, what: &str) -> CliError {
        CliError::Failed(format!(
            "{what}\n--- last lines of {} ---\n{}",
            self.log.display(),
            log_tail(&self.log, LOG_TAIL_LINES)
        ))
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of a log file (reading at most its last 64 KiB).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let mut bytes = Vec::new();
        let _ = file.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    if tail.is_empty() {
        "(empty)".into()
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_addresses_are_on_the_asked_ip() {
        let address = free_address("127.0.0.2").unwrap();
        let (ip, port) = address.rsplit_once(':').unwrap();
        assert_eq!(ip, "127.0.0.2");
        assert!(port.parse::<u16>().unwrap() > 0);
    }

    #[test]
    fn the_daemon_program_says_how_it_runs() {
        let corrald = DaemonProgram::binary(Path::new("/opt/corrald"));
        assert_eq!(corrald.arg0, None);
        assert_eq!(corrald.to_string(), "/opt/corrald");
        let corral = DaemonProgram::this_corral(Path::new("/opt/corral"));
        assert_eq!(corral.arg0, Some(OsString::from("corrald")));
        assert_eq!(corral.to_string(), "/opt/corral (as corrald)");
    }

    #[test]
    fn log_tails_keep_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(log_tail(&path, 2), "b\nc");
        assert_eq!(log_tail(&dir.path().join("none"), 2), "(empty)");
    }

    /// A stand-in for corrald that never answers: a script running `body`.
    fn stand_in(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-corrald");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn spawn(program: &Path, dir: &Path, name: &str) -> Member {
        Member::spawn(
            &DaemonProgram::binary(program),
            name,
            "127.0.0.1:1".into(),
            dir.join(name),
            dir.join(format!("{name}.log")),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_daemon_that_dies_is_reported_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let program = stand_in(dir.path(), "echo 'cannot open the database' >&2; exit 3");
        let mut member = spawn(&program, dir.path(), "node1");
        let err = member
            .wait_ready(Duration::from_secs(10))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("corrald for node1 exited (exit status: 3)"),
            "{err}"
        );
        assert!(err.ends_with("---\ncannot open the database"), "{err}");
    }

    #[tokio::test]
    async fn a_daemon_that_does_not_answer_is_stopped_by_signal() {
        let dir = tempfile::tempdir().unwrap();
        let program = stand_in(dir.path(), "exec sleep 60");
        let mut member = spawn(&program, dir.path(), "node2");
        assert!(member.dir.is_dir());
        let err = member
            .wait_ready(Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("was not ready within"), "{err}");
        // No socket to ask on: SIGTERM instead, and the process is gone.
        member.ask_to_stop().await;
        assert!(
            member
                .wait_exit(Instant::now() + Duration::from_secs(10))
                .await
        );
        assert!(!member.is_running());

        // Dropping a member kills and reaps its process.
        let other = spawn(&program, dir.path(), "node3");
        let pid = other.pid();
        drop(other);
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }
}
