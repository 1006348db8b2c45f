//! The test image: a tiny LXD unified-format tarball built from busybox-static by
//! `assets/images/build-busybox-image.sh`, once per machine, into a cache under `target/`.
//! Tests in parallel (threads or processes) share it: the first builds it under a file
//! lock, the others wait on the lock and find it built.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cache directory: `target/corral-test-image/`.
fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("corral-test-image")
}

/// The busybox test image's path, built on first use (a few seconds) and reused after.
/// Panics with what to install when it cannot be built (busybox-static, or apt-get to
/// fetch it).
pub fn test_image() -> PathBuf {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("creating the test image cache {}: {e}", dir.display()));
    let image = dir.join("busybox.tar.gz");
    let recipe = crate::asset("images/build-busybox-image.sh");
    // Rebuilt when the recipe changes: its size and time stamp name the build.
    let stamp = dir.join("busybox.recipe");
    let recipe_id = std::fs::metadata(&recipe)
        .map(|m| format!("{} {:?}", m.len(), m.modified().ok()))
        .unwrap_or_else(|e| panic!("reading the image recipe {}: {e}", recipe.display()));
    let built = || image.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == recipe_id);
    if built() {
        return image;
    }
    let lock_path = dir.join("build.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", lock_path.display()));
    // Blocks while another test builds it; released when `lock` is dropped (or the
    // process dies).
    lock.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", lock_path.display()));
    if built() {
        return image;
    }
    let out = Command::new("sh")
        .arg(&recipe)
        .arg(&image)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", recipe.display()));
    assert!(
        out.status.success(),
        "building the test image with {} failed ({}): {}{}\nInstall busybox-static \
         ('apt-get install busybox-static') and try again.",
        recipe.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, &recipe_id)
        .unwrap_or_else(|e| panic!("writing {}: {e}", stamp.display()));
    drop(lock);
    image
}

/// The SHA-256 of a file, hex: an image's fingerprint as LXD computes it.
pub fn fingerprint_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    hex::encode(Sha256::digest(&bytes))
}
