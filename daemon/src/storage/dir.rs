//! The `dir` driver: a pool is a directory on each member, a custom volume a directory
//! inside it (`custom/<project>_<name>`, as LXD lays them out), an instance's root
//! filesystem `containers/<name>/rootfs`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The subdirectories a pool holds; a source holding only these is one this driver made.
const LAYOUT: &[&str] = &["containers", "custom"];

/// A refusal or failure of the driver, in LXD's words where LXD has them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirError {
    /// A member-specific `source` that is not there.
    #[error("Source path '{0}' doesn't exist")]
    Missing(String),
    /// A `source` that is a file.
    #[error("Source path '{0}' isn't a directory")]
    NotDirectory(String),
    /// A `source` holding something else.
    #[error("Source path '{0}' isn't empty")]
    NotEmpty(String),
    /// A volume directory that already exists.
    #[error("Volume by that name already exists")]
    VolumeExists,
    /// Anything the filesystem refused.
    #[error("{what} {path}: {reason}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: String,
        /// The system's reason.
        reason: String,
    },
}

fn io(what: &'static str, path: &Path, e: std::io::Error) -> DirError {
    DirError::Io {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Where pool `pool` lives on a member whose data directory is `data_dir`: its
/// member-specific `source` when set (not empty), else `<data_dir>/storage-pools/<pool>`.
pub fn pool_dir(data_dir: &Path, pool: &str, source: Option<&str>) -> PathBuf {
    match source.filter(|s| !s.is_empty()) {
        Some(source) => PathBuf::from(source),
        None => data_dir.join("storage-pools").join(pool),
    }
}

/// Where custom volume `name` of `project` lives in the pool at `pool_dir`.
pub fn volume_dir(pool_dir: &Path, project: &str, name: &str) -> PathBuf {
    pool_dir.join("custom").join(format!("{project}_{name}"))
}

/// Creates the pool at `dir`. A `source` the user gave must exist, be a directory and be
/// empty (or hold only what this driver made, so a re-run after a failure goes through);
/// the default location is made.
pub fn create(dir: &Path, source_given: bool) -> Result<(), DirError> {
    let shown = dir.display().to_string();
    if source_given {
        match std::fs::metadata(dir) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(DirError::Missing(shown)),
            Err(e) => return Err(io("cannot read", dir, e)),
            Ok(m) if !m.is_dir() => return Err(DirError::NotDirectory(shown)),
            Ok(_) => {}
        }
        let entries = std::fs::read_dir(dir).map_err(|e| io("cannot list", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io("cannot list", dir, e))?;
            let name = entry.file_name();
            if !LAYOUT.iter().any(|l| name == *l) {
                return Err(DirError::NotEmpty(shown));
            }
        }
    } else {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    }
    for sub in LAYOUT {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(|e| io("cannot create", &path, e))?;
    }
    Ok(())
}

/// Removes the pool at `dir`: the whole directory at the default location; in a `source`
/// the user gave, only what this driver made there (the source itself stays theirs).
pub fn delete(dir: &Path, source_given: bool) -> Result<(), DirError> {
    let gone = |e: &std::io::Error| e.kind() == ErrorKind::NotFound;
    if !source_given {
        return match std::fs::remove_dir_all(dir) {
            Err(e) if !gone(&e) => Err(io("cannot remove", dir, e)),
            _ => Ok(()),
        };
    }
    for sub in LAYOUT {
        let path = dir.join(sub);
        match std::fs::remove_dir_all(&path) {
            Err(e) if !gone(&e) => return Err(io("cannot remove", &path, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Creates a volume's directory at `dir` (its pool must exist).
pub fn create_volume(dir: &Path) -> Result<(), DirError> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io("cannot create", parent, e))?;
    }
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(DirError::VolumeExists),
        Err(e) => Err(io("cannot create", dir, e)),
        Ok(()) => Ok(()),
    }
}

/// Removes a volume's directory and everything in it (gone already is fine).
pub fn delete_volume(dir: &Path) -> Result<(), DirError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io("cannot remove", dir, e)),
        _ => Ok(()),
    }
}

/// Moves a volume's directory from `from` to `to`, refusing to replace one.
pub fn rename_volume(from: &Path, to: &Path) -> Result<(), DirError> {
    if to.exists() {
        return Err(DirError::VolumeExists);
    }
    std::fs::rename(from, to).map_err(|e| io("cannot rename", from, e))
}

/// What the filesystem holding a pool has and uses, as LXD reports a pool's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes in all.
    pub space_total: u64,
    /// Bytes used.
    pub space_used: u64,
    /// Inodes in all.
    pub inodes_total: u64,
    /// Inodes used.
    pub inodes_used: u64,
}

impl Usage {
    /// LXD's `StoragePoolState` (`space` and `inodes`, each `used` and `total`).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "space": { "used": self.space_used, "total": self.space_total },
            "inodes": { "used": self.inodes_used, "total": self.inodes_total },
        })
    }
}

/// Space and inodes of the filesystem holding `dir`.
pub fn usage(dir: &Path) -> std::io::Result<Usage> {
    let stats = statvfs(dir)?;
    let block = stats.f_frsize as u64;
    let space_total = stats.f_blocks as u64 * block;
    let inodes_total = stats.f_files as u64;
    Ok(Usage {
        space_total,
        space_used: space_total.saturating_sub(stats.f_bfree as u64 * block),
        inodes_total,
        inodes_used: inodes_total.saturating_sub(stats.f_ffree as u64),
    })
}

fn statvfs(dir: &Path) -> std::io::Result<libc::statvfs> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs fills `stats` from a valid NUL-terminated path; nothing is kept.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("corral-dir-driver-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn pools_live_at_their_source_or_under_the_data_dir() {
        let data = Path::new("/var/lib/corral");
        let cases = [
            (None, "/var/lib/corral/storage-pools/p1"),
            (Some(""), "/var/lib/corral/storage-pools/p1"),
            (Some("/srv/p1"), "/srv/p1"),
        ];
        for (source, want) in cases {
            assert_eq!(
                pool_dir(data, "p1", source),
                PathBuf::from(want),
                "{source:?}"
            );
        }
        assert_eq!(
            volume_dir(Path::new("/srv/p1"), "default", "v1"),
            PathBuf::from("/srv/p1/custom/default_v1")
        );
    }

    #[test]
    fn a_given_source_must_exist_be_a_directory_and_be_empty() {
        let base = scratch("source");
        let missing = base.join("missing");
        assert_eq!(
            create(&missing, true),
            Err(DirError::Missing(missing.display().to_string()))
        );
        let file = base.join("file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(
            create(&file, true),
            Err(DirError::NotDirectory(file.display().to_string()))
        );
        let full = base.join("full");
        std::fs::create_dir_all(full.join("stuff")).unwrap();
        assert_eq!(
            create(&full, true),
            Err(DirError::NotEmpty(full.display().to_string()))
        );
        let fine = base.join("fine");
        std::fs::create_dir_all(&fine).unwrap();
        create(&fine, true).unwrap();
        // Again, as a re-run does: what the driver made is no obstacle.
        create(&fine, true).unwrap();
        assert!(fine.join("custom").is_dir() && fine.join("containers").is_dir());
        delete(&fine, true).unwrap();
        assert!(fine.is_dir() && !fine.join("custom").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn default_pools_and_volumes_are_made_and_removed() {
        let base = scratch("default");
        let pool = pool_dir(&base, "p1", None);
        create(&pool, false).unwrap();
        let v1 = volume_dir(&pool, "default", "v1");
        create_volume(&v1).unwrap();
        assert_eq!(create_volume(&v1), Err(DirError::VolumeExists));
        let v2 = volume_dir(&pool, "default", "v2");
        rename_volume(&v1, &v2).unwrap();
        assert!(v2.is_dir() && !v1.exists());
        delete_volume(&v2).unwrap();
        delete_volume(&v2).unwrap();
        let u = usage(&pool).unwrap();
        assert!(u.space_total >= u.space_used && u.space_total > 0);
        assert_eq!(u.to_json()["space"]["total"], u.space_total);
        delete(&pool, false).unwrap();
        assert!(!pool.exists());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
