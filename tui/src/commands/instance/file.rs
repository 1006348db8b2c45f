//! `corral file pull|push|delete`: files in an instance through LXD's
//! `/1.0/instances/NAME/files?path=` API, from any member.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use corral_shared::api::Envelope;
use corral_shared::client::Client;

use super::FileCommand;
use crate::error::CliError;

/// `INSTANCE/PATH` split into the instance and the absolute path in it.
pub fn split_remote(spec: &str) -> Result<(String, String), CliError> {
    match spec.split_once('/') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_owned(), format!("/{path}")))
        }
        _ => Err(CliError::Usage(format!(
            "{spec:?} names no file in an instance: write INSTANCE/PATH, e.g. c1/etc/hostname"
        ))),
    }
}

/// The path query, escaped.
fn files_path(name: &str, path: &str, extra: &str) -> String {
    let escaped: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/1.0/instances/{name}/files?path={escaped}{extra}")
}

/// The daemon's refusal as an error.
fn refused(status: u16, body: &[u8]) -> CliError {
    let message = serde_json::from_slice::<Envelope>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
    CliError::Client(corral_shared::client::ClientError::Api { status, message })
}

/// Where a pulled file goes: into `target` when it is a directory.
pub fn local_target(target: &Path, remote_path: &str) -> PathBuf {
    if target.is_dir() {
        let base = Path::new(remote_path)
            .file_name()
            .map(|n| n.to_owned())
            .unwrap_or_default();
        target.join(base)
    } else {
        target.to_owned()
    }
}

/// Where a pushed file goes: under `remote_path` when it ends with `/`.
pub fn remote_target(remote_path: &str, source: &str) -> String {
    if remote_path.ends_with('/') {
        let base = Path::new(source)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{remote_path}{base}")
    } else {
        remote_path.to_owned()
    }
}

/// Runs a `file` subcommand.
pub async fn run(
    client: &Client,
    command: FileCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        FileCommand::Pull {
            mut paths,
            recursive,
        } => {
            let target = paths.pop().expect("clap asks for two or more");
            if recursive {
                let into = Path::new(&target);
                if !into.is_dir() {
                    return Err(CliError::Usage(format!(
                        "{target:?} is not a local directory: 'file pull -r' copies into one \
                         (make it first)"
                    )));
                }
                for spec in &paths {
                    let (name, path) = split_remote(spec)?;
                    pull_tree(client, &name, &path, &local_target(into, &path)).await?;
                }
                return Ok(());
            }
            for spec in &paths {
                let (name, path) = split_remote(spec)?;
                let (status, body) = client
                    .raw("GET", &files_path(&name, &path, ""), None)
                    .await?;
                if status != 200 {
                    return Err(refused(status, &body));
                }
                if serde_json::from_slice::<Envelope>(&body)
                    .is_ok_and(|e| e.kind == corral_shared::api::ResponseType::Sync)
                {
                    return Err(CliError::Usage(format!(
                        "{spec} is a directory: pull it with everything in it with -r"
                    )));
                }
                if target == "-" {
                    out.write_all(&body)?;
                    continue;
                }
                let dest = local_target(Path::new(&target), &path);
                std::fs::write(&dest, &body).map_err(|e| {
                    CliError::Failed(format!("cannot write {}: {e}", dest.display()))
                })?;
            }
        }
        FileCommand::Push {
            mut paths,
            mode,
            uid,
            gid,
            recursive,
        } => {
            let target = paths.pop().expect("clap asks for two or more");
            let (name, remote) = split_remote(&target)?;
            if recursive {
                let owner = Owner { uid, gid };
                for source in &paths {
                    let dest = remote_target(&format!("{}/", remote.trim_end_matches('/')), source);
                    push_tree(client, &name, Path::new(source), &dest, owner).await?;
                }
                return Ok(());
            }
            for source in &paths {
                let (body, local_mode) = if source == "-" {
                    let mut body = Vec::new();
                    std::io::stdin().read_to_end(&mut body)?;
                    (body, None)
                } else {
                    let body = std::fs::read(source)
                        .map_err(|e| CliError::Failed(format!("cannot read {source}: {e}")))?;
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(source)
                        .ok()
                        .map(|m| m.permissions().mode() & 0o7777);
                    (body, mode)
                };
                let mode = match &mode {
                    Some(m) => u32::from_str_radix(m, 8).map_err(|_| {
                        CliError::Usage(format!("Invalid --mode {m:?}: give octal bits, e.g. 0644"))
                    })?,
                    None => local_mode.unwrap_or(0o644),
                };
                let dest = remote_target(&remote, source);
                let extra = format!("&type=file&uid={uid}&gid={gid}&mode={mode:o}");
                let (status, answer) = client
                    .raw("POST", &files_path(&name, &dest, &extra), Some(body))
                    .await?;
                if status >= 400 {
                    return Err(refused(status, &answer));
                }
            }
        }
        FileCommand::Delete { path } => {
            let (name, path) = split_remote(&path)?;
            let (status, answer) = client
                .raw("DELETE", &files_path(&name, &path, ""), None)
                .await?;
            if status >= 400 {
                return Err(refused(status, &answer));
            }
        }
    }
    Ok(())
}

/// What a pulled path is: a directory's entries, or a file's content.
enum Pulled {
    Directory(Vec<String>),
    File(Vec<u8>),
}

async fn pull_one(client: &Client, name: &str, path: &str) -> Result<Pulled, CliError> {
    let (status, body) = client.raw("GET", &files_path(name, path, ""), None).await?;
    if status != 200 {
        return Err(refused(status, &body));
    }
    match serde_json::from_slice::<Envelope>(&body) {
        Ok(e) if e.kind == corral_shared::api::ResponseType::Sync => {
            let entries = serde_json::from_value(e.metadata).unwrap_or_default();
            Ok(Pulled::Directory(entries))
        }
        _ => Ok(Pulled::File(body.to_vec())),
    }
}

/// Copies `path` of instance `name`, a directory with everything in it or a file, to
/// `dest` here, as `lxc file pull -r` does.
async fn pull_tree(client: &Client, name: &str, path: &str, dest: &Path) -> Result<(), CliError> {
    let fail =
        |e: std::io::Error| CliError::Failed(format!("cannot write {}: {e}", dest.display()));
    let mut pending = vec![(path.to_owned(), dest.to_owned())];
    while let Some((path, dest)) = pending.pop() {
        match pull_one(client, name, &path).await? {
            Pulled::File(body) => std::fs::write(&dest, body).map_err(fail)?,
            Pulled::Directory(entries) => {
                if !dest.is_dir() {
                    std::fs::create_dir(&dest).map_err(fail)?;
                }
                for entry in entries {
                    let child = format!("{}/{entry}", path.trim_end_matches('/'));
                    pending.push((child, dest.join(entry)));
                }
            }
        }
    }
    Ok(())
}

/// The owner pushed files get in the instance.
#[derive(Debug, Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

/// Copies local `source`, a directory with everything in it, a file or a link, to `dest`
/// in instance `name`, as `lxc file push -r` does: each keeps its permission bits.
async fn push_tree(
    client: &Client,
    name: &str,
    source: &Path,
    dest: &str,
    owner: Owner,
) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let mut pending = vec![(source.to_owned(), dest.to_owned())];
    while let Some((source, dest)) = pending.pop() {
        let fail =
            |e: std::io::Error| CliError::Failed(format!("cannot read {}: {e}", source.display()));
        let meta = std::fs::symlink_metadata(&source).map_err(fail)?;
        let mode = meta.permissions().mode() & 0o7777;
        let (kind, body) = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&source).map_err(fail)?;
            (
                "symlink",
                target.to_string_lossy().into_owned().into_bytes(),
            )
        } else if meta.is_dir() {
            let mut children = Vec::new();
            for entry in std::fs::read_dir(&source).map_err(fail)? {
                children.push(entry.map_err(fail)?.file_name());
            }
            children.sort();
            // Pushed in name order: the stack pops the last first.
            for child in children.into_iter().rev() {
                let remote = format!("{}/{}", dest.trim_end_matches('/'), child.to_string_lossy());
                pending.push((source.join(&child), remote));
            }
            ("directory", Vec::new())
        } else {
            ("file", std::fs::read(&source).map_err(fail)?)
        };
        let extra = format!(
            "&type={kind}&uid={}&gid={}&mode={mode:o}",
            owner.uid, owner.gid
        );
        let (status, answer) = client
            .raw("POST", &files_path(name, &dest, &extra), Some(body))
            .await?;
        if status >= 400 {
            return Err(refused(status, &answer));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_paths_are_split_and_targets_named() {
        assert_eq!(
            split_remote("c1/etc/hostname").unwrap(),
            ("c1".into(), "/etc/hostname".into())
        );
        assert!(split_remote("c1").is_err());
        assert!(split_remote("/etc/x").is_err());
        assert_eq!(remote_target("/root/", "./a/motd"), "/root/motd");
        assert_eq!(remote_target("/etc/motd", "./motd"), "/etc/motd");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            local_target(dir.path(), "/etc/hosts"),
            dir.path().join("hosts")
        );
        assert_eq!(
            files_path("c1", "/a b", "&x=1"),
            "/1.0/instances/c1/files?path=/a%20b&x=1"
        );
    }
}
