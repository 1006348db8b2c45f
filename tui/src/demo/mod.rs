//! The processes behind `corral demo`: one temporary directory holding each member's
//! `CORRAL_DIR` and log, and the members themselves. [`Demo`] is a guard: whatever happens,
//! dropping it leaves no process and (unless asked to keep it) no directory behind.

pub mod member;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use corral_shared::api::{ClusterMember, Role};
use tokio::time::Instant;

use crate::error::CliError;
pub use member::{DaemonProgram, Member};

/// How long members get to stop after being asked, before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The demo's directory and members.
#[derive(Debug)]
pub struct Demo {
    /// The members, in the order they were started.
    pub members: Vec<Member>,
    dir: Option<tempfile::TempDir>,
    keep: bool,
}

impl Demo {
    /// A fresh temporary directory; `keep` leaves it in place when the demo ends.
    pub fn new(keep: bool) -> Result<Demo, CliError> {
        let dir = tempfile::Builder::new()
            .prefix("corral-demo-")
            .tempdir()
            .map_err(|e| {
                CliError::Failed(format!(
                    "cannot create the demo's directory in {}: {e}",
                    std::env::temp_dir().display()
                ))
            })?;
        Ok(Demo {
            members: Vec::new(),
            dir: Some(dir),
            keep,
        })
    }

    /// The directory holding everything.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// Starts a member named `name` on a free port of `ip`, with `DIR/NAME` as its
    /// `CORRAL_DIR` and `DIR/NAME.log` as its log.
    pub fn start_member(
        &mut self,
        corrald: &DaemonProgram,
        name: &str,
        ip: &str,
    ) -> Result<&mut Member, CliError> {
        let address = member::free_address(ip)?;
        let dir = self.path().join(name);
        let log = self.path().join(format!("{name}.log"));
        let member = Member::spawn(corrald, name, address, dir, log)?;
        self.members.push(member);
        Ok(self.members.last_mut().expect("just pushed"))
    }

    /// Stops every member cleanly: all are asked at once, then each gets until a shared
    /// deadline to exit before it is killed. Says on `out` what it is doing as it does it:
    /// a clean stop hands the database roles over, which takes seconds.
    pub async fn stop(&mut self, out: &mut dyn Write) -> Result<(), CliError> {
        let roles = self.roles().await;
        let mut gone = Vec::new();
        for member in &mut self.members {
            if !member.is_running() {
                gone.push(member.name.clone());
                continue;
            }
            let line = stop_line(&member.name, member.pid(), roles.get(&member.name));
            writeln!(out, "{line}")?;
            out.flush()?;
            member.ask_to_stop().await;
        }
        let started = Instant::now();
        let deadline = started + STOP_TIMEOUT;
        for member in &mut self.members {
            if gone.contains(&member.name) {
                writeln!(out, "{} had already exited", member.name)?;
            } else if member.wait_exit(deadline).await {
                writeln!(
                    out,
                    "Stopped {} ({:.1}s)",
                    member.name,
                    started.elapsed().as_secs_f64()
                )?;
            } else {
                member.kill();
                writeln!(
                    out,
                    "{} did not stop within {}s; killed it (its log: {})",
                    member.name,
                    STOP_TIMEOUT.as_secs(),
                    member.log.display()
                )?;
            }
            out.flush()?;
        }
        Ok(())
    }

    /// Each member's roles, as the first member that answers lists them (none if none does).
    async fn roles(&mut self) -> BTreeMap<String, Vec<Role>> {
        for member in &mut self.members {
            if !member.is_running() {
                continue;
            }
            let client = member.client().with_timeout(Duration::from_secs(2));
            if let Ok(list) = client
                .get::<Vec<ClusterMember>>("/1.0/cluster/members?recursion=1")
                .await
            {
                return list.into_iter().map(|m| (m.server_name, m.roles)).collect();
            }
        }
        BTreeMap::new()
    }

    /// Ends the demo: the directory is removed, or kept and returned with `keep`.
    pub fn finish(mut self) -> Result<Option<PathBuf>, CliError> {
        self.members.clear();
        let Some(dir) = self.dir.take() else {
            return Ok(None);
        };
        if self.keep {
            return Ok(Some(dir.keep()));
        }
        let path = dir.path().to_path_buf();
        dir.close()
            .map_err(|e| CliError::Failed(format!("cannot remove {}: {e}", path.display())))?;
        Ok(None)
    }
}

/// What stopping a member involves, said before it starts: `roles` as last listed.
pub fn stop_line(name: &str, pid: u32, roles: Option<&Vec<Role>>) -> String {
    let has = |role| roles.is_some_and(|r| r.contains(&role));
    let what = if has(Role::DatabaseLeader) {
        ": handing over leadership"
    } else if has(Role::Database) {
        ": handing over its database vote"
    } else {
        ""
    };
    format!("Stopping {name} (pid {pid}){what} ...")
}

impl Drop for Demo {
    fn drop(&mut self) {
        // Processes first (their Drop kills them), then the directory they were using.
        self.members.clear();
        if self.keep
            && let Some(dir) = self.dir.take()
        {
            let _ = dir.keep();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_goes_unless_kept() {
        let demo = Demo::new(false).unwrap();
        let path = demo.path().to_path_buf();
        assert!(path.is_dir());
        assert_eq!(demo.finish().unwrap(), None);
        assert!(!path.exists());

        let demo = Demo::new(true).unwrap();
        let path = demo.path().to_path_buf();
        assert_eq!(demo.finish().unwrap(), Some(path.clone()));
        assert!(path.is_dir());
        std::fs::remove_dir_all(&path).unwrap();

        // Dropped without finishing (an error path): removed all the same.
        let demo = Demo::new(false).unwrap();
        let path = demo.path().to_path_buf();
        drop(demo);
        assert!(!path.exists());
    }

    #[test]
    fn the_stop_line_says_what_stopping_involves() {
        let cases: [(&str, Option<Vec<Role>>, &str); 4] = [
            (
                "the leader",
                Some(vec![Role::DatabaseLeader, Role::Database]),
                "Stopping node1 (pid 7): handing over leadership ...",
            ),
            (
                "a voter",
                Some(vec![Role::Database]),
                "Stopping node1 (pid 7): handing over its database vote ...",
            ),
            (
                "a stand-by",
                Some(vec![Role::DatabaseStandby]),
                "Stopping node1 (pid 7) ...",
            ),
            ("roles unknown", None, "Stopping node1 (pid 7) ..."),
        ];
        for (what, roles, want) in cases {
            assert_eq!(stop_line("node1", 7, roles.as_ref()), want, "{what}");
        }
    }

    #[tokio::test]
    async fn members_live_in_the_directory_and_die_with_the_guard() {
        use std::os::unix::fs::PermissionsExt;
        let mut demo = Demo::new(false).unwrap();
        let program = demo.path().join("fake-corrald");
        std::fs::write(&program, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = demo.path().to_path_buf();
        let member = demo
            .start_member(&DaemonProgram::binary(&program), "node1", "127.0.0.1")
            .unwrap();
        let pid = member.pid();
        assert_eq!(member.dir, path.join("node1"));
        assert!(member.address.starts_with("127.0.0.1:"));
        let mut out = Vec::new();
        demo.stop(&mut out).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(&format!("Stopping node1 (pid {pid}) ...\nStopped node1 (")),
            "{out}"
        );
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        demo.finish().unwrap();
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn a_member_that_died_earlier_is_said_to_have_exited_not_stopped() {
        use std::os::unix::fs::PermissionsExt;
        let mut demo = Demo::new(false).unwrap();
        let program = demo.path().join("fake-corrald");
        std::fs::write(&program, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let member = demo
            .start_member(&DaemonProgram::binary(&program), "node1", "127.0.0.1")
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        assert!(
            member.wait_exit(deadline).await,
            "the stand-in exits at once"
        );
        let mut out = Vec::new();
        demo.stop(&mut out).await.unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "node1 had already exited\n"
        );
        demo.finish().unwrap();
    }
}
