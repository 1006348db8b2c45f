//! `corral config ...`: the server configuration, as `lxc config` shows and changes it.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Subcommand;
use corral_shared::api::{Server, ServerPut};
use corral_shared::client::Client;
use serde_json::Value;

use crate::commands::args::parse_assignments;
use crate::error::CliError;
use crate::format;

pub mod trust;
pub mod trust_tokens;

pub use trust::TrustCommand;

/// The `config` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ConfigCommand {
    /// Show the server configuration as YAML
    Show {
        /// The remote to ask, written REMOTE: (the default remote when left out)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// The member whose configuration to show (its own keys, e.g. core.https_address)
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Print one configuration value (an empty line when unset)
    Get {
        /// `[REMOTE:] KEY`, e.g. `prod: cluster.max_voters`
        #[arg(required = true, num_args = 1..=2, value_name = "[REMOTE:] KEY")]
        args: Vec<String>,
        /// The member to read a member-specific key of (e.g. core.https_address)
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Set configuration keys: `[REMOTE:] KEY VALUE`, or `[REMOTE:] KEY=VALUE...`
    Set {
        /// `KEY VALUE`, or one or more `KEY=VALUE`, after an optional `REMOTE:`
        #[arg(required = true, num_args = 1.., value_name = "[REMOTE:] KEY[=VALUE]", allow_negative_numbers = true)]
        args: Vec<String>,
        /// The member to set a member-specific key on (e.g. core.https_address)
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Unset a configuration key
    Unset {
        /// `[REMOTE:] KEY`, e.g. `prod: cluster.offline_threshold`
        #[arg(required = true, num_args = 1..=2, value_name = "[REMOTE:] KEY")]
        args: Vec<String>,
        /// The member to unset a member-specific key on
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Manage the trusted certificates
    #[command(subcommand)]
    Trust(TrustCommand),
}

/// Runs a `config` subcommand against the daemon and prints the answer.
pub async fn run(
    client: &Client,
    command: ConfigCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    use super::instance;
    // `config get|set|unset NAME ...` are an instance's keys (lxc's `config` does both).
    match &command {
        ConfigCommand::Get { args, .. } if instance::names_instance(args) => {
            return instance::config_get(client, args, out).await;
        }
        ConfigCommand::Set { args, .. } if instance::names_instance(args) => {
            return instance::config_set(client, args, false).await;
        }
        ConfigCommand::Unset { args, .. } if instance::names_instance(args) => {
            return instance::config_set(client, args, true).await;
        }
        _ => {}
    }
    match command {
        ConfigCommand::Show { target, .. } => {
            let server: Server = client.get(&server_path(target.as_deref())).await?;
            out.write_all(show(server.config)?.as_bytes())?;
        }
        ConfigCommand::Get { args, target } => {
            let key = one_key(&args, "get")?;
            let server: Server = client.get(&server_path(target.as_deref())).await?;
            writeln!(out, "{}", value_text(server.config.get(key)))?;
        }
        ConfigCommand::Set { args, target } => {
            let changes = parse_assignments(&args, "corral config set")?;
            let path = server_path(target.as_deref());
            client.patch(&path, &patch_body(changes), None).await?;
        }
        ConfigCommand::Unset { args, target } => {
            let key = one_key(&args, "unset")?.to_owned();
            let changes = BTreeMap::from([(key, String::new())]);
            let path = server_path(target.as_deref());
            client.patch(&path, &patch_body(changes), None).await?;
        }
        ConfigCommand::Trust(command) => trust::run(client, command, out).await?,
    }
    Ok(())
}

/// The key of `config get|unset` once its remote is taken off: there must be one.
fn one_key<'a>(args: &'a [String], verb: &str) -> Result<&'a str, CliError> {
    match args {
        [key] => Ok(key),
        _ => Err(CliError::Usage(format!(
            "'corral config {verb}' takes one key, after an optional REMOTE: (as in \
             'corral config {verb} prod: cluster.max_voters'); got {}",
            args.join(" ")
        ))),
    }
}

/// The server's path, aimed at member `target` when one is named (LXD's `?target=`: the
/// member asked relays the request to it).
pub fn server_path(target: Option<&str>) -> String {
    match target {
        Some(member) => format!("/1.0?target={}", query_escape(member)),
        None => "/1.0".to_owned(),
    }
}

/// Escapes what a query value may not hold as is (member names are plain; anything else is
/// the daemon's to refuse by name).
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `config show`: the writable part of `/1.0` as YAML.
pub fn show(config: BTreeMap<String, Value>) -> Result<String, CliError> {
    format::yaml::document(&ServerPut { config }).map_err(|e| CliError::encode("YAML", e))
}

/// A value as `config get` prints it: strings bare, `true` for a set password, "" when unset.
pub fn value_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The PATCH body that changes only the given keys; an empty value unsets a key.
pub fn patch_body(changes: BTreeMap<String, String>) -> ServerPut {
    ServerPut {
        config: changes
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[String]) -> Result<BTreeMap<String, String>, CliError> {
        parse_assignments(args, "corral config set")
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn show_matches_lxc() {
        let sample = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/lxd/lxc_config_show.yaml"
        ))
        .unwrap();
        let expected = sample.strip_suffix("[exit status 0]\n").unwrap();
        let config = BTreeMap::from([
            (
                "cluster.https_address".to_string(),
                "127.0.0.11:8443".into(),
            ),
            ("core.https_address".to_string(), "127.0.0.11:8443".into()),
            ("core.trust_password".to_string(), Value::Bool(true)),
        ]);
        assert_eq!(show(config).unwrap(), expected);
        assert_eq!(show(BTreeMap::new()).unwrap(), "config: {}\n");
    }

    #[test]
    fn values_print_bare() {
        assert_eq!(value_text(Some(&"3".into())), "3");
        assert_eq!(value_text(Some(&Value::Bool(true))), "true");
        assert_eq!(value_text(None), "");
    }

    #[test]
    fn both_assignment_forms_are_read() {
        let pair = parse(&args(&["cluster.max_voters", "5"])).unwrap();
        assert_eq!(pair["cluster.max_voters"], "5");
        let many = parse(&args(&["a=1", "b=x=y"])).unwrap();
        assert_eq!(many["a"], "1");
        assert_eq!(many["b"], "x=y");
        let err = parse(&args(&["cluster.max_voters"])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Invalid key=value configuration")
        );
        assert!(parse(&args(&["a=1", "b", "c"])).is_err());
    }

    #[test]
    fn a_target_aims_the_request_at_a_member() {
        assert_eq!(server_path(None), "/1.0");
        assert_eq!(server_path(Some("m2")), "/1.0?target=m2");
        assert_eq!(server_path(Some("a b&c")), "/1.0?target=a%20b%26c");
    }

    #[test]
    fn the_patch_body_carries_only_the_changed_keys() {
        let body = patch_body(BTreeMap::from([("k".to_string(), String::new())]));
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"config":{"k":""}}"#
        );
    }
}
