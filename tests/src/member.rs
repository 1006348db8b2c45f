//! One `corrald` process under test: its own directory and loopback address, started,
//! killed and restarted like a real server.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::binaries::{corral_bin, corrald_bin};
use crate::wait::wait_until;

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct CommandOutput {
    /// Exit status code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CommandOutput {
    /// Panics with the output unless the command succeeded; returns its stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        &self.stdout
    }

    /// Panics unless the command failed; returns its stderr.
    pub fn failed(&self) -> &str {
        assert_ne!(self.code, 0, "command unexpectedly succeeded: {self:#?}");
        &self.stderr
    }
}

/// A member under test. Dropping it kills its process and removes its directory.
pub struct Member {
    /// The member's name in the cluster.
    pub name: String,
    /// Its `host:port` on loopback.
    pub address: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// Picks a loopback address nobody else in this machine is using: a distinct 127.x.y.z per
/// member (so tests in parallel never collide), with a port the kernel says is free.
fn free_address() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    for attempt in 0..50u32 {
        let x = ((pid >> 8) & 0xff) as u8;
        let y = (pid & 0xff) as u8;
        let z = (((n + attempt * 7) % 250) + 2) as u8;
        let ip = format!("127.{x}.{y}.{z}");
        if let Ok(l) = TcpListener::bind((ip.as_str(), 0)) {
            let port = l.local_addr().expect("bound").port();
            return format!("{ip}:{port}");
        }
    }
    panic!("no free loopback address found");
}

impl Member {
    /// A member with a fresh directory and address, not yet started.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("corral-{name}-"))
            .tempdir()
            .expect("a temporary directory");
        Self {
            name: name.to_owned(),
            address: free_address(),
            dir,
            child: None,
        }
    }

    /// A new member, started and ready.
    pub fn start(name: &str) -> Self {
        let mut m = Self::new(name);
        m.launch();
        m
    }

    /// The member's `CORRAL_DIR`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir().join("unix.socket")
    }

    /// Starts the daemon and waits until it is ready.
    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::File::create(self.dir().join("corrald.log")).expect("log file");
        let child = Command::new(corrald_bin())
            .env("CORRAL_DIR", self.dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("corrald starts");
        self.child = Some(child);
        let ready = self.corrald(&["waitready", "--timeout", "30"], None);
        if ready.code != 0 {
            panic!(
                "{} did not become ready: {}\n--- corrald.log ---\n{}",
                self.name,
                ready.stderr,
                self.log()
            );
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("corrald.log")).unwrap_or_default()
    }

    /// Kills the daemon with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the daemon cleanly with `corrald shutdown` and reaps it.
    pub fn shutdown(&mut self) {
        self.corrald(&["shutdown", "--timeout", "30"], None).ok();
        if let Some(mut child) = self.child.take() {
            let status = wait_until("corrald to exit", Duration::from_secs(30), || {
                child.try_wait().ok().flatten()
            });
            assert!(
                status.success(),
                "corrald exited with {status}: {}",
                self.log()
            );
        }
    }

    /// Starts it again after `kill` or `shutdown`.
    pub fn restart(&mut self) {
        self.launch();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// A bootstrap preseed for this member: `assets/preseed/bootstrap.yaml` with its address.
    pub fn bootstrap_preseed(&self) -> String {
        std::fs::read_to_string(crate::asset("preseed/bootstrap.yaml"))
            .expect("the bootstrap asset")
            .replace("127.0.0.1:8443", &self.address)
            .replace("server_name: node1", &format!("server_name: {}", self.name))
    }

    /// Bootstraps a one-member cluster from the bootstrap asset.
    pub fn bootstrap(&self) {
        let preseed = self.bootstrap_preseed();
        self.corrald(&["init", "--preseed"], Some(&preseed)).ok();
    }

    /// Runs `corral ARGS` against this member.
    pub fn corral(&self, args: &[&str]) -> CommandOutput {
        run(Command::new(corral_bin()).args(args), self.dir(), None)
    }

    /// Runs `corrald ARGS` against this member, with `stdin` if given.
    pub fn corrald(&self, args: &[&str], stdin: Option<&str>) -> CommandOutput {
        run(Command::new(corrald_bin()).args(args), self.dir(), stdin)
    }

    /// `corral cluster list --format json`, parsed.
    pub fn members(&self) -> Vec<serde_json::Value> {
        let out = self.corral(&["cluster", "list", "--format", "json"]);
        serde_json::from_str(out.ok()).expect("cluster list prints JSON")
    }

    /// Sends a raw REST request over the unix socket: the HTTP status and the body as text.
    pub fn raw(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let client = self.client();
        let body = body.map(|b| b.as_bytes().to_vec());
        let (status, bytes) = block_on(client.raw(method, path, body)).expect("the daemon answers");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Sends a request with `If-Match`: the HTTP status, or the error status it was refused with.
    pub fn request_if_match(&self, method: &str, path: &str, body: &serde_json::Value, etag: &str) -> u16 {
        let client = self.client();
        match block_on(client.request(method, path, Some(body), Some(etag))) {
            Ok(resp) => resp.status,
            Err(e) => e.status().unwrap_or(0),
        }
    }

    /// The ETag of a resource.
    pub fn etag(&self, path: &str) -> Option<String> {
        let client = self.client();
        block_on(client.get_with_etag::<serde_json::Value>(path))
            .expect("the resource exists")
            .1
    }

    /// A REST client on this member's unix socket.
    pub fn client(&self) -> corral_shared::client::Client {
        corral_shared::client::Client::unix(self.socket())
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn run(cmd: &mut Command, dir: &Path, stdin: Option<&str>) -> CommandOutput {
    let mut child = cmd
        .env("CORRAL_DIR", dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(text.as_bytes())
            .expect("stdin accepts the input");
    }
    let out = child.wait_with_output().expect("the command ends");
    CommandOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        // Tests leave no process behind, even when they fail.
        self.kill();
    }
}
