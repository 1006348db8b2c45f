//! A real OpenSSH server for SSH-remote tests: `/usr/sbin/sshd -D -e -f CONFIG` on a free
//! loopback address and port, with its own host key, its own `authorized_keys` for keys the
//! test makes, and a client `ssh_config` that trusts exactly that host key. Tests reach it
//! with `CORRAL_SSH_COMMAND="ssh -F <its ssh_config>"`: neither the system's sshd nor
//! `~/.ssh` is touched. Dropping it kills the server.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::binaries::corral_bin;
use crate::wait::wait_until;

/// Where Debian (and most distributions) install the server.
const SSHD: &str = "/usr/sbin/sshd";
/// How long sshd may take to listen.
const STARTING: Duration = Duration::from_secs(20);

/// A running sshd; dropping it kills it and removes its directory.
pub struct Sshd {
    /// Its loopback IP address.
    pub ip: String,
    /// Its port.
    pub port: u16,
    /// The user the tests log in as (the one running them).
    pub user: String,
    dir: tempfile::TempDir,
    child: Child,
}

/// Why sshd cannot run here, if it cannot.
fn missing() -> Option<String> {
    if !Path::new(SSHD).is_file() {
        return Some(format!(
            "{SSHD} is not installed; install openssh-server (`.ci/run` does)"
        ));
    }
    for tool in ["ssh", "ssh-keygen"] {
        let found = Command::new(tool)
            .arg("-V")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if found.is_err() {
            return Some(format!(
                "`{tool}` is not on PATH; install openssh-client (`.ci/run` does)"
            ));
        }
    }
    None
}

/// The name of the user running the tests.
fn current_user() -> String {
    // SAFETY: getpwuid(3) with our own uid; the record is read at once, before any other
    // call could reuse its static storage (tests do not call getpw* elsewhere).
    unsafe {
        let entry = libc::getpwuid(libc::geteuid());
        assert!(!entry.is_null(), "the current user has a passwd entry");
        std::ffi::CStr::from_ptr((*entry).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

fn keygen(path: &Path, comment: &str) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "ssh-keygen failed: {out:?}");
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("the public key");
    // "TYPE BASE64 COMMENT": the first two words are the key.
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A loopback address and a port free on it; the last octet 252..=254 stays clear of the
/// members' addresses (see `member.rs`), the rest follows this process.
fn free_address(attempt: u32) -> (String, u16) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    for _ in 0..50 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed) + attempt;
        let ip = format!(
            "127.{}.{}.{}",
            (pid >> 8) & 0xff,
            (pid & 0xff) ^ ((n / 3) & 0xff),
            252 + n % 3
        );
        if let Ok(listener) = TcpListener::bind((ip.as_str(), 0)) {
            return (ip, listener.local_addr().expect("bound").port());
        }
    }
    panic!("no free loopback address for sshd");
}

impl Sshd {
    /// Whether sshd and the ssh tools are here; otherwise the calling test says "skipped:
    /// needs sshd" and passes, or fails under `CORRAL_TEST_REQUIRE_ALL=1`.
    pub fn available() -> bool {
        crate::runs_here("sshd", missing())
    }

    /// Why sshd cannot run here (not installed, no ssh client), or `None` when it can.
    pub fn why_missing() -> Option<String> {
        missing()
    }

    /// Starts a server whose sessions find this build's `corral` on PATH.
    pub fn start() -> Sshd {
        let mut dir = tempfile::Builder::new()
            .prefix("corral-sshd-")
            .tempdir()
            .expect("a directory for sshd");
        // Privilege separation needs this directory when sshd runs as root.
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            std::fs::create_dir_all("/run/sshd")
                .expect("/run/sshd for sshd's privilege separation");
        }
        let root = dir.path().to_path_buf();
        let d = root.as_path();
        let host_key = keygen(&d.join("host_key"), "corral-test-host");
        let with_corral = keygen(&d.join("client_key"), "corral-test");
        let without_corral = keygen(&d.join("client_key_no_corral"), "corral-test-no-corral");
        // Never authorized: the server refuses it.
        keygen(&d.join("client_key_stranger"), "corral-test-stranger");
        let bin = corral_bin();
        let bin_dir = bin.parent().expect("corral sits in a directory");
        let empty = d.join("empty-bin");
        std::fs::create_dir_all(&empty).expect("an empty directory");
        // One key's sessions find this build's corral, the other's find no corral at all.
        let authorized = format!(
            "environment=\"PATH={}:/usr/local/bin:/usr/bin:/bin\" {with_corral}\n\
             environment=\"PATH={}\" {without_corral}\n",
            bin_dir.display(),
            empty.display()
        );
        std::fs::write(d.join("authorized_keys"), authorized).expect("authorized_keys");
        let user = current_user();
        for attempt in 0..5 {
            let (ip, port) = free_address(attempt);
            let config = d.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "ListenAddress {ip}\nPort {port}\nHostKey {}\nPidFile {}\n\
                     AuthorizedKeysFile {}\nStrictModes no\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nUsePAM no\nPubkeyAuthentication yes\n\
                     PermitRootLogin prohibit-password\nPermitUserEnvironment PATH\n\
                     AllowUsers {user}\n",
                    d.join("host_key").display(),
                    d.join("sshd.pid").display(),
                    d.join("authorized_keys").display(),
                ),
            )
            .expect("sshd_config");
            let log = std::fs::File::create(d.join("sshd.log")).expect("sshd's log");
            let child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("the log"))
                .stderr(log)
                .spawn()
                .expect("sshd starts");
            let mut sshd = Sshd {
                ip,
                port,
                user: user.clone(),
                dir,
                child,
            };
            if sshd.wait_listening() {
                sshd.write_client_configs(&host_key);
                return sshd;
            }
            // The port was taken between the check and sshd's bind: try another.
            let _ = sshd.child.kill();
            let _ = sshd.child.wait();
            let log = sshd.log();
            assert!(attempt < 4, "sshd did not start; its log:\n{log}");
            dir = std::mem::replace(&mut sshd.dir, tempfile::tempdir().expect("a directory"));
        }
        unreachable!("the loop returns or fails")
    }

    /// Waits until sshd accepts connections; `false` if it exited first.
    fn wait_listening(&mut self) -> bool {
        let address = format!("{}:{}", self.ip, self.port);
        wait_until("sshd to listen", STARTING, || {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(false);
            }
            TcpStream::connect(&address).ok().map(|_| true)
        })
    }

    /// The client configurations: one per key, and one that knows no host key.
    fn write_client_configs(&self, host_key: &str) {
        let d = self.dir.path();
        let known = d.join("known_hosts");
        std::fs::write(&known, format!("[{}]:{} {host_key}\n", self.ip, self.port))
            .expect("known_hosts");
        std::fs::write(d.join("known_hosts_empty"), "").expect("an empty known_hosts");
        for (name, key, known_hosts) in [
            ("ssh_config", "client_key", "known_hosts"),
            (
                "ssh_config_no_corral",
                "client_key_no_corral",
                "known_hosts",
            ),
            ("ssh_config_unknown_host", "client_key", "known_hosts_empty"),
            ("ssh_config_stranger", "client_key_stranger", "known_hosts"),
        ] {
            std::fs::write(
                d.join(name),
                format!(
                    "Host *\n  User {}\n  Port {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
                     UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
                     StrictHostKeyChecking yes\n  PasswordAuthentication no\n  \
                     KbdInteractiveAuthentication no\n  ControlMaster no\n  ControlPath none\n",
                    self.user,
                    self.port,
                    d.join(key).display(),
                    d.join(known_hosts).display(),
                ),
            )
            .expect("an ssh_config");
        }
    }

    /// `CORRAL_SSH_COMMAND` for a login whose session finds this build's corral.
    pub fn ssh_command(&self) -> String {
        self.command_with("ssh_config")
    }

    /// `CORRAL_SSH_COMMAND` for a login whose session has no corral on its PATH.
    pub fn ssh_command_without_corral(&self) -> String {
        self.command_with("ssh_config_no_corral")
    }

    /// `CORRAL_SSH_COMMAND` for a client that has never seen this server's host key.
    pub fn ssh_command_not_knowing_the_host(&self) -> String {
        self.command_with("ssh_config_unknown_host")
    }

    /// `CORRAL_SSH_COMMAND` for a login with a key the server does not authorize.
    pub fn ssh_command_with_a_stranger_key(&self) -> String {
        self.command_with("ssh_config_stranger")
    }

    fn command_with(&self, config: &str) -> String {
        format!("ssh -F {}", self.dir.path().join(config).display())
    }

    /// `ssh://USER@IP:PORT/DIR`: the remote of the daemon whose directory is `corral_dir`.
    pub fn url(&self, corral_dir: &Path) -> String {
        format!(
            "ssh://{}@{}:{}{}",
            self.user,
            self.ip,
            self.port,
            corral_dir.display()
        )
    }

    /// The server's directory (keys, configurations, log).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// What sshd logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Sessions are children of sshd's own forks; killing the listener ends new logins,
        // and each session ends when its client (the test's ssh) goes.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
