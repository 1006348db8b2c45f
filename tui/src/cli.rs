//! The command line: `corral <family> <action> ...`, worded as `lxc`'s.

use clap::{Parser, Subcommand};

use crate::commands::cluster::ClusterCommand;
use crate::commands::config::ConfigCommand;
use crate::commands::query::QueryArgs;

/// corral: the Corral operator console. It talks to the local daemon found through CORRAL_DIR.
#[derive(Debug, Parser)]
#[command(name = "corral", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command families.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Manage the cluster and its members
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Show and change the server configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Send a raw request to the REST API
    Query(QueryArgs),
    /// Show the client and server versions
    Version,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::format::Format;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("corral").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cluster_commands_parse() {
        assert_eq!(
            parse(&["cluster", "list"]),
            Command::Cluster(ClusterCommand::List {
                format: Format::Table
            })
        );
        assert_eq!(
            parse(&["cluster", "ls", "--format", "csv"]),
            Command::Cluster(ClusterCommand::List {
                format: Format::Csv
            })
        );
        assert_eq!(
            parse(&["cluster", "list", "-f", "yaml"]),
            Command::Cluster(ClusterCommand::List {
                format: Format::Yaml
            })
        );
        assert_eq!(
            parse(&["cluster", "show", "node1"]),
            Command::Cluster(ClusterCommand::Show {
                name: "node1".into()
            })
        );
        assert!(Cli::try_parse_from(["corral", "cluster", "list", "--format", "xml"]).is_err());
    }

    #[test]
    fn config_commands_parse() {
        assert_eq!(
            parse(&["config", "set", "cluster.max_voters", "5"]),
            Command::Config(ConfigCommand::Set {
                args: vec!["cluster.max_voters".into(), "5".into()]
            })
        );
        assert_eq!(
            parse(&["config", "set", "a=1", "b=2"]),
            Command::Config(ConfigCommand::Set {
                args: vec!["a=1".into(), "b=2".into()]
            })
        );
        assert_eq!(
            parse(&["config", "unset", "a"]),
            Command::Config(ConfigCommand::Unset { key: "a".into() })
        );
        assert_eq!(
            parse(&["config", "get", "a"]),
            Command::Config(ConfigCommand::Get { key: "a".into() })
        );
        assert_eq!(
            parse(&["config", "show"]),
            Command::Config(ConfigCommand::Show)
        );
        assert!(Cli::try_parse_from(["corral", "config", "set"]).is_err());
    }

    #[test]
    fn query_parses_as_lxc_query() {
        let Command::Query(args) = parse(&[
            "query", "-X", "PATCH", "-d", "{}", "--wait", "--raw", "/1.0",
        ]) else {
            panic!("not a query");
        };
        assert_eq!(args.method, "PATCH");
        assert_eq!(args.data.as_deref(), Some("{}"));
        assert!(args.wait && args.raw);
        assert_eq!(args.path, "/1.0");
        let Command::Query(args) = parse(&["query", "/1.0/cluster"]) else {
            panic!("not a query");
        };
        assert_eq!(args.method, "GET");
        assert_eq!(parse(&["version"]), Command::Version);
    }
}
