//! Where a daemon keeps its state (`CORRAL_DIR`), as `LXD_DIR` does for LXD.

use std::path::PathBuf;

/// The environment variable naming the daemon's directory.
pub const DIR_ENV: &str = "CORRAL_DIR";

/// The daemon's directory: `$CORRAL_DIR`, else `/var/lib/corral` as root, else the XDG data dir.
pub fn corral_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if is_root() {
        return PathBuf::from("/var/lib/corral");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("corral")
}

/// The local API socket inside a daemon directory.
pub fn unix_socket(dir: &std::path::Path) -> PathBuf {
    dir.join("unix.socket")
}

fn is_root() -> bool {
    // Reading the effective uid from /proc avoids a libc dependency in this crate.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
