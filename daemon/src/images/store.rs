//! This member's image files: `$CORRAL_DIR/images/<fingerprint>`, as LXD keeps them. A file
//! arrives in a temporary file beside them, hashed as it is written, and takes its name
//! only once complete (and, when fetched, checked), so a file under a fingerprint's name is
//! always the whole image.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The directory holding this member's image files.
pub fn dir(root: &Path) -> PathBuf {
    root.join("images")
}

/// Where image `fingerprint`'s file is kept on this member.
pub fn file(root: &Path, fingerprint: &str) -> PathBuf {
    dir(root).join(fingerprint)
}

/// Whether `text` is a whole fingerprint: 64 lowercase hex digits (SHA-256).
pub fn is_fingerprint(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A file being received, hashed as it is written.
pub struct Incoming {
    file: std::io::BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    size: u64,
}

/// A file received whole: where it waits, its fingerprint and size.
pub struct Received {
    /// The temporary file (deleted when dropped unless kept).
    pub temp: tempfile::TempPath,
    /// SHA-256 of its bytes, hex.
    pub fingerprint: String,
    /// Its size in bytes.
    pub size: u64,
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

impl Incoming {
    /// Starts receiving a file into the images directory under `root`.
    pub fn new(root: &Path) -> Result<Self> {
        let dir = dir(root);
        std::fs::create_dir_all(&dir).map_err(|e| io(&format!("creating {}", dir.display()), e))?;
        let temp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&dir)
            .map_err(|e| io(&format!("creating a file in {}", dir.display()), e))?;
        Ok(Self {
            file: std::io::BufWriter::with_capacity(256 * 1024, temp),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Appends a chunk.
    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.write_all(chunk)?;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Ends the file: flushed and synced, with its fingerprint.
    pub fn finish(self) -> Result<Received> {
        let temp = self
            .file
            .into_inner()
            .map_err(|e| io("writing the image file", e.into_error()))?;
        temp.as_file()
            .sync_all()
            .map_err(|e| io("syncing the image file", e))?;
        Ok(Received {
            temp: temp.into_temp_path(),
            fingerprint: hex::encode(self.hasher.finalize()),
            size: self.size,
        })
    }
}

/// Keeps a received file as image `fingerprint`'s file on this member.
pub fn keep(root: &Path, received: Received) -> Result<PathBuf> {
    let dest = file(root, &received.fingerprint);
    received
        .temp
        .persist(&dest)
        .map_err(|e| io(&format!("keeping {}", dest.display()), e.error))?;
    Ok(dest)
}

/// Removes image `fingerprint`'s file from this member; true if there was one.
pub fn remove(root: &Path, fingerprint: &str) -> Result<bool> {
    let path = file(root, fingerprint);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(&format!("removing {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_file_is_named_by_its_sha256_only_when_kept() {
        let root = tempfile::tempdir().unwrap();
        let mut incoming = Incoming::new(root.path()).unwrap();
        incoming.write(b"hello ").unwrap();
        incoming.write(b"world").unwrap();
        let received = incoming.finish().unwrap();
        assert_eq!(received.size, 11);
        assert_eq!(
            received.fingerprint,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert!(is_fingerprint(&received.fingerprint));
        let fp = received.fingerprint.clone();
        assert!(!file(root.path(), &fp).exists());
        let kept = keep(root.path(), received).unwrap();
        assert_eq!(std::fs::read(&kept).unwrap(), b"hello world");
        assert!(remove(root.path(), &fp).unwrap());
        assert!(!remove(root.path(), &fp).unwrap());
        // A dropped, unkept file leaves nothing behind.
        let mut dropped = Incoming::new(root.path()).unwrap();
        dropped.write(b"x").unwrap();
        drop(dropped.finish().unwrap());
        assert_eq!(std::fs::read_dir(dir(root.path())).unwrap().count(), 0);
    }

    #[test]
    fn fingerprints_are_64_lowercase_hex_digits() {
        let good = "a".repeat(64);
        for (text, want) in [
            (good.as_str(), true),
            (&good[..63], false),
            ("../../etc/passwd", false),
            (&"A".repeat(64), false),
            (&"g".repeat(64), false),
        ] {
            assert_eq!(is_fingerprint(text), want, "{text}");
        }
    }
}
