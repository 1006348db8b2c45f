//! The runc driver: every call Corral makes to runc, the OCI reference runtime, each bounded
//! in time. Corral does not run containers itself; runc does, under a state directory
//! (`--root`) inside the member's data directory, so members sharing a host never see
//! each other's containers.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

use crate::error::{Error, Result};

/// The environment variable naming the runc binary to use instead of the one on `PATH`.
pub const RUNC_VAR: &str = "CORRAL_RUNC";

/// The longest one runc call (other than an exec) may take.
const CALL_BOUND: Duration = Duration::from_secs(30);

/// What to tell a user whose member has no runc.
pub fn missing_message() -> String {
    "instances need runc, the OCI runtime, on every member that runs them: install it with \
     'apt-get install runc' (or point CORRAL_RUNC at a runc binary) and retry"
        .to_owned()
}

/// Finds runc: `$CORRAL_RUNC` when set, else `runc` on `PATH` (or in the sbin directories
/// root's `PATH` has and a service's may lack).
pub fn find() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os(RUNC_VAR) {
        let path = PathBuf::from(given);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join("runc"))
        .find(|p| p.is_file())
}

/// A container's state as runc reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// The container id (the instance's name).
    pub id: String,
    /// created, running, paused or stopped.
    pub status: String,
    /// Its init's process id on the host (0 when stopped).
    #[serde(default)]
    pub pid: i64,
}

impl ContainerState {
    /// Whether its init runs.
    pub fn running(&self) -> bool {
        self.status == "running" || self.status == "paused"
    }
}

/// runc, used with one state directory.
#[derive(Debug, Clone)]
pub struct Runc {
    binary: PathBuf,
    root: PathBuf,
}

impl Runc {
    /// runc keeping its state under `root`; refused with what to do when runc is missing.
    pub fn new(root: &Path) -> Result<Self> {
        let binary = find().ok_or_else(|| Error::Unavailable(missing_message()))?;
        Ok(Self {
            binary,
            root: root.to_owned(),
        })
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A runc command with the state directory set.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(&self.root);
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs `args`, bounded, and returns stdout; a failure names the call and runc's words.
    async fn call(&self, args: &[&str]) -> Result<Vec<u8>> {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let what = format!("runc {}", args.join(" "));
        let output = tokio::time::timeout(CALL_BOUND, cmd.output())
            .await
            .map_err(|_| Error::Internal(format!("{what} did not finish within {CALL_BOUND:?}")))?
            .map_err(|e| Error::Internal(format!("cannot run {what}: {e}")))?;
        if !output.status.success() {
            return Err(Error::Internal(format!(
                "{what} failed: {}",
                runc_words(&output.stderr)
            )));
        }
        Ok(output.stdout)
    }

    /// Every container runc knows here.
    pub async fn list(&self) -> Result<Vec<ContainerState>> {
        if !self.root.exists() {
            return Ok(Vec::new());
        }
        let out = self.call(&["list", "--format", "json"]).await?;
        // runc prints `null` when there are none.
        let list: Option<Vec<ContainerState>> = serde_json::from_slice(&out)
            .map_err(|e| Error::Internal(format!("runc list printed what it should not: {e}")))?;
        Ok(list.unwrap_or_default())
    }

    /// One container's state; `None` when runc has none of that id.
    pub async fn state(&self, id: &str) -> Result<Option<ContainerState>> {
        // runc keeps each container's state in a directory of its id: without one there is
        // no container, and no runc process needs starting to say so.
        if !self.root.join(id).exists() {
            return Ok(None);
        }
        Ok(self.list().await?.into_iter().find(|c| c.id == id))
    }

    /// Starts the container of `bundle` in the background, its console going to `console`.
    pub async fn run_detached(&self, id: &str, bundle: &Path, console: &Path) -> Result<()> {
        self.make(&["run", "--detach"], id, bundle, console).await
    }

    /// Creates the container of `bundle` without starting its init (which waits for
    /// [`Runc::start`]), its console going to `console`.
    pub async fn create(&self, id: &str, bundle: &Path, console: &Path) -> Result<()> {
        self.make(&["create"], id, bundle, console).await
    }

    /// Starts the init of a created container.
    pub async fn start(&self, id: &str) -> Result<()> {
        self.call(&["start", id]).await.map(drop)
    }

    /// `runc VERB... --bundle BUNDLE ID`, its container's console going to `console`.
    async fn make(&self, verb: &[&str], id: &str, bundle: &Path, console: &Path) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(console)
            .map_err(|e| Error::Internal(format!("cannot open {}: {e}", console.display())))?;
        let err = log
            .try_clone()
            .map_err(|e| Error::Internal(format!("cannot open {}: {e}", console.display())))?;
        let runc_log = bundle.join("runc.log");
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&runc_log)
            .args(verb)
            .arg("--bundle")
            .arg(bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true);
        let status = tokio::time::timeout(CALL_BOUND, cmd.status())
            .await
            .map_err(|_| {
                Error::Internal(format!(
                    "runc {} {id} did not finish within {CALL_BOUND:?}",
                    verb[0]
                ))
            })?
            .map_err(|e| Error::Internal(format!("cannot run runc: {e}")))?;
        if status.success() {
            return Ok(());
        }
        let words = std::fs::read(&runc_log).unwrap_or_default();
        Err(Error::Internal(format!(
            "runc could not start {id}: {} (runc's log: {})",
            runc_words(&words),
            runc_log.display()
        )))
    }

    /// Sends `signal` (a name runc knows: PWR, KILL...) to the container's init.
    pub async fn kill(&self, id: &str, signal: &str) -> Result<()> {
        self.call(&["kill", id, signal]).await.map(drop)
    }

    /// Forgets a stopped container (or, `force`, kills and forgets a running one).
    pub async fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        self.call(&args).await.map(drop)
    }
}

/// The part of runc's error output worth showing: its last `msg=` or its last line.
fn runc_words(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    // JSON log lines and logfmt lines both carry the message in a msg field.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(last)
        && let Some(msg) = v.get("msg").and_then(|m| m.as_str())
    {
        return msg.to_owned();
    }
    match last.split_once("msg=") {
        Some((_, msg)) => msg.trim().trim_matches('"').replace("\\\"", "\""),
        None if last.is_empty() => "no reason given".to_owned(),
        None => last.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_container_runc_has_no_directory_for_is_absent_without_asking_runc() {
        let root = tempfile::tempdir().unwrap();
        // A binary that cannot run: asking it would fail the call.
        let runc = Runc {
            binary: root.path().join("no-runc-here"),
            root: root.path().to_owned(),
        };
        assert_eq!(runc.state("c1").await.unwrap(), None);
        std::fs::create_dir(root.path().join("c1")).unwrap();
        let asked = runc.state("c1").await.unwrap_err().to_string();
        assert!(asked.contains("cannot run runc list"), "{asked}");
    }

    #[test]
    fn runc_errors_are_told_in_runc_words() {
        for (stderr, want) in [
            (
                "time=\"x\" level=error msg=\"container \\\"c1\\\" does not exist\"\n",
                "container \"c1\" does not exist",
            ),
            (
                "{\"level\":\"error\",\"msg\":\"exec failed\",\"time\":\"x\"}\n",
                "exec failed",
            ),
            ("plain words\n\n", "plain words"),
            ("", "no reason given"),
        ] {
            assert_eq!(runc_words(stderr.as_bytes()), want, "{stderr}");
        }
    }

    #[test]
    fn a_runc_named_by_the_variable_must_exist() {
        // Only this test sets the variable in this process's unit tests.
        unsafe { std::env::set_var(RUNC_VAR, "/nonexistent/runc") };
        assert!(find().is_none());
        let err = Runc::new(Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("apt-get install runc"), "{err}");
        unsafe { std::env::remove_var(RUNC_VAR) };
    }
}
