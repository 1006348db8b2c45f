//! Files in an instance (`corral file pull|push`, LXD's `/1.0/instances/NAME/files`): read
//! and written in its root filesystem by the member holding it, running or not. A path is
//! resolved as the instance would resolve it, symbolic links included, and never leaves
//! its root filesystem.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use corral_shared::api::Action;
use serde::{Deserialize, Serialize};

use super::holder::with_query;
use super::lifecycle;
use super::local;
use crate::error::{Error, Result};
use crate::node::Node;

/// How long a holder may take to read or write a file.
const FILE_BOUND: Duration = Duration::from_secs(120);
/// The most symbolic links one path may go through (Linux's own limit).
const MAX_LINKS: usize = 40;

/// What a path in an instance is (LXD's `X-LXD-*` headers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// "file", "directory" or "symlink".
    #[serde(rename = "type")]
    pub kind: String,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// A directory's entries, by name.
    #[serde(default)]
    pub entries: Vec<String>,
}

/// How to write a file (LXD's `X-LXD-*` request headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    /// "file", "directory" or "symlink" (the body is the link's target).
    #[serde(rename = "type")]
    pub kind: String,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// Append instead of replacing.
    pub append: bool,
}

impl Default for FileWrite {
    fn default() -> Self {
        Self {
            kind: "file".to_owned(),
            uid: 0,
            gid: 0,
            mode: 0o644,
            append: false,
        }
    }
}

/// Where `path` (absolute, as the instance sees it) is under `root`, following symbolic
/// links inside the instance (`follow_last`: the last component's too).
pub fn resolve(root: &Path, path: &str, follow_last: bool) -> Result<PathBuf> {
    if !path.starts_with('/') {
        return Err(Error::BadRequest(format!(
            "Invalid path {path:?}: give an absolute path inside the instance, e.g. /etc/hostname"
        )));
    }
    let mut pending: Vec<String> = components(path);
    pending.reverse();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let here = done
            .iter()
            .fold(root.to_owned(), |p, c| p.join(c))
            .join(&part);
        let last = pending.is_empty();
        let is_link = std::fs::symlink_metadata(&here).is_ok_and(|m| m.file_type().is_symlink());
        if is_link && (!last || follow_last) {
            links += 1;
            if links > MAX_LINKS {
                return Err(Error::BadRequest(format!(
                    "Too many levels of symbolic links in {path:?}"
                )));
            }
            let target = std::fs::read_link(&here)
                .map_err(|e| Error::Internal(format!("cannot read link {path:?}: {e}")))?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                done.clear();
            }
            let mut more = components(&target);
            more.reverse();
            pending.extend(more);
            continue;
        }
        done.push(part);
    }
    Ok(done.iter().fold(root.to_owned(), |p, c| p.join(c)))
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect()
}

fn missing(path: &str) -> Error {
    Error::NotFound(format!("Not found: the instance has no {path:?}"))
}

fn io_error(path: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return missing(path);
    }
    Error::Internal(format!("{path}: {e}"))
}

/// What `path` is in instance `name`, held by this member.
pub fn stat_here(node: &Node, name: &str, path: &str) -> Result<FileInfo> {
    let host = resolve(&local::layout(node).rootfs(name), path, true)?;
    let meta = std::fs::metadata(&host).map_err(|e| io_error(path, e))?;
    let kind = if meta.is_dir() { "directory" } else { "file" };
    let mut entries = Vec::new();
    if meta.is_dir() {
        for entry in std::fs::read_dir(&host).map_err(|e| io_error(path, e))? {
            let entry = entry.map_err(|e| io_error(path, e))?;
            entries.push(entry.file_name().to_string_lossy().into_owned());
        }
        entries.sort();
        // A directory's listing is all a pull of it reads: retrieved here (a file's
        // content is read next, by `read_here`).
        announce(Action::InstanceFileRetrieved, name, path);
    }
    Ok(FileInfo {
        kind: kind.to_owned(),
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.permissions().mode() & 0o7777,
        entries,
    })
}

/// The content of file `path` in instance `name`, held by this member.
pub fn read_here(node: &Node, name: &str, path: &str) -> Result<Vec<u8>> {
    let host = resolve(&local::layout(node).rootfs(name), path, true)?;
    let content = std::fs::read(&host).map_err(|e| io_error(path, e))?;
    announce(Action::InstanceFileRetrieved, name, path);
    Ok(content)
}

/// Announces a file action on `path` of instance `name`, as LXD names it (context `path`).
fn announce(action: Action, name: &str, path: &str) {
    let mut context = serde_json::Map::new();
    context.insert("path".into(), path.into());
    lifecycle::announce(action, name, context);
}

/// Writes `body` at `path` in instance `name`, held by this member, as `how` says.
pub fn write_here(node: &Node, name: &str, path: &str, how: &FileWrite, body: &[u8]) -> Result<()> {
    let rootfs = local::layout(node).rootfs(name);
    if !rootfs.is_dir() {
        return Err(Error::Internal(format!(
            "instance {name} has no root filesystem on this member"
        )));
    }
    let follow = how.kind == "file";
    let host = resolve(&rootfs, path, follow)?;
    let fail = |e: std::io::Error| io_error(path, e);
    match how.kind.as_str() {
        "directory" => {
            if !host.is_dir() {
                std::fs::create_dir(&host).map_err(fail)?;
            }
        }
        "symlink" => {
            let target = String::from_utf8_lossy(body).into_owned();
            let _ = std::fs::remove_file(&host);
            std::os::unix::fs::symlink(target, &host).map_err(fail)?;
            std::os::unix::fs::lchown(&host, Some(how.uid), Some(how.gid)).map_err(fail)?;
            announce(Action::InstanceFilePushed, name, path);
            return Ok(());
        }
        "file" => {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(how.append)
                .truncate(!how.append)
                .open(&host)
                .map_err(fail)?;
            file.write_all(body).map_err(fail)?;
        }
        other => {
            return Err(Error::BadRequest(format!(
                "Invalid file type {other:?}: use file, directory or symlink"
            )));
        }
    }
    std::os::unix::fs::chown(&host, Some(how.uid), Some(how.gid)).map_err(fail)?;
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(how.mode & 0o7777))
        .map_err(fail)?;
    announce(Action::InstanceFilePushed, name, path);
    Ok(())
}

/// Deletes `path` in instance `name`, held by this member (a directory must be empty).
pub fn delete_here(node: &Node, name: &str, path: &str) -> Result<()> {
    let host = resolve(&local::layout(node).rootfs(name), path, false)?;
    let meta = std::fs::symlink_metadata(&host).map_err(|e| io_error(path, e))?;
    if meta.is_dir() {
        std::fs::remove_dir(&host).map_err(|e| io_error(path, e))?;
    } else {
        std::fs::remove_file(&host).map_err(|e| io_error(path, e))?;
    }
    announce(Action::InstanceFileDeleted, name, path);
    Ok(())
}

fn file_path(name: &str) -> String {
    format!("/internal/instances/{name}/files")
}

/// What `path` is in instance `name` and, for a file, its content; from any member.
pub async fn pull(node: &Node, name: &str, path: &str) -> Result<(FileInfo, Vec<u8>)> {
    let row = lifecycle::row(node, name).await?;
    let Some(holder) = lifecycle::holder_of(node, &row) else {
        let info = stat_here(node, name, path)?;
        let body = match info.kind.as_str() {
            "file" => read_here(node, name, path)?,
            _ => Vec::new(),
        };
        return Ok((info, body));
    };
    let stat = with_query(&file_path(name), &[("path", path), ("stat", "1")]);
    let info: FileInfo = holder.call(node, "GET", &stat, None, FILE_BOUND).await?;
    if info.kind != "file" {
        return Ok((info, Vec::new()));
    }
    let read = with_query(&file_path(name), &[("path", path)]);
    let (status, body) = holder
        .raw(node, "GET", &read, Vec::new(), FILE_BOUND)
        .await?;
    if status != 200 {
        return Err(refusal(status, &body));
    }
    Ok((info, body.to_vec()))
}

/// Writes a file, directory or link at `path` in instance `name`; from any member.
pub async fn push(
    node: &Node,
    name: &str,
    path: &str,
    how: &FileWrite,
    body: Vec<u8>,
) -> Result<()> {
    let row = lifecycle::row(node, name).await?;
    let Some(holder) = lifecycle::holder_of(node, &row) else {
        return write_here(node, name, path, how, &body);
    };
    // The mode travels in octal, as LXD's X-LXD-mode header carries it.
    let (uid, gid, mode) = (
        how.uid.to_string(),
        how.gid.to_string(),
        format!("{:o}", how.mode),
    );
    let write = if how.append { "append" } else { "overwrite" };
    let target = with_query(
        &file_path(name),
        &[
            ("path", path),
            ("type", &how.kind),
            ("uid", &uid),
            ("gid", &gid),
            ("mode", &mode),
            ("write", write),
        ],
    );
    let (status, answer) = holder.raw(node, "POST", &target, body, FILE_BOUND).await?;
    if status >= 400 {
        return Err(refusal(status, &answer));
    }
    Ok(())
}

/// A holder's refusal, in its words.
fn refusal(status: u16, body: &[u8]) -> Error {
    let message = serde_json::from_slice::<corral_shared::api::Envelope>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
    Error::from_status(status, message)
}

/// Deletes `path` in instance `name`; from any member.
pub async fn remove(node: &Node, name: &str, path: &str) -> Result<()> {
    let row = lifecycle::row(node, name).await?;
    let Some(holder) = lifecycle::holder_of(node, &row) else {
        return delete_here(node, name, path);
    };
    let target = with_query(&file_path(name), &[("path", path)]);
    let (status, answer) = holder
        .raw(node, "DELETE", &target, Vec::new(), FILE_BOUND)
        .await?;
    if status >= 400 {
        return Err(refusal(status, &answer));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_instance_whatever_their_links_say() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("/usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("usr/up")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("etc/pw")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        for (path, follow, want) in [
            ("/etc/hostname", true, "etc/hostname"),
            ("/bin/sh", true, "usr/bin/sh"),
            ("/../../etc", true, "etc"),
            ("/usr/up/shadow", true, "etc/shadow"),
            ("/etc/pw", true, "etc/passwd"),
            ("/etc/pw", false, "etc/pw"),
            ("/./etc/../etc/x", true, "etc/x"),
        ] {
            assert_eq!(
                resolve(root, path, follow).unwrap(),
                root.join(want),
                "{path} follow={follow}"
            );
        }
        assert!(resolve(root, "relative", true).is_err());
        let err = resolve(root, "/loop", true).unwrap_err().to_string();
        assert!(err.contains("Too many levels"), "{err}");
    }
}
