//! `corral network ...`: networks defined once for the cluster and created on every
//! member, as `lxc network` manages them (two-phase creation with `--target`).

use std::collections::BTreeMap;
use std::io::Write;

use clap::Subcommand;
use corral_shared::api::{Network, NetworkPut, NetworksPost};
use corral_shared::client::Client;

use crate::commands::args::parse_assignments;
use crate::commands::two_phase::{self, Writable, aimed, segment};
use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format};

/// The `network` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum NetworkCommand {
    /// Define a network on one member (--target), or create it on every member
    Create {
        /// The network's name (the bridge's interface name on each member)
        name: String,
        /// Config keys, KEY=VALUE
        #[arg(value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// The network type (only bridge)
        #[arg(long = "type", short = 't', default_value = "bridge")]
        kind: String,
        /// The member to define the network on, with its member-specific keys
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
        /// Free text
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the networks
    #[command(visible_alias = "ls")]
    List {
        /// The remote whose networks to list (the default remote when absent)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show a network as YAML
    Show {
        /// The network's name, after its remote's when not the default (`prod:n1`)
        name: String,
        /// The member whose own keys and state to show
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Print one config value (an empty line when unset)
    Get {
        /// The network's name, after its remote's when not the default (`prod:n1`)
        name: String,
        /// The key
        key: String,
        /// The member whose own key to read
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Set config keys: NAME KEY VALUE, or NAME KEY=VALUE...
    Set {
        /// The network's name, after its remote's when not the default (`prod:n1`)
        name: String,
        /// `KEY VALUE`, or one or more `KEY=VALUE`
        #[arg(required = true, num_args = 1.., value_name = "KEY[=VALUE]")]
        args: Vec<String>,
        /// The member to set a member-specific key on
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Unset a config key
    Unset {
        /// The network's name, after its remote's when not the default (`prod:n1`)
        name: String,
        /// The key
        key: String,
        /// The member to unset a member-specific key on
        #[arg(long, value_name = "MEMBER")]
        target: Option<String>,
    },
    /// Delete a network (its bridge goes from every member)
    #[command(visible_alias = "rm")]
    Delete {
        /// The network's name, after its remote's when not the default (`prod:n1`)
        name: String,
    },
}

/// `lxc network list`'s columns.
pub const HEADER: [&str; 8] = [
    "NAME",
    "TYPE",
    "MANAGED",
    "IPV4",
    "IPV6",
    "DESCRIPTION",
    "USED BY",
    "STATE",
];

/// Runs a `network` subcommand and prints the answer.
pub async fn run(
    client: &Client,
    command: NetworkCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        NetworkCommand::Create {
            name,
            config,
            kind,
            target,
            description,
        } => {
            let config = if config.is_empty() {
                BTreeMap::new()
            } else {
                parse_assignments(&config, "corral network create NAME")?
            };
            let post = NetworksPost {
                name: name.clone(),
                description,
                kind,
                config,
            };
            client
                .post(&aimed("/1.0/networks", target.as_deref()), &post)
                .await?;
            out.write_all(created(&name, target.as_deref()).as_bytes())?;
        }
        NetworkCommand::List { format, .. } => {
            let nets: Vec<Network> = client.get("/1.0/networks?recursion=1").await?;
            out.write_all(list(nets, format)?.as_bytes())?;
        }
        NetworkCommand::Show { name, target } => {
            let net: Network = client
                .get(&aimed(&net_path(&name), target.as_deref()))
                .await?;
            let yaml = format::yaml::document(&net).map_err(|e| CliError::encode("YAML", e))?;
            out.write_all(yaml.as_bytes())?;
        }
        NetworkCommand::Get { name, key, target } => {
            let net: Network = client
                .get(&aimed(&net_path(&name), target.as_deref()))
                .await?;
            writeln!(out, "{}", net.config.get(&key).cloned().unwrap_or_default())?;
        }
        NetworkCommand::Set { name, args, target } => {
            let changes = parse_assignments(&args, "corral network set NAME")?;
            edit(client, &name, target.as_deref(), |config| {
                config.extend(changes);
            })
            .await?;
        }
        NetworkCommand::Unset { name, key, target } => {
            edit(client, &name, target.as_deref(), |config| {
                config.remove(&key);
            })
            .await?;
        }
        NetworkCommand::Delete { name } => {
            client.delete(&net_path(&name)).await?;
            writeln!(out, "Network {name} deleted")?;
        }
    }
    Ok(())
}

impl Writable for Network {
    type Put = NetworkPut;
    fn into_put(self, change: impl FnOnce(&mut BTreeMap<String, String>)) -> NetworkPut {
        let mut put = NetworkPut {
            config: self.config,
            description: self.description,
        };
        change(&mut put.config);
        put
    }
}

/// Reads the network (as `target` sees it), changes its config, and writes it back guarded
/// by the ETag read, as lxc does.
async fn edit(
    client: &Client,
    name: &str,
    target: Option<&str>,
    change: impl FnOnce(&mut BTreeMap<String, String>),
) -> Result<(), CliError> {
    two_phase::edit::<Network>(client, &aimed(&net_path(name), target), change).await
}

/// What `network create` prints.
pub fn created(name: &str, target: Option<&str>) -> String {
    two_phase::created("Network", name, target)
}

/// `network list` in `format`, networks in natural name order.
pub fn list(mut nets: Vec<Network>, format: Format) -> Result<String, CliError> {
    nets.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let rows: Vec<Vec<String>> = nets
        .iter()
        .map(|n| {
            let managed = if n.managed { "YES" } else { "NO" };
            vec![
                n.name.clone(),
                n.kind.clone(),
                managed.to_owned(),
                n.config.get("ipv4.address").cloned().unwrap_or_default(),
                n.config.get("ipv6.address").cloned().unwrap_or_default(),
                n.description.clone(),
                n.used_by.len().to_string(),
                n.status.to_uppercase(),
            ]
        })
        .collect();
    format::listing(format, &HEADER, &rows, &nets)
}

/// A network's API path, its name escaped so it stays one path segment.
pub fn net_path(name: &str) -> String {
    format!("/1.0/networks/{}", segment(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, status: &str, config: &[(&str, &str)]) -> Network {
        Network {
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            description: String::new(),
            name: name.into(),
            kind: "bridge".into(),
            used_by: vec![],
            managed: true,
            status: status.into(),
            locations: vec![],
        }
    }

    #[test]
    fn list_has_lxcs_columns() {
        let text = list(
            vec![
                net("n10", "Pending", &[]),
                net(
                    "n2",
                    "Created",
                    &[("ipv4.address", "10.9.0.1/24"), ("ipv6.address", "none")],
                ),
            ],
            Format::Csv,
        )
        .unwrap();
        assert_eq!(
            text,
            "n2,bridge,YES,10.9.0.1/24,none,,0,CREATED\nn10,bridge,YES,,,,0,PENDING\n"
        );
        let table = list(vec![net("n1", "Errored", &[])], Format::Table).unwrap();
        assert_eq!(
            table,
            "+------+--------+---------+------+------+-------------+---------+---------+\n\
             | NAME |  TYPE  | MANAGED | IPV4 | IPV6 | DESCRIPTION | USED BY |  STATE  |\n\
             +------+--------+---------+------+------+-------------+---------+---------+\n\
             | n1   | bridge | YES     |      |      |             | 0       | ERRORED |\n\
             +------+--------+---------+------+------+-------------+---------+---------+\n"
        );
    }

    #[test]
    fn show_has_lxds_field_order() {
        let mut n = net("n1", "Created", &[("ipv4.address", "10.9.0.1/24")]);
        n.locations = vec!["node1".into(), "node2".into()];
        let yaml = format::yaml::document(&n).unwrap();
        assert_eq!(
            yaml,
            "config:\n  ipv4.address: 10.9.0.1/24\ndescription: \"\"\nname: n1\ntype: bridge\n\
             used_by: []\nmanaged: true\nstatus: Created\nlocations:\n- node1\n- node2\n"
        );
    }

    #[test]
    fn create_says_what_lxc_says() {
        assert_eq!(
            created("n1", Some("node1")),
            "Network n1 pending on member node1\n"
        );
        assert_eq!(created("n1", None), "Network n1 created\n");
    }

    #[test]
    fn paths_escape_and_aim() {
        assert_eq!(
            aimed(&net_path("n1"), Some("node2")),
            "/1.0/networks/n1?target=node2"
        );
        assert_eq!(aimed("/1.0/networks", None), "/1.0/networks");
        assert_eq!(net_path("a b"), "/1.0/networks/a%20b");
    }
}
