//! Figures 4b and 4c: `corral cluster list` through an HTTPS remote and through an SSH
//! remote, beside figure 4's local socket; 4d is a bare ssh login to the same server, the
//! part of 4c that is ssh's own. Each is the real `corral` binary with a
//! CORRAL_CONF prepared by `corral remote add`, and a CORRAL_DIR where no daemon lives, so
//! only the remote can answer. The SSH remote goes through a real sshd on loopback (see
//! `corral_tests::Sshd`); where sshd is missing, that figure is skipped and says why.

use std::process::{Command, Stdio};
use std::time::Instant;

use corral_tests::{Member, Sshd, corral_bin};

/// The remotes' names in the laptop's configuration.
pub const HTTPS: &str = "bench-https";
/// The SSH remote's name.
pub const SSH: &str = "bench-ssh";

/// The trust password the HTTPS remote is added with.
const PASSWORD: &str = "cluster-bench";

/// An operator's machine with both remotes of one member.
pub struct Laptop {
    conf: tempfile::TempDir,
    no_daemon: tempfile::TempDir,
    /// The server and the `CORRAL_SSH_COMMAND` that reaches it, when sshd is here.
    ssh: Option<(Sshd, String)>,
}

impl Laptop {
    /// Adds `member` as an HTTPS remote (by its trust password) and, where sshd is
    /// installed, as an SSH remote.
    pub fn prepare(member: &Member) -> Laptop {
        member
            .corral(&["config", "set", "core.trust_password", PASSWORD])
            .ok();
        let mut laptop = Laptop {
            conf: tempfile::tempdir().expect("a config directory"),
            no_daemon: tempfile::tempdir().expect("an empty CORRAL_DIR"),
            ssh: None,
        };
        let https = format!("https://{}", member.address);
        laptop.corral(&[
            "remote",
            "add",
            HTTPS,
            &https,
            "--accept-certificate",
            "--password",
            PASSWORD,
        ]);
        if Sshd::why_missing().is_none() {
            let sshd = Sshd::start();
            let command = sshd.ssh_command();
            let url = sshd.url(member.dir());
            laptop.ssh = Some((sshd, command));
            laptop.corral(&["remote", "add", SSH, &url]);
        }
        laptop
    }

    /// Why the SSH figure cannot be taken here, if it cannot.
    pub fn ssh_missing() -> Option<String> {
        Sshd::why_missing()
    }

    /// Whether the SSH remote was added.
    pub fn has_ssh(&self) -> bool {
        self.ssh.is_some()
    }

    /// Seconds one `corral cluster list REMOTE:` takes, start to exit.
    pub fn list(&self, remote: &str) -> f64 {
        let t = Instant::now();
        let out = self.corral(&["cluster", "list", &format!("{remote}:")]);
        let took = t.elapsed().as_secs_f64();
        assert!(
            out.contains("node1"),
            "corral cluster list {remote}: printed {out}"
        );
        took
    }

    /// Seconds a bare `ssh HOST true` takes to the same server: the part of figure 4c
    /// that is ssh's own (key exchange, authentication, a session), not corral's.
    pub fn ssh_login(&self) -> f64 {
        let (sshd, command) = self.ssh.as_ref().expect("the SSH remote was added");
        let mut words = command.split(' ');
        let program = words.next().expect("a program");
        let t = Instant::now();
        let out = Command::new(program)
            .args(words)
            .args(["-o", "BatchMode=yes", "-p", &sshd.port.to_string()])
            .arg(format!("{}@{}", sshd.user, sshd.ip))
            .arg("true")
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs");
        let took = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "ssh to the bench's sshd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }

    /// Runs `corral ARGS` here, with no terminal; fails with what it said unless it succeeds.
    fn corral(&self, args: &[&str]) -> String {
        let mut command = Command::new(corral_bin());
        command
            .args(args)
            .env("CORRAL_CONF", self.conf.path().join("corral"))
            .env("CORRAL_DIR", self.no_daemon.path())
            .env("HOME", self.conf.path())
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::null());
        if let Some((_, ssh)) = &self.ssh {
            command.env("CORRAL_SSH_COMMAND", ssh);
        }
        // Every request inside corral is bounded; a hung remote fails there.
        let out = command.output().expect("corral runs");
        assert!(
            out.status.success(),
            "corral {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
