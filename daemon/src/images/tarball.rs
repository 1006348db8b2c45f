//! LXD's unified image format: one tar archive, optionally compressed, holding
//! `metadata.yaml` (architecture, creation date, properties) and the root filesystem under
//! `rootfs/`. Reading its metadata and unpacking its root filesystem; plain functions over
//! files, run off the async workers by the caller.

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What a tarball says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Architecture, normalised as LXD names it (`x86_64`, `aarch64`).
    pub architecture: String,
    /// When the image was made, seconds since the epoch (0 when not given).
    pub creation_date: i64,
    /// Free-form properties (`os`, `release`, `description`...).
    pub properties: BTreeMap<String, String>,
}

/// Why a file is not a usable image.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TarballError {
    /// Not a tar archive at all (or compressed with something unknown).
    #[error(
        "The file is not an image tarball: {0}. An image is LXD's unified format: a tar archive \
         (plain, gzip, xz, bzip2 or zstd) holding metadata.yaml and rootfs/"
    )]
    NotATarball(String),
    /// No `metadata.yaml` at its top.
    #[error(
        "The image tarball has no metadata.yaml at its top: add one (architecture, creation_date, \
         properties) beside rootfs/"
    )]
    NoMetadata,
    /// `metadata.yaml` does not say what it must.
    #[error("The image's metadata.yaml is invalid: {0}")]
    BadMetadata(String),
    /// No `rootfs/` directory: a split image's metadata half, or something else.
    #[error(
        "The image tarball has no rootfs/ directory: Corral imports unified images only (one \
         tarball with metadata.yaml and rootfs/), not split ones"
    )]
    NoRootfs,
    /// Reading or writing files failed.
    #[error("{0}")]
    Io(String),
}

/// The compression a file starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar archive.
    None,
    /// gzip.
    Gzip,
    /// xz.
    Xz,
    /// bzip2.
    Bzip2,
    /// zstd.
    Zstd,
}

/// The compression `head` (a file's first bytes, 512 or more for a plain archive) shows.
pub fn compression(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some(Compression::Xz)
    } else if head.starts_with(b"BZh") {
        Some(Compression::Bzip2)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Some(Compression::None)
    } else {
        None
    }
}

/// Normalises an architecture name the way LXD does (Debian's names to the kernel's).
pub fn architecture_name(name: &str) -> String {
    match name {
        "amd64" | "x86-64" => "x86_64".into(),
        "arm64" => "aarch64".into(),
        "armhf" | "armel" => "armv7l".into(),
        "i386" | "i486" | "i586" => "i686".into(),
        "ppc64el" => "ppc64le".into(),
        other => other.into(),
    }
}

/// Parses `metadata.yaml`.
pub fn parse_metadata(text: &str) -> Result<Metadata, TarballError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        architecture: Option<String>,
        #[serde(default)]
        creation_date: Option<i64>,
        #[serde(default)]
        properties: BTreeMap<String, serde_yaml::Value>,
    }
    let raw: Raw =
        serde_yaml::from_str(text).map_err(|e| TarballError::BadMetadata(e.to_string()))?;
    let architecture = raw
        .architecture
        .filter(|a| !a.trim().is_empty())
        .ok_or_else(|| {
            TarballError::BadMetadata(
                "it must name the architecture, e.g. 'architecture: x86_64'".into(),
            )
        })?;
    let properties = raw
        .properties
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_yaml::Value::String(s) => s,
                serde_yaml::Value::Null => String::new(),
                other => serde_yaml::to_string(&other)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            };
            (k, text)
        })
        .collect();
    Ok(Metadata {
        architecture: architecture_name(architecture.trim()),
        creation_date: raw.creation_date.unwrap_or(0),
        properties,
    })
}

/// An archive's entry path without a leading `./`, as a relative path; `None` for one
/// leaving the archive (absolute, or with `..`).
fn relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            _ => return None,
        }
    }
    Some(out)
}

/// A decompressed view of an image file: the reader, and the child process decompressing
/// it when that is done by a tool (xz, bzip2, zstd).
struct Opened {
    reader: Box<dyn Read>,
    child: Option<Child>,
}

/// Waits for the decompressing tool, if any, once its output was read or dropped: the tar
/// reader judged what it gave, so its exit status adds nothing.
fn reap(child: Option<Child>) {
    if let Some(mut child) = child {
        let _ = child.wait();
    }
}

fn open(path: &Path) -> Result<Opened, TarballError> {
    let io = |e: std::io::Error| TarballError::Io(format!("reading {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; 512];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]).map_err(io)? {
            0 => break,
            n => filled += n,
        }
    }
    file.rewind().map_err(io)?;
    let kind = compression(&head[..filled]).ok_or_else(|| {
        TarballError::NotATarball(if filled == 0 {
            "it is empty".into()
        } else {
            "it is neither a tar archive nor a compressed one".into()
        })
    })?;
    let tool = match kind {
        Compression::None => {
            return Ok(Opened {
                reader: Box::new(std::io::BufReader::new(file)),
                child: None,
            });
        }
        Compression::Gzip => {
            return Ok(Opened {
                reader: Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
                    file,
                ))),
                child: None,
            });
        }
        Compression::Xz => "xz",
        Compression::Bzip2 => "bzip2",
        Compression::Zstd => "zstd",
    };
    let mut child = Command::new(tool)
        .arg("-dc")
        .stdin(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            TarballError::Io(format!(
                "the image is compressed with {tool}, which could not be run ({e}): install it \
                 (e.g. 'apt-get install {tool}') or import a gzip-compressed tarball"
            ))
        })?;
    let stdout = child.stdout.take().expect("stdout was piped");
    Ok(Opened {
        reader: Box::new(stdout),
        child: Some(child),
    })
}

/// Reads an image file's metadata, checking that it is LXD's unified format.
pub fn inspect(path: &Path) -> Result<Metadata, TarballError> {
    let opened = open(path)?;
    let mut archive = tar::Archive::new(opened.reader);
    let mut metadata = None;
    let mut rootfs = false;
    let broken =
        |e: std::io::Error| TarballError::NotATarball(format!("its archive is unreadable ({e})"));
    for entry in archive.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let Some(name) = entry.path().ok().and_then(|p| relative(&p)) else {
            continue;
        };
        if name == Path::new("metadata.yaml") {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| TarballError::BadMetadata(format!("it is not text ({e})")))?;
            metadata = Some(parse_metadata(&text)?);
        } else if name.starts_with("rootfs") {
            rootfs = true;
        }
        if metadata.is_some() && rootfs {
            break;
        }
    }
    drop(archive);
    reap(opened.child);
    let metadata = metadata.ok_or(TarballError::NoMetadata)?;
    if !rootfs {
        return Err(TarballError::NoRootfs);
    }
    Ok(metadata)
}

/// Unpacks the image's `rootfs/` into `dest`, which must not exist or be empty; ownership,
/// modes, symlinks and hard links are kept. The tree is unpacked beside `dest` first and
/// moved into place whole, so `dest` never holds half an image.
pub fn unpack_rootfs(path: &Path, dest: &Path) -> Result<(), TarballError> {
    let io = |what: &str, e: std::io::Error| TarballError::Io(format!("{what}: {e}"));
    let parent = dest
        .parent()
        .ok_or_else(|| TarballError::Io(format!("{} has no parent directory", dest.display())))?;
    std::fs::create_dir_all(parent)
        .map_err(|e| io(&format!("creating {}", parent.display()), e))?;
    if dest.exists() {
        let empty = std::fs::read_dir(dest)
            .map_err(|e| io(&format!("reading {}", dest.display()), e))?
            .next()
            .is_none();
        if !empty {
            return Err(TarballError::Io(format!(
                "{} is not empty: the root filesystem is unpacked into a fresh directory",
                dest.display()
            )));
        }
        std::fs::remove_dir(dest).map_err(|e| io(&format!("removing {}", dest.display()), e))?;
    }
    let staging = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(parent)
        .map_err(|e| io(&format!("making a directory in {}", parent.display()), e))?;
    let opened = open(path)?;
    let mut archive = tar::Archive::new(opened.reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let broken = |e: std::io::Error| {
        // tar's error names the entry; the cause is its source.
        let cause = std::error::Error::source(&e)
            .map(|c| format!(": {c}"))
            .unwrap_or_default();
        TarballError::Io(format!("unpacking {}: {e}{cause}", path.display()))
    };
    for entry in archive.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let inside = entry
            .path()
            .ok()
            .and_then(|p| relative(&p))
            .is_some_and(|p| p.starts_with("rootfs"));
        if inside {
            // unpack_in refuses entries that would land outside the staging directory.
            entry.unpack_in(staging.path()).map_err(broken)?;
        }
    }
    drop(archive);
    reap(opened.child);
    let unpacked = staging.path().join("rootfs");
    if !unpacked.is_dir() {
        return Err(TarballError::NoRootfs);
    }
    std::fs::rename(&unpacked, dest).map_err(|e| {
        io(
            &format!("moving the root filesystem to {}", dest.display()),
            e,
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tarball with the given files (`path`, contents) and symlinks (`path`, target).
    pub(crate) fn tarball(dir: &Path, files: &[(&str, &str)], links: &[(&str, &str)]) -> PathBuf {
        let path = dir.join("image.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut builder = tar::Builder::new(gz);
        for (name, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o755);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(1764547200);
            header.set_cksum();
            builder
                .append_data(&mut header, name, text.as_bytes())
                .unwrap();
        }
        for (name, target) in links {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            header.set_mode(0o777);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(1764547200);
            builder.append_link(&mut header, name, target).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    const META: &str = "architecture: amd64\ncreation_date: 1764000000\nproperties:\n  os: busybox\n  release: 1.36\n";

    #[test]
    fn compression_is_told_by_the_first_bytes() {
        let mut ustar = vec![0u8; 512];
        ustar[257..262].copy_from_slice(b"ustar");
        for (head, want) in [
            (&[0x1f, 0x8b, 8][..], Some(Compression::Gzip)),
            (
                &[0xfd, b'7', b'z', b'X', b'Z', 0][..],
                Some(Compression::Xz),
            ),
            (b"BZh91AY".as_slice(), Some(Compression::Bzip2)),
            (&[0x28, 0xb5, 0x2f, 0xfd][..], Some(Compression::Zstd)),
            (&ustar[..], Some(Compression::None)),
            (b"hello world".as_slice(), None),
            (&[][..], None),
        ] {
            assert_eq!(compression(head), want, "{head:?}");
        }
    }

    #[test]
    fn metadata_is_read_and_checked() {
        let m = parse_metadata(META).unwrap();
        assert_eq!(m.architecture, "x86_64");
        assert_eq!(m.creation_date, 1764000000);
        assert_eq!(m.properties["os"], "busybox");
        assert_eq!(m.properties["release"], "1.36");
        for (text, want) in [
            ("creation_date: 1\n", "it must name the architecture"),
            ("architecture: ''\n", "it must name the architecture"),
            ("architecture: [a\n", "invalid"),
            ("- a\n- b\n", "invalid"),
        ] {
            let e = parse_metadata(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_unified_image_is_inspected_and_its_rootfs_unpacked_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = tarball(
            dir.path(),
            &[
                ("metadata.yaml", META),
                ("rootfs/bin/busybox", "#!/bin/true\n"),
                ("templates/hostname.tpl", "x"),
            ],
            &[("rootfs/bin/sh", "busybox")],
        );
        assert_eq!(inspect(&path).unwrap().properties["os"], "busybox");
        let dest = dir.path().join("c1/rootfs");
        unpack_rootfs(&path, &dest).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("bin/busybox")).unwrap(),
            "#!/bin/true\n"
        );
        assert_eq!(
            std::fs::read_link(dest.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert!(!dest.join("templates").exists());
        assert!(!dest.join("metadata.yaml").exists());
        // Nothing is left beside it, and a full directory is not unpacked over.
        let beside: Vec<_> = std::fs::read_dir(dir.path().join("c1")).unwrap().collect();
        assert_eq!(beside.len(), 1);
        let again = unpack_rootfs(&path, &dest).unwrap_err().to_string();
        assert!(again.contains("is not empty"), "{again}");
    }

    #[test]
    fn files_that_are_not_unified_images_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello, this is not an archive at all").unwrap();
        assert!(matches!(inspect(&text), Err(TarballError::NotATarball(_))));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(inspect(&empty), Err(TarballError::NotATarball(_))));

        let sub = |n: &str| {
            let d = dir.path().join(n);
            std::fs::create_dir(&d).unwrap();
            d
        };
        let no_meta = tarball(&sub("a"), &[("rootfs/bin/x", "x")], &[]);
        assert_eq!(inspect(&no_meta), Err(TarballError::NoMetadata));
        let no_rootfs = tarball(&sub("b"), &[("metadata.yaml", META)], &[]);
        assert_eq!(inspect(&no_rootfs), Err(TarballError::NoRootfs));
        let bad_meta = tarball(
            &sub("c"),
            &[("metadata.yaml", "properties: {}\n"), ("rootfs/x", "x")],
            &[],
        );
        assert!(matches!(
            inspect(&bad_meta),
            Err(TarballError::BadMetadata(_))
        ));
    }
}
