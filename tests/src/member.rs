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
    env: Vec<(String, String)>,
    /// The network namespace it runs in (see [`crate::Net`]), if not the machine's own.
    netns: Option<String>,
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
            env: Vec::new(),
            netns: None,
        }
    }

    /// A member that runs, and is driven, inside network namespace `netns` at `address`.
    pub fn in_namespace(name: &str, netns: &str, address: String) -> Self {
        let mut m = Self::new(name);
        m.address = address;
        m.netns = Some(netns.to_owned());
        m
    }

    /// A command running `program` where this member lives (its namespace, if any).
    fn command(&self, program: PathBuf) -> Command {
        match &self.netns {
            Some(ns) => {
                // nsenter joins the network namespace alone: `ip netns exec` would also give
                // the member a /sys of its own, without the cgroup mounts runc needs.
                let mut cmd = Command::new("nsenter");
                cmd.arg(format!("--net=/run/netns/{ns}")).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    /// Sets an environment variable for the daemon's next start (tuning settings).
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.set_env(key, value);
        self
    }

    /// Sets (or replaces) an environment variable for the daemon's next start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
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
        self.spawn();
        self.wait_ready();
    }

    /// Starts the daemon without waiting (for members that need their peers to be ready).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("corrald.log"))
            .expect("log file");
        let child = self
            .command(corrald_bin())
            .env("CORRAL_DIR", self.dir())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("corrald starts");
        self.child = Some(child);
    }

    /// Waits until the daemon is ready (`corrald waitready`).
    pub fn wait_ready(&self) {
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

    /// Starts the daemon and waits (at most 30 s) until it is ready, or says why it is not.
    pub fn try_launch(&mut self) -> Result<(), String> {
        self.spawn();
        let ready = self.corrald(&["waitready", "--timeout", "30"], None);
        if ready.code == 0 {
            Ok(())
        } else {
            Err(format!(
                "{} did not become ready: {}",
                self.name,
                ready.stderr.trim()
            ))
        }
    }

    /// Stops the process with SIGSTOP, as a long pause (GC, swap, a VM frozen) would.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused process run again (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) on our own child's pid; a failure (already gone) changes nothing.
            unsafe { libc::kill(pid as libc::pid_t, signal) };
        }
    }

    /// Moves the member to a new loopback address (for tests that change addresses).
    pub fn move_to_new_address(&mut self) -> String {
        self.address = free_address();
        self.address.clone()
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("corrald.log")).unwrap_or_default()
    }

    /// Waits (at most 30 s) until the daemon's log contains `text`.
    pub fn wait_log(&self, text: &str) {
        wait_until(
            &format!("{}'s log to say {text:?}", self.name),
            Duration::from_secs(30),
            || self.log().contains(text).then_some(()),
        );
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
        self.stop().ok();
    }

    /// Stops the daemon with `corrald shutdown`, reaps it, and returns what the command said
    /// (it fails when the member could not hand its role over, though the daemon stops).
    pub fn stop(&mut self) -> CommandOutput {
        let out = self.corrald(&["shutdown", "--timeout", "30"], None);
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
        out
    }

    /// Starts it again after `kill` or `shutdown`.
    pub fn restart(&mut self) {
        self.launch();
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the process ended, if it ended by itself (it is reaped; `None` while it runs or
    /// when it was never started or was killed by the harness).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
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

    /// Issues a join token for `name` on this member (as `corral cluster add` does).
    pub fn token_for(&self, name: &str) -> String {
        let body = serde_json::json!({ "server_name": name }).to_string();
        let (status, text) = self.raw("POST", "/1.0/cluster/members", Some(&body));
        assert_eq!(status, 202, "token for {name}: {text}");
        let envelope: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let meta = &envelope["metadata"]["metadata"];
        let token = corral_shared::preseed::JoinToken {
            server_name: meta["serverName"].as_str().expect("serverName").to_owned(),
            fingerprint: meta["fingerprint"]
                .as_str()
                .expect("fingerprint")
                .to_owned(),
            addresses: serde_json::from_value(meta["addresses"].clone()).expect("addresses"),
            secret: meta["secret"].as_str().expect("secret").to_owned(),
            expires_at: meta["expiresAt"].as_str().unwrap_or_default().to_owned(),
        };
        token.encode()
    }

    /// The `member_config` answers (all empty) to the keys `via`'s cluster asks joiners for.
    pub fn member_config_answers(via: &Member) -> String {
        let cluster: serde_json::Value =
            serde_json::from_str(via.corral(&["query", "/1.0/cluster"]).ok()).expect("JSON");
        let keys = cluster["member_config"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if keys.is_empty() {
            return String::new();
        }
        let mut yaml = String::from("  member_config:\n");
        for k in keys {
            yaml.push_str(&format!(
                "  - entity: {}\n    name: {}\n    key: {}\n    value: \"\"\n",
                k["entity"].as_str().unwrap_or_default(),
                k["name"].as_str().unwrap_or_default(),
                k["key"].as_str().unwrap_or_default()
            ));
        }
        yaml
    }

    /// A preseed that joins this member to `via`'s cluster with `token`.
    pub fn token_preseed(&self, via: &Member, token: &str) -> String {
        format!(
            "cluster:\n  enabled: true\n  server_address: {}\n  cluster_token: {token}\n{}",
            self.address,
            Self::member_config_answers(via)
        )
    }

    /// A preseed that joins this member to `via`'s cluster with the trust password.
    pub fn password_preseed(&self, via: &Member, password: &str) -> String {
        let cert = via.server_info()["environment"]["certificate"]
            .as_str()
            .expect("the cluster certificate")
            .to_owned();
        let cert_path = self.dir().join("cluster-to-join.crt");
        std::fs::write(&cert_path, cert).expect("write the certificate");
        format!(
            "cluster:\n  enabled: true\n  server_name: {}\n  server_address: {}\n  cluster_address: {}\n  cluster_certificate_path: {}\n  cluster_password: {password}\n{}",
            self.name,
            self.address,
            via.address,
            cert_path.display(),
            Self::member_config_answers(via)
        )
    }

    /// Tries to apply a preseed with `corrald init --preseed -`.
    pub fn init(&self, preseed: &str) -> CommandOutput {
        self.corrald(&["init", "--preseed", "-"], Some(preseed))
    }

    /// Joins `via`'s cluster with a token `via` issues for this member's name.
    pub fn join_by_token(&self, via: &Member) {
        let token = via.token_for(&self.name);
        self.init(&self.token_preseed(via, &token)).ok();
    }

    /// As [`Member::token_for`], saying what went wrong instead of panicking.
    pub fn try_token_for(&self, name: &str) -> Result<String, String> {
        let body = serde_json::json!({ "server_name": name });
        let client = self.client();
        let resp = block_on(client.request("POST", "/1.0/cluster/members", Some(&body), None))
            .map_err(|e| format!("token for {name} from {}: {e}", self.name))?;
        let meta = &resp.envelope.metadata["metadata"];
        let field = |k: &str| {
            meta[k]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("token for {name}: no {k} in {meta}"))
        };
        let token = corral_shared::preseed::JoinToken {
            server_name: field("serverName")?,
            fingerprint: field("fingerprint")?,
            addresses: serde_json::from_value(meta["addresses"].clone())
                .map_err(|e| format!("token for {name}: addresses: {e}"))?,
            secret: field("secret")?,
            expires_at: meta["expiresAt"].as_str().unwrap_or_default().to_owned(),
        };
        Ok(token.encode())
    }

    /// As [`Member::join_by_token`], saying what went wrong instead of panicking.
    pub fn try_join_by_token(&self, via: &Member) -> Result<(), String> {
        let token = via.try_token_for(&self.name)?;
        let out = self.init(&self.token_preseed(via, &token));
        if out.code == 0 {
            Ok(())
        } else {
            Err(format!(
                "{} could not join: {}",
                self.name,
                out.stderr.trim()
            ))
        }
    }

    /// Joins `via`'s cluster with the trust password of the bootstrap asset.
    pub fn join_by_password(&self, via: &Member) {
        self.init(&self.password_preseed(via, "sekret")).ok();
    }

    /// `GET /1.0` as JSON.
    pub fn server_info(&self) -> serde_json::Value {
        serde_json::from_str(self.corral(&["query", "/1.0"]).ok()).expect("JSON")
    }

    /// The member named `name` as `corral cluster list --format json` shows it.
    pub fn member(&self, name: &str) -> serde_json::Value {
        self.members()
            .into_iter()
            .find(|m| m["server_name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed"))
    }

    /// Runs `corral ARGS` against this member.
    pub fn corral(&self, args: &[&str]) -> CommandOutput {
        run(self.command(corral_bin()).args(args), self.dir(), None)
    }

    /// `corral config get KEY` through this member, trimmed (panics if the command fails).
    pub fn config_value(&self, key: &str) -> String {
        self.corral(&["config", "get", key]).ok().trim().to_owned()
    }

    /// Runs `corral ARGS` against this member with `stdin` as its standard input.
    pub fn corral_with_stdin(&self, args: &[&str], stdin: &str) -> CommandOutput {
        run(
            self.command(corral_bin()).args(args),
            self.dir(),
            Some(stdin),
        )
    }

    /// Runs `corrald ARGS` against this member, with `stdin` if given.
    pub fn corrald(&self, args: &[&str], stdin: Option<&str>) -> CommandOutput {
        run(self.command(corrald_bin()).args(args), self.dir(), stdin)
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
    pub fn request_if_match(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
        etag: &str,
    ) -> u16 {
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
        // CORRAL_TEST_KEEP=1 keeps a failed test's directories (logs, databases) to look at.
        if std::thread::panicking() && std::env::var_os("CORRAL_TEST_KEEP").is_some() {
            let dir = std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().expect("a temporary directory"),
            );
            eprintln!("kept {} in {}", self.name, dir.keep().display());
        }
    }
}
