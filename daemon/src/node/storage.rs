//! A full disk. A member whose data directory runs short of space refuses writes made through
//! it, saying where and what to do; when the disk fills up entirely, its Raft stops on the
//! failed write (openraft stops on any storage error) and the rest of the cluster carries on
//! without it. Once space returns, the member starts its Raft again from what is on disk, as
//! a restart would, without the process stopping.

use std::path::Path;
use std::time::Duration;

use super::Node;
use super::start::{build_raft, record_raft_nodes};
use crate::error::{Error, Result};
use crate::raft::state_machine::StateMachine;

/// Free space a member keeps in its data directory: below it, writes through the member are
/// refused, and a Raft stopped by a full disk waits for this much before it starts again (a
/// snapshot copies the whole database, and the log grows between snapshots).
pub const RESERVE_BYTES: u64 = 8 * 1024 * 1024;

/// How often a member whose disk filled up looks for space again.
const SPACE_POLL: Duration = Duration::from_millis(250);

/// Bytes free for this process on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs fills `stats` from a valid NUL-terminated path; nothing is kept.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stats.f_bavail as u64 * stats.f_frsize as u64)
}

/// Whether `free` bytes leave the member short of its reserve.
pub fn short_of_space(free: u64, reserve: u64) -> bool {
    free < reserve
}

/// What a member does when its Raft stopped with `error` and `free` bytes are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRaftFailure {
    /// The disk is (or was, a moment ago) full: wait for space, then start Raft again.
    WaitForSpace,
    /// Anything else: stop, so that the member is restarted and says why.
    Stop,
}

/// The decision after Raft stopped: a full disk is waited out, whether the free space shows
/// it still or the error names it (space may have come back since).
pub fn after_raft_failure(error: &str, free: u64, reserve: u64) -> AfterRaftFailure {
    let names_full_disk = ["database or disk is full", "No space left on device"]
        .iter()
        .any(|words| error.contains(words));
    if names_full_disk || short_of_space(free, reserve) {
        AfterRaftFailure::WaitForSpace
    } else {
        AfterRaftFailure::Stop
    }
}

/// Megabytes, for people.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// What a write refused for want of space says: which member, where, and what to do.
pub fn no_space_message(member: &str, dir: &Path, free: u64, reserve: u64) -> String {
    format!(
        "member {member} cannot store database changes: its data directory {} has {} free, \
         less than the {} it keeps in reserve; free space on that filesystem (the member \
         resumes by itself once it has {} free)",
        dir.display(),
        mib(free),
        mib(reserve),
        mib(reserve)
    )
}

impl Node {
    /// The free space where this member keeps its databases.
    fn database_free_bytes(&self) -> Option<u64> {
        free_bytes(&self.dirs.database()).ok()
    }

    /// The refusal of a write made through this member when its data directory is short of
    /// space, or `None` when there is room.
    pub(super) async fn refusal_for_space(&self) -> Option<Error> {
        let free = self.database_free_bytes()?;
        if !short_of_space(free, RESERVE_BYTES) {
            return None;
        }
        let member = self.own_name().await;
        Some(Error::Unavailable(no_space_message(
            &member,
            &self.dirs.database(),
            free,
            RESERVE_BYTES,
        )))
    }

    /// After this member's Raft stopped with `error`: when a full disk stopped it, waits for
    /// space and starts Raft again (`Ok`); otherwise returns the error to stop with.
    pub(super) async fn restart_raft_when_space_returns(
        self: &std::sync::Arc<Self>,
        error: String,
    ) -> Result<()> {
        let free = self.database_free_bytes().unwrap_or(u64::MAX);
        if after_raft_failure(&error, free, RESERVE_BYTES) == AfterRaftFailure::Stop {
            return Err(Error::Internal(error));
        }
        let member = self.own_name().await;
        let dir = self.dirs.database();
        tracing::error!(
            "the database's Raft stopped: {error}; {}",
            no_space_message(&member, &dir, free, RESERVE_BYTES)
        );
        loop {
            let free = self.database_free_bytes().unwrap_or(0);
            if !short_of_space(free, RESERVE_BYTES) {
                break;
            }
            tokio::time::sleep(SPACE_POLL).await;
        }
        tracing::info!(
            "{} is free again in {}: starting the database's Raft again",
            mib(self.database_free_bytes().unwrap_or(0)),
            dir.display()
        );
        let id = self.id();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.raft().shutdown()).await;
        let state_machine = StateMachine::open(&self.dirs.global_db(), &self.dirs.snapshots())?;
        let raft = build_raft(id, &self.local, state_machine, &self.network).await?;
        self.replace_raft(id, raft);
        record_raft_nodes(self);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_full_disk_is_waited_out_and_other_failures_stop_the_member() {
        use AfterRaftFailure::{Stop, WaitForSpace};
        // (error, free bytes, decision)
        let cases = [
            ("write logs: database or disk is full", 0, WaitForSpace),
            (
                "write logs: database or disk is full",
                100 * MIB,
                WaitForSpace,
            ),
            (
                "No space left on device (os error 28)",
                50 * MIB,
                WaitForSpace,
            ),
            ("write state machine: disk I/O error", MIB, WaitForSpace),
            ("write state machine: disk I/O error", 100 * MIB, Stop),
            ("applying this entry failed (test setting)", 100 * MIB, Stop),
            ("its task ended abruptly", 8 * MIB, Stop),
        ];
        for (error, free, decision) in cases {
            assert_eq!(
                after_raft_failure(error, free, 8 * MIB),
                decision,
                "{error} with {free} bytes free"
            );
        }
    }

    #[test]
    fn the_reserve_is_the_line() {
        // (free, short)
        let cases = [
            (0, true),
            (8 * MIB - 1, true),
            (8 * MIB, false),
            (u64::MAX, false),
        ];
        for (free, short) in cases {
            assert_eq!(short_of_space(free, 8 * MIB), short, "{free} free");
        }
    }

    #[test]
    fn a_refusal_names_the_member_the_directory_and_what_to_do() {
        let text = no_space_message("node2", Path::new("/var/lib/corral/database"), 0, 8 * MIB);
        for part in [
            "member node2 cannot store database changes",
            "/var/lib/corral/database has 0.0 MiB free",
            "8.0 MiB it keeps in reserve",
            "free space on that filesystem",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }

    #[test]
    fn free_space_of_a_real_directory_is_measured() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        let err = free_bytes(&dir.path().join("missing")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
