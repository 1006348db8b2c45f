//! `REMOTE:` on the instance commands, as lxc reads it: `list prod:`, `launch IMAGE
//! prod:c1`, `start prod:c1 prod:c2`, `exec prod:c1 -- CMD`, `file pull prod:c1/etc/x .`,
//! `file push ./x prod:c1/etc/x`. One command reaches one remote, so every instance it
//! names must be on the same one.

use crate::cli::Command;
use crate::commands::instance::FileCommand;
use crate::remote::RemoteError;

/// `REMOTE` and the rest of `REMOTE:REST` when `text` starts with a remote's name: what
/// comes before the first ':' holds no '/' (so `c1/tmp/a:b` is an instance path).
fn split(text: &str) -> Option<(&str, &str)> {
    let (remote, rest) = text.split_once(':')?;
    (!remote.is_empty() && !remote.contains('/')).then_some((remote, rest))
}

/// The remote an instance command names (`None`: the default one), with the prefixes taken
/// off; `None` when `command` is no instance command.
pub(super) fn take(command: &mut Command) -> Option<Result<Option<String>, RemoteError>> {
    let taken = match command {
        Command::List { remote, .. } => super::take_remote_only(remote),
        Command::Init(args) | Command::Launch(args) => create(&mut args.image, &mut args.name),
        Command::Start { names } | Command::Delete { names, .. } => {
            same_remote(names.iter_mut(), "instance name")
        }
        Command::Stop(args) | Command::Restart(args) => {
            same_remote(args.names.iter_mut(), "instance name")
        }
        Command::Info { name } => same_remote(std::iter::once(name), "instance name"),
        Command::Rename { name, new_name } => {
            same_remote([name, new_name].into_iter(), "instance name")
        }
        Command::Move(args) => same_remote(
            std::iter::once(&mut args.name).chain(args.new_name.as_mut()),
            "instance name",
        ),
        Command::Exec(args) => same_remote(std::iter::once(&mut args.name), "instance name"),
        Command::File(file) => match file {
            FileCommand::Pull { paths, .. } => {
                let sources = paths.len().saturating_sub(1);
                same_remote(paths.iter_mut().take(sources), "instance path")
            }
            FileCommand::Push { paths, .. } => {
                same_remote(paths.last_mut().into_iter(), "instance path")
            }
            FileCommand::Delete { path } => same_remote(std::iter::once(path), "instance path"),
        },
        _ => return None,
    };
    Some(taken)
}

/// The one remote `texts` name, each with its prefix taken off: all name the same remote,
/// or none does (the default remote).
fn same_remote<'a>(
    texts: impl Iterator<Item = &'a mut String>,
    what: &str,
) -> Result<Option<String>, RemoteError> {
    let mut named: Option<String> = None;
    let mut bare: Option<String> = None;
    for text in texts {
        let Some((remote, rest)) = split(text) else {
            bare.get_or_insert_with(|| text.clone());
            continue;
        };
        if rest.is_empty() {
            let placeholder = what.rsplit(' ').next().unwrap_or(what).to_uppercase();
            return Err(RemoteError::Refused(format!(
                "Missing {what} after \"{text}\": write {text}{placeholder}"
            )));
        }
        if let Some(first) = named.as_deref()
            && first != remote
        {
            return Err(mixed(&format!("{first}:"), &format!("{remote}:")));
        }
        named = Some(remote.to_owned());
        *text = rest.to_owned();
    }
    if let (Some(remote), Some(bare)) = (&named, &bare) {
        return Err(mixed(
            &format!("{remote}:"),
            &format!("{bare} (the default remote)"),
        ));
    }
    Ok(named)
}

fn mixed(one: &str, other: &str) -> RemoteError {
    RemoteError::Refused(format!(
        "One command reaches one remote, and this one names {one} and {other}: run it once \
         per remote"
    ))
}

/// `launch|init [REMOTE:]IMAGE [REMOTE:]NAME`: the instance's remote; an image prefix must
/// name the same one, since images are not copied between remotes.
fn create(image: &mut String, name: &mut String) -> Result<Option<String>, RemoteError> {
    let remote = same_remote(std::iter::once(&mut *name), "instance name")?;
    let Some((from, rest)) = split(image) else {
        return Ok(remote);
    };
    if rest.is_empty() {
        return Err(RemoteError::Refused(format!(
            "Missing image after \"{image}\": write {image}ALIAS or {image}FINGERPRINT"
        )));
    }
    if remote.as_deref() != Some(from) {
        let to = remote.map_or_else(|| "the default remote".to_owned(), |r| format!("{r}:"));
        return Err(RemoteError::Refused(format!(
            "The image is on {from}: but the instance would be made on {to}; images are not \
             copied between remotes: write {from}:{name}, or import the image on {to} first \
             ('corral image import TARBALL')"
        )));
    }
    let (from, rest) = (from.to_owned(), rest.to_owned());
    *image = rest;
    Ok(Some(from))
}

#[cfg(test)]
mod tests {
    use crate::remote::prefix::resolve;
    use crate::remote::prefix::tests::{config, parse};

    #[test]
    fn instance_commands_go_where_their_prefix_says() {
        // (command line, remote, the command line it runs as there)
        let cases: [(&str, &str, &str); 17] = [
            ("list", "local", "list"),
            ("list prod:", "prod", "list"),
            ("list -f csv prod:", "prod", "list -f csv"),
            ("launch busybox prod:c1", "prod", "launch busybox c1"),
            (
                "launch prod:busybox prod:c1 --target m2",
                "prod",
                "launch busybox c1 --target m2",
            ),
            ("init busybox c1", "local", "init busybox c1"),
            ("start prod:c1 prod:c2", "prod", "start c1 c2"),
            ("stop prod:c1 --force", "prod", "stop c1 --force"),
            ("restart prod:c1", "prod", "restart c1"),
            ("delete -f prod:c1", "prod", "delete -f c1"),
            ("info prod:c1", "prod", "info c1"),
            ("exec prod:c1 -- ls /", "prod", "exec c1 -- ls /"),
            (
                "file pull prod:c1/etc/hostname prod:c1/etc/hosts .",
                "prod",
                "file pull c1/etc/hostname c1/etc/hosts .",
            ),
            (
                "file push ./a:b prod:c1/tmp/a",
                "prod",
                "file push ./a:b c1/tmp/a",
            ),
            ("file delete prod:c1/tmp/a", "prod", "file delete c1/tmp/a"),
            // A colon inside an instance path is the path's.
            ("file delete c1/tmp/a:b", "local", "file delete c1/tmp/a:b"),
            (
                "file pull c1/etc/x local:/tmp/x",
                "local",
                "file pull c1/etc/x local:/tmp/x",
            ),
        ];
        for (line, remote, runs) in cases {
            let (got, command) = resolve(parse(line), &config()).unwrap();
            assert_eq!(got, remote, "{line}");
            assert_eq!(command, parse(runs), "{line}");
        }
    }

    #[test]
    fn one_command_reaches_one_remote() {
        let cases: [(&str, &str); 6] = [
            ("start prod:c1 local:c2", "names prod: and local:"),
            (
                "start prod:c1 c2",
                "names prod: and c2 (the default remote)",
            ),
            ("exec prod: -- ls", "Missing instance name after \"prod:\""),
            (
                "launch prod:busybox c1",
                "The image is on prod: but the instance would be made on the default remote",
            ),
            ("launch local:busybox prod:c1", "write local:c1"),
            ("list x:", "The remote \"x\" doesn't exist"),
        ];
        for (line, says) in cases {
            let error = resolve(parse(line), &config()).unwrap_err().to_string();
            assert!(error.contains(says), "{line}: {error}");
        }
    }
}
