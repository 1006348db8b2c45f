//! `REMOTE:` on command arguments, as lxc reads it: `cluster list prod:`, `cluster show
//! prod:m2`, `query prod:/1.0`, `config set prod: KEY VALUE`, `config trust add prod:NAME`. Which remote a command goes
//! to is decided here, purely from its arguments and the remotes config.yml knows; an
//! argument without a prefix means the default remote.

use crate::cli::Command;
use crate::commands::cluster::group::GroupCommand as G;
use crate::commands::cluster::{ClusterCommand, RoleCommand};
use crate::commands::config::{ConfigCommand, TrustCommand};
use crate::commands::image::{AliasCommand as A, ImageCommand as I};
use crate::commands::network::NetworkCommand as N;

use super::{Config, RemoteError};

mod instance;

/// `REMOTE` and the rest of `REMOTE:REST`; `None` when `text` has no ':'.
pub fn split(text: &str) -> Option<(&str, &str)> {
    text.split_once(':')
}

/// The remote `command` names (or the default one) and the command with the prefix gone.
pub fn resolve(mut command: Command, config: &Config) -> Result<(String, Command), RemoteError> {
    if let Some(named) = instance::take(&mut command) {
        return Ok((known(config, named?)?, command));
    }
    let named = match slot(&mut command) {
        Slot::Member(name) => take_member(name, "cluster member name")?,
        Slot::Named(name, what) => take_member(name, what)?,
        Slot::Leading(args) => take_leading(args),
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
    /// `[REMOTE:]NAME` of something else than a member (what the name is, for errors).
    Named(&'a mut String, &'static str),
    /// An optional first argument `REMOTE:` before the others (`config set prod: K V`).
    Leading(&'a mut Vec<String>),
    /// `[REMOTE:]` alone.
    RemoteOnly(&'a mut Option<String>),
    /// `[REMOTE:]/API/PATH`.
    Path(&'a mut String),
    /// Nowhere: the command is local (`demo`, `remote`).
    Nothing,
}

fn slot(command: &mut Command) -> Slot<'_> {
    use ClusterCommand as C;
    match command {
        Command::Cluster(cluster) => match cluster {
            C::List { remote, .. } | C::ListTokens { remote, .. } | C::Doctor { remote } => {
                Slot::RemoteOnly(remote)
            }
            C::UpdateCertificate { args } => Slot::Leading(args),
            C::Group(G::List { remote, .. }) => Slot::RemoteOnly(remote),
            C::Group(
                G::Assign { member, .. } | G::Add { member, .. } | G::Remove { member, .. },
            ) => Slot::Member(member),
            C::Group(
                G::Create { group, .. }
                | G::Delete { group }
                | G::Edit { group }
                | G::Rename { group, .. }
                | G::Show { group },
            ) => Slot::Named(group, "cluster group name"),
            C::Show { name }
            | C::Add { name, .. }
            | C::RevokeToken { name }
            | C::Get { name, .. }
            | C::Set { name, .. }
            | C::Unset { name, .. }
            | C::Edit { name }
            | C::Rename { name, .. }
            | C::Remove { name, .. }
            | C::Evacuate { name, .. }
            | C::Restore { name, .. }
            | C::Role(RoleCommand::Add { name, .. } | RoleCommand::Remove { name, .. }) => {
                Slot::Member(name)
            }
        },
        Command::Config(config) => match config {
            ConfigCommand::Show { remote, .. } => Slot::RemoteOnly(remote),
            ConfigCommand::Get { args, .. }
            | ConfigCommand::Set { args, .. }
            | ConfigCommand::Unset { args, .. } => Slot::Leading(args),
            ConfigCommand::Trust(trust) => match trust {
                TrustCommand::List { remote, .. } | TrustCommand::ListTokens { remote, .. } => {
                    Slot::RemoteOnly(remote)
                }
                TrustCommand::Remove { fingerprint } => Slot::Named(fingerprint, "fingerprint"),
                TrustCommand::Add { name, .. } | TrustCommand::RevokeToken { name } => {
                    Slot::Named(name, "client name")
                }
            },
        },
        Command::Image(image) => match image {
            I::Import { remote, .. }
            | I::List { remote, .. }
            | I::Alias(A::List { remote, .. }) => Slot::RemoteOnly(remote),
            I::Show { image }
            | I::Delete { image }
            | I::Export { image, .. }
            | I::Edit { image }
            | I::GetProperty { image, .. }
            | I::SetProperty { image, .. }
            | I::UnsetProperty { image, .. } => Slot::Named(image, "image"),
            I::Alias(A::Create { alias, .. } | A::Delete { alias } | A::Rename { alias, .. }) => {
                Slot::Named(alias, "image alias")
            }
        },
        Command::Network(network) => match network {
            N::List { remote, .. } => Slot::RemoteOnly(remote),
            N::Create { name, .. }
            | N::Show { name, .. }
            | N::Get { name, .. }
            | N::Set { name, .. }
            | N::Unset { name, .. }
            | N::Delete { name } => Slot::Named(name, "network name"),
        },
        Command::Query(args) => Slot::Path(&mut args.path),
        Command::Version { remote } => Slot::RemoteOnly(remote),
        Command::Dashboard(args) => Slot::RemoteOnly(&mut args.remote),
        Command::Monitor(args) => Slot::RemoteOnly(&mut args.remote),
        _ => Slot::Nothing,
    }
}

fn take_member(name: &mut String, what: &str) -> Result<Option<String>, RemoteError> {
    let Some((remote, member)) = split(name) else {
        return Ok(None);
    };
    if member.is_empty() {
        let placeholder = what.rsplit(' ').next().unwrap_or(what).to_uppercase();
        return Err(RemoteError::Refused(format!(
            "Missing {what} after \"{name}\": write {name}{placeholder}"
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

/// A first argument that is exactly `NAME:` names the remote and is taken off; keys never
/// hold ':' and values come after them, so `core.https_address=127.0.0.1:8443` is no remote.
/// An instance's keys (`config set prod:c1 user.x=1`) name it as `REMOTE:INSTANCE`.
fn take_leading(args: &mut Vec<String>) -> Option<String> {
    let first = args.first()?;
    if let Some(name) = first.strip_suffix(':') {
        let remote = name.to_owned();
        if remote.is_empty() || remote.contains([':', '=']) {
            return None;
        }
        args.remove(0);
        return Some(remote);
    }
    let (remote, instance) = split(first)?;
    if args.len() < 2
        || remote.is_empty()
        || first.contains('=')
        || !crate::commands::instance::names_instance(&[instance.to_owned(), String::new()])
    {
        return None;
    }
    let (remote, instance) = (remote.to_owned(), instance.to_owned());
    args[0] = instance;
    Some(remote)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;
    use crate::remote::Remote;

    /// A console with one remote, `prod`.
    pub(super) fn config() -> Config {
        let mut config = Config::default();
        config
            .add("prod", Remote::new("https://10.0.0.1:8443", "tls"))
            .unwrap();
        config
    }

    /// The command a command line parses to.
    pub(super) fn parse(args: &str) -> Command {
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
    fn group_commands_take_their_remote_as_lxc_cluster_group_does() {
        // (command line, remote, the command line it runs as there)
        let cases = [
            ("cluster group list prod:", "prod", "cluster group list"),
            (
                "cluster group show prod:gpu",
                "prod",
                "cluster group show gpu",
            ),
            (
                "cluster group create gpu",
                "local",
                "cluster group create gpu",
            ),
            (
                "cluster group rename prod:gpu fast",
                "prod",
                "cluster group rename gpu fast",
            ),
            (
                "cluster group assign prod:m1 default,gpu",
                "prod",
                "cluster group assign m1 default,gpu",
            ),
            (
                "cluster group add prod:m1 gpu",
                "prod",
                "cluster group add m1 gpu",
            ),
        ];
        for (line, remote, runs) in cases {
            let (got, command) = resolve(parse(line), &config()).unwrap();
            assert_eq!(got, remote, "{line}");
            assert_eq!(command, parse(runs), "{line}");
        }
        let error = resolve(parse("cluster group show prod:"), &config())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("Missing cluster group name after \"prod:\""),
            "{error}"
        );
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
    fn config_commands_take_their_remote_as_lxc_config_does() {
        // (command line, remote, the command line it runs as there)
        let cases: [(&str, &str, &str); 16] = [
            ("config show prod:", "prod", "config show"),
            (
                "config show --target m2 prod:",
                "prod",
                "config show --target m2",
            ),
            (
                "config get prod: core.https_address",
                "prod",
                "config get core.https_address",
            ),
            (
                "config set prod: core.trust_password s",
                "prod",
                "config set core.trust_password s",
            ),
            ("config set prod: a=1 b=2", "prod", "config set a=1 b=2"),
            ("config unset prod: user.x", "prod", "config unset user.x"),
            (
                "config trust list -f yaml prod:",
                "prod",
                "config trust list -f yaml",
            ),
            (
                "config trust list-tokens prod:",
                "prod",
                "config trust list-tokens",
            ),
            (
                "config trust add prod:laptop --quiet",
                "prod",
                "config trust add laptop --quiet",
            ),
            (
                "config trust revoke-token prod:laptop",
                "prod",
                "config trust revoke-token laptop",
            ),
            (
                "config trust remove prod:136ab692cca5",
                "prod",
                "config trust remove 136ab692cca5",
            ),
            // Values with colons are values.
            (
                "config set core.https_address 127.0.0.1:8443",
                "local",
                "config set core.https_address 127.0.0.1:8443",
            ),
            ("config set a=b:c", "local", "config set a=b:c"),
            ("config get k", "local", "config get k"),
            (
                "config set prod:c1 user.x=1",
                "prod",
                "config set c1 user.x=1",
            ),
            ("config get prod:c1 user.x", "prod", "config get c1 user.x"),
        ];
        for (line, remote, runs) in cases {
            let (got, command) = resolve(parse(line), &config()).unwrap();
            assert_eq!(got, remote, "{line}");
            assert_eq!(command, parse(runs), "{line}");
        }
        let error = resolve(parse("config trust add prod:"), &config())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("Missing client name after \"prod:\": write prod:NAME"),
            "{error}"
        );
    }
}
