//! `REMOTE:` on command arguments, as lxc reads it: `cluster list prod:`, `cluster show
//! prod:m2`, `query prod:/1.0`, `config set prod: KEY VALUE`. Which remote a command goes
//! to is decided here, purely from its arguments and the remotes config.yml knows; an
//! argument without a prefix means the default remote.

use crate::cli::Command;
use crate::commands::cluster::{ClusterCommand, RoleCommand};

use super::{Config, RemoteError};

/// `REMOTE` and the rest of `REMOTE:REST`; `None` when `text` has no ':'.
pub fn split(text: &str) -> Option<(&str, &str)> {
    text.split_once(':')
}

/// The remote `command` names (or the default one) and the command with the prefix gone.
pub fn resolve(mut command: Command, config: &Config) -> Result<(String, Command), RemoteError> {
    let named = match slot(&mut command) {
        Slot::Member(name) => take_member(name)?,
        Slot::RemoteOnly(arg) => take_remote_only(arg)?,
        Slot::Path(path) => take_path(path)?,
        Slot::Nothing => None,
    };
    Ok((known(config, named)?, command))
}

/// The remote to use: `named` if config.yml knows it, else the default remote.
pub fn known(config: &Config, named: Option<String>) -> Result<String, RemoteError> {
    match named {
        Some(name) if config.remotes.contains_key(&name) => Ok(name),
        Some(name) => Err(RemoteError::UnknownPrefix(name)),
        None if config.remotes.contains_key(&config.default_remote) => {
            Ok(config.default_remote.clone())
        }
        None => Err(RemoteError::Config(format!(
            "the default remote \"{}\" doesn't exist; run 'corral remote switch local' (or \
             another name 'corral remote list' shows)",
            config.default_remote
        ))),
    }
}

/// Where a command carries its remote.
enum Slot<'a> {
    /// `[REMOTE:]MEMBER`.
    Member(&'a mut String),
    /// `[REMOTE:]` alone.
    RemoteOnly(&'a mut Option<String>),
    /// `[REMOTE:]/API/PATH`.
    Path(&'a mut String),
    /// Nowhere: the command is local (`demo`, `remote`) or read from argv (`config`).
    Nothing,
}

fn slot(command: &mut Command) -> Slot<'_> {
    use ClusterCommand as C;
    match command {
        Command::Cluster(cluster) => match cluster {
            C::List { remote, .. } | C::ListTokens { remote, .. } | C::Doctor { remote } => {
                Slot::RemoteOnly(remote)
            }
            C::Show { name }
            | C::Add { name, .. }
            | C::RevokeToken { name }
            | C::Get { name, .. }
            | C::Set { name, .. }
            | C::Unset { name, .. }
            | C::Edit { name }
            | C::Rename { name, .. }
            | C::Remove { name, .. }
            | C::Role(RoleCommand::Add { name, .. } | RoleCommand::Remove { name, .. }) => {
                Slot::Member(name)
            }
        },
        Command::Query(args) => Slot::Path(&mut args.path),
        Command::Version { remote } => Slot::RemoteOnly(remote),
        Command::Dashboard(args) => Slot::RemoteOnly(&mut args.remote),
        Command::Monitor(args) => Slot::RemoteOnly(&mut args.remote),
        _ => Slot::Nothing,
    }
}

fn take_member(name: &mut String) -> Result<Option<String>, RemoteError> {
    let Some((remote, member)) = split(name) else {
        return Ok(None);
    };
    if member.is_empty() {
        return Err(RemoteError::Refused(format!(
            "Missing cluster member name after \"{name}\": write {name}MEMBER"
        )));
    }
    let remote = remote.to_owned();
    *name = member.to_owned();
    Ok(Some(remote))
}

fn take_remote_only(arg: &mut Option<String>) -> Result<Option<String>, RemoteError> {
    let Some(text) = arg.take() else {
        return Ok(None);
    };
    match split(&text) {
        Some((remote, "")) => Ok(Some(remote.to_owned())),
        Some(_) => Err(RemoteError::Refused(format!(
            "\"{text}\": this command takes only a remote, written REMOTE: (nothing after the \
             colon)"
        ))),
        None => Err(RemoteError::Refused(format!(
            "\"{text}\" is not a remote: write it with a colon (\"{text}:\"), or leave it out \
             for the default remote"
        ))),
    }
}

fn take_path(path: &mut String) -> Result<Option<String>, RemoteError> {
    // An API path starts with '/', and may itself hold colons (filters, times).
    if path.starts_with('/') {
        return Ok(None);
    }
    let Some((remote, rest)) = split(path) else {
        return Ok(None);
    };
    if rest.is_empty() {
        return Err(RemoteError::Refused(format!(
            "Missing API path after \"{path}\": write {path}/1.0"
        )));
    }
    let remote = remote.to_owned();
    *path = rest.to_owned();
    Ok(Some(remote))
}

/// `config` commands: takes the `REMOTE:` argument out of argv (program name first) before
/// the command line is parsed, as `lxc config` reads `[<remote>:]`. For show/get/set/unset
/// it is a first positional argument that is exactly `NAME:` (keys never hold ':'); for
/// `trust` commands a first positional `NAME:REST` leaves REST in its place. Other argv is
/// returned unchanged.
pub fn config_argv(mut args: Vec<String>) -> (Option<String>, Vec<String>) {
    if args.get(1).map(String::as_str) != Some("config") {
        return (None, args);
    }
    let (first, whole_only) = match args.get(2).map(String::as_str) {
        Some("show" | "get" | "set" | "unset") => (3, true),
        Some("trust") => (4, false),
        _ => return (None, args),
    };
    let mut at = first;
    while at < args.len() {
        let arg = &args[at];
        if arg == "--" {
            at += 1;
            break;
        }
        if matches!(arg.as_str(), "-f" | "--format" | "--target") {
            at += 2;
            continue;
        }
        if !arg.starts_with('-') {
            break;
        }
        at += 1;
    }
    let Some(arg) = args.get(at) else {
        return (None, args);
    };
    match split(arg) {
        Some((remote, "")) if !remote.is_empty() => {
            let remote = remote.to_owned();
            args.remove(at);
            (Some(remote), args)
        }
        Some((remote, rest)) if !whole_only && !remote.is_empty() => {
            let (remote, rest) = (remote.to_owned(), rest.to_owned());
            args[at] = rest;
            (Some(remote), args)
        }
        _ => (None, args),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;
    use crate::remote::Remote;

    fn config() -> Config {
        let mut config = Config::default();
        config
            .add("prod", Remote::new("https://10.0.0.1:8443", "tls"))
            .unwrap();
        config
    }

    fn parse(args: &str) -> Command {
        Cli::try_parse_from(std::iter::once("corral").chain(args.split_whitespace()))
            .unwrap()
            .command
    }

    #[test]
    fn commands_go_where_their_prefix_says() {
        // (command line, remote, the command line it runs as there)
        let cases: [(&str, &str, &str); 16] = [
            ("cluster list", "local", "cluster list"),
            ("cluster list prod:", "prod", "cluster list"),
            ("cluster list -f csv prod:", "prod", "cluster list -f csv"),
            ("cluster list-tokens prod:", "prod", "cluster list-tokens"),
            ("cluster doctor prod:", "prod", "cluster doctor"),
            ("cluster show m2", "local", "cluster show m2"),
            ("cluster show prod:m2", "prod", "cluster show m2"),
            (
                "cluster add prod:m4 --quiet",
                "prod",
                "cluster add m4 --quiet",
            ),
            (
                "cluster rename prod:m1 alpha",
                "prod",
                "cluster rename m1 alpha",
            ),
            ("cluster set prod:m1 k v", "prod", "cluster set m1 k v"),
            (
                "cluster role add prod:m1 event-hub",
                "prod",
                "cluster role add m1 event-hub",
            ),
            ("query prod:/1.0", "prod", "query /1.0"),
            (
                "query /1.0/operations?filter=a:b",
                "local",
                "query /1.0/operations?filter=a:b",
            ),
            (
                "monitor prod: --type lifecycle",
                "prod",
                "monitor --type lifecycle",
            ),
            ("dashboard prod:", "prod", "dashboard"),
            ("version prod:", "prod", "version"),
        ];
        for (line, remote, runs) in cases {
            let (got, command) = resolve(parse(line), &config()).unwrap();
            assert_eq!(got, remote, "{line}");
            assert_eq!(command, parse(runs), "{line}");
        }
    }

    #[test]
    fn the_default_remote_is_used_without_a_prefix() {
        let mut config = config();
        config.switch("prod").unwrap();
        let (remote, _) = resolve(parse("cluster show m2"), &config).unwrap();
        assert_eq!(remote, "prod");
        let (remote, _) = resolve(parse("cluster show local:m2"), &config).unwrap();
        assert_eq!(remote, "local");
        config.default_remote = "gone".into();
        let error = resolve(parse("cluster list"), &config)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("the default remote \"gone\" doesn't exist"),
            "{error}"
        );
    }

    #[test]
    fn bad_prefixes_say_what_to_write() {
        let cases: [(&str, &str); 6] = [
            ("cluster list x:", "The remote \"x\" doesn't exist"),
            ("cluster show x:m2", "The remote \"x\" doesn't exist"),
            (
                "cluster show prod:",
                "Missing cluster member name after \"prod:\"",
            ),
            (
                "cluster list prod",
                "\"prod\" is not a remote: write it with a colon",
            ),
            ("cluster list prod:m1", "takes only a remote"),
            ("query prod:", "Missing API path"),
        ];
        for (line, says) in cases {
            let error = resolve(parse(line), &config()).unwrap_err().to_string();
            assert!(error.contains(says), "{line}: {error}");
        }
    }

    #[test]
    fn config_commands_take_their_remote_from_argv() {
        let argv = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let cases: [(&str, Option<&str>, &str); 13] = [
            (
                "corral config show prod:",
                Some("prod"),
                "corral config show",
            ),
            (
                "corral config get prod: core.https_address",
                Some("prod"),
                "corral config get core.https_address",
            ),
            (
                "corral config set prod: core.trust_password s",
                Some("prod"),
                "corral config set core.trust_password s",
            ),
            (
                "corral config set prod: a=1 b=2",
                Some("prod"),
                "corral config set a=1 b=2",
            ),
            (
                "corral config unset prod: user.x",
                Some("prod"),
                "corral config unset user.x",
            ),
            (
                "corral config trust list -f yaml prod:",
                Some("prod"),
                "corral config trust list -f yaml",
            ),
            (
                "corral config show --target m2 prod:",
                Some("prod"),
                "corral config show --target m2",
            ),
            (
                "corral config trust add prod:laptop --quiet",
                Some("prod"),
                "corral config trust add laptop --quiet",
            ),
            (
                "corral config trust remove prod:136ab692cca5",
                Some("prod"),
                "corral config trust remove 136ab692cca5",
            ),
            // Values with colons are values.
            (
                "corral config set core.https_address 127.0.0.1:8443",
                None,
                "corral config set core.https_address 127.0.0.1:8443",
            ),
            ("corral config set a=b:c", None, "corral config set a=b:c"),
            (
                "corral config get prod:key",
                None,
                "corral config get prod:key",
            ),
            (
                "corral cluster show prod:m2",
                None,
                "corral cluster show prod:m2",
            ),
        ];
        for (line, remote, runs) in cases {
            let (got, args) = config_argv(argv(line));
            assert_eq!(got.as_deref(), remote, "{line}");
            assert_eq!(args, argv(runs), "{line}");
        }
    }
}
