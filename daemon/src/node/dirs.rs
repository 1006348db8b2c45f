//! The layout of a daemon's directory (`CORRAL_DIR`).

use std::path::{Path, PathBuf};

/// Paths inside a daemon directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates the directories, owner-only.
    pub fn create(&self) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        for dir in [self.root.clone(), self.database(), self.snapshots()] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)?;
        }
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the databases live.
    pub fn database(&self) -> PathBuf {
        self.root.join("database")
    }

    /// This member's own database: Raft log, vote, raft_nodes, local config.
    pub fn local_db(&self) -> PathBuf {
        self.database().join("local.db")
    }

    /// The replica of the cluster's database.
    pub fn global_db(&self) -> PathBuf {
        self.database().join("global.db")
    }

    /// Raft snapshots of the global database.
    pub fn snapshots(&self) -> PathBuf {
        self.database().join("snapshots")
    }

    /// The local API socket.
    pub fn unix_socket(&self) -> PathBuf {
        corral_shared::paths::unix_socket(&self.root)
    }

    /// Held locked by the running daemon, so two never share a directory.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("corrald.lock")
    }
}
