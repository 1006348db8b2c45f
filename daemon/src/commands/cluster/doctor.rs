//! `corrald cluster doctor`: the cluster's health in plain words and what to do next. With
//! the daemon running it prints the daemon's own report (as `corral cluster doctor` does);
//! with it stopped it reads this member's files and asks the other members directly.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use corral_daemon::cluster::doctor::{self, gather};
use corral_daemon::node::DataDir;
use corral_shared::client::{Client, ClientError};
use corral_shared::doctor::Report;

/// Long enough for the daemon to ask every member (each bounded to about a second).
const ASK_DAEMON: Duration = Duration::from_secs(10);

pub async fn run(dir: &Path) -> anyhow::Result<()> {
    let dirs = DataDir::new(dir);
    let client = Client::unix(dirs.unix_socket()).with_timeout(ASK_DAEMON);
    match client.get::<Report>("/internal/doctor").await {
        Ok(report) => {
            print!("{}", report.render());
            return Ok(());
        }
        // Not listening: the daemon is stopped (or never started); read the files instead.
        Err(ClientError::Connect { .. }) => {}
        Err(e) if holds_lock(&dirs) => {
            anyhow::bail!(
                "the daemon in {} is running but did not give its report: {e}; check its log, or stop it ('corrald shutdown') and run 'corrald cluster doctor' again",
                dir.display()
            );
        }
        Err(_) => {}
    }
    if holds_lock(&dirs) {
        anyhow::bail!(
            "the daemon in {} holds its lock but does not answer on {}; it may be starting: retry in a few seconds, or check its log",
            dir.display(),
            dirs.unix_socket().display()
        );
    }
    let facts = gather::offline(dir)
        .await
        .context("cannot examine this member")?;
    let report = doctor::diagnose(&facts);
    println!(
        "This member's daemon is not running: this report comes from its files and from asking the other members."
    );
    print!("{}", report.render());
    Ok(())
}

/// Whether a running daemon holds the directory's lock. Asked with a shared, non-blocking
/// lock released at once, so a daemon starting right now is delayed by microseconds at most.
fn holds_lock(dirs: &DataDir) -> bool {
    let Ok(file) = File::open(dirs.lock_file()) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; LOCK_NB makes it fail at once instead of waiting.
    let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
    // Closing the file drops the shared lock if we got it.
    !taken
}
