//! A stopped member's files: proving the daemon is stopped, and backing them up first.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::node::DataDir;

/// Why an offline tool cannot run.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// The daemon holds the directory.
    #[error("The Corral daemon is running in {0}; stop it first ('corrald shutdown')")]
    Running(PathBuf),
    /// The directory has no member in it.
    #[error(
        "{0} holds no Corral member (no database/local.db); point CORRAL_DIR at the member's directory"
    )]
    NoMember(PathBuf),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Holds the daemon's lock while an offline tool works, so the daemon cannot start meanwhile.
pub struct Stopped {
    _lock: File,
    /// The member's directory.
    pub dirs: DataDir,
}

/// Proves the daemon is stopped by taking its lock.
pub fn stopped(dir: &Path) -> Result<Stopped, OfflineError> {
    let dirs = DataDir::new(dir);
    if !dirs.local_db().exists() {
        return Err(OfflineError::NoMember(dir.to_owned()));
    }
    let io = |source| OfflineError::Io {
        path: dirs.lock_file(),
        source,
    };
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dirs.lock_file())
        .map_err(io)?;
    // SAFETY: flock on a descriptor we own; LOCK_NB fails at once if the daemon holds it.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(OfflineError::Running(dir.to_owned()));
    }
    Ok(Stopped { _lock: lock, dirs })
}

/// Backs the database directory up to `db_backup.<time>.tar.gz` beside it; returns the path.
pub fn backup(dirs: &DataDir) -> Result<PathBuf, OfflineError> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let path = dirs.root().join(format!("db_backup.{stamp}.tar.gz"));
    let io = |source| OfflineError::Io {
        path: path.clone(),
        source,
    };
    let file = File::create(&path).map_err(io)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("database", dirs.database())
        .map_err(io)?;
    let gz = tar.into_inner().map_err(io)?;
    gz.finish().map_err(io)?.sync_all().map_err(io)?;
    Ok(path)
}
