//! LXD's captured answers, kept in the repository (`tests/fixtures/lxd`, see its README.txt):
//! what tests compare Corral's output with.

use std::path::PathBuf;

/// Where a sample lives.
pub fn lxd_sample_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/lxd")
        .join(name)
}

/// A captured command output, without the `[exit status N]` line the recorder appended.
pub fn lxd_sample_output(name: &str) -> String {
    let path = lxd_sample_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; LXD's captures live in the repository's tests/fixtures/lxd",
            path.display()
        )
    });
    match text.rfind("[exit status") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
