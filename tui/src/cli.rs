//! The command line: `corral <family> <action> ...`, worded as `lxc`'s.

use std::ffi::OsString;
use std::path::Path;

use clap::{Parser, Subcommand};

use crate::commands::cluster::ClusterCommand;
use crate::commands::config::ConfigCommand;
use crate::commands::dashboard::DashboardArgs;
use crate::commands::demo::DemoArgs;
use crate::commands::dial_stdio::DialStdioArgs;
use crate::commands::image::ImageCommand;
use crate::commands::instance::moves::MoveArgs;
use crate::commands::instance::{CreateArgs, ExecArgs, FileCommand, StopArgs};
use crate::commands::monitor::MonitorArgs;
use crate::commands::network::NetworkCommand;
use crate::commands::query::QueryArgs;
use crate::commands::remote::RemoteCommand;
use crate::commands::storage::StorageCommand;

/// corral: the Corral operator console. It talks to the local daemon found through CORRAL_DIR,
/// or to the remote a command names (`REMOTE:`) or `corral remote switch` made the default.
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
    /// Manage networks defined once for the cluster, created on every member
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage storage pools defined once for the cluster, and their custom volumes
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Create an instance from an image, without starting it
    Init(CreateArgs),
    /// Create an instance from an image and start it
    Launch(CreateArgs),
    /// Start instances
    Start {
        /// The instances
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop instances (cleanly within a timeout, then by force)
    Stop(StopArgs),
    /// Restart instances
    Restart(StopArgs),
    /// Delete instances
    #[command(visible_alias = "rm")]
    Delete {
        /// The instances
        #[arg(required = true)]
        names: Vec<String>,
        /// Stop them first if they run
        #[arg(short, long)]
        force: bool,
    },
    /// List the instances, with the member holding each
    #[command(visible_alias = "ls")]
    List {
        /// The remote whose instances to list (the default remote when absent)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = crate::format::Format::Table)]
        format: crate::format::Format,
    },
    /// Move a stopped instance to another member (--target), or rename it
    #[command(visible_alias = "mv")]
    Move(MoveArgs),
    /// Rename a stopped instance
    Rename {
        /// The instance
        name: String,
        /// Its new name
        new_name: String,
    },
    /// Show an instance's details and state
    Info {
        /// The instance
        name: String,
    },
    /// Run a command in an instance: `corral exec c1 -- ls /`
    Exec(ExecArgs),
    /// Copy files into and out of instances
    #[command(subcommand)]
    File(FileCommand),
    /// Manage images: import, list, show, delete, aliases
    #[command(subcommand)]
    Image(ImageCommand),
    /// Send a raw request to the REST API
    Query(QueryArgs),
    /// Show the client and server versions
    Version {
        /// The remote whose server version to show (the default remote when absent)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
    },
    /// Manage the list of remote servers (HTTPS and SSH), as `lxc remote` does
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Start a three-member cluster on loopback to try Corral (Ctrl-C stops and removes it)
    Demo(DemoArgs),
    /// Watch and manage the cluster live, full screen (q quits, ? lists the keys)
    Dashboard(DashboardArgs),
    /// Print the cluster's events as they happen, as `lxc monitor` does (Ctrl-C stops)
    Monitor(MonitorArgs),
    /// Join standard input and output to the local daemon's socket (SSH remotes run it)
    DialStdio(DialStdioArgs),
}

/// The daemon's name: `corral` run under it (argv[0] `corrald`, as `corral demo` starts its
/// members, or through a `corrald -> corral` link) is the daemon, as is `corral corrald ...`.
pub const DAEMON: &str = "corrald";

/// corrald's command line when `args` (argv, program name first) asks for the daemon rather
/// than the console: the same arguments under argv[0] `corrald`, or those after `corral
/// corrald`. `None` for every console command.
pub fn daemon_args(args: Vec<OsString>) -> Option<Vec<OsString>> {
    let program = args.first()?;
    if Path::new(program).file_name() == Some(DAEMON.as_ref()) {
        return Some(args);
    }
    match args.get(1) {
        Some(first) if first == DAEMON => Some(args.into_iter().skip(1).collect()),
        _ => None,
    }
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
                remote: None,
                format: Format::Table
            })
        );
        assert_eq!(
            parse(&["cluster", "ls", "--format", "csv"]),
            Command::Cluster(ClusterCommand::List {
                remote: None,
                format: Format::Csv
            })
        );
        assert_eq!(
            parse(&["cluster", "list", "-f", "yaml"]),
            Command::Cluster(ClusterCommand::List {
                remote: None,
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
    fn member_commands_parse() {
        use crate::commands::cluster::RoleCommand;
        assert_eq!(
            parse(&["cluster", "add", "node4", "--quiet"]),
            Command::Cluster(ClusterCommand::Add {
                name: "node4".into(),
                quiet: true
            })
        );
        assert_eq!(
            parse(&["cluster", "list-tokens", "-f", "csv"]),
            Command::Cluster(ClusterCommand::ListTokens {
                remote: None,
                format: Format::Csv
            })
        );
        assert_eq!(
            parse(&["cluster", "revoke-token", "node9"]),
            Command::Cluster(ClusterCommand::RevokeToken {
                name: "node9".into()
            })
        );
        assert_eq!(
            parse(&["cluster", "get", "node1", "failure_domain"]),
            Command::Cluster(ClusterCommand::Get {
                name: "node1".into(),
                key: "failure_domain".into(),
                property: false
            })
        );
        assert_eq!(
            parse(&["cluster", "set", "node1", "-p", "description", "top rack"]),
            Command::Cluster(ClusterCommand::Set {
                name: "node1".into(),
                args: vec!["description".into(), "top rack".into()],
                property: true
            })
        );
        assert_eq!(
            parse(&["cluster", "unset", "node1", "user.x", "--property"]),
            Command::Cluster(ClusterCommand::Unset {
                name: "node1".into(),
                key: "user.x".into(),
                property: true
            })
        );
        assert_eq!(
            parse(&["cluster", "edit", "node1"]),
            Command::Cluster(ClusterCommand::Edit {
                name: "node1".into()
            })
        );
        assert_eq!(
            parse(&["cluster", "rename", "node1", "alpha"]),
            Command::Cluster(ClusterCommand::Rename {
                name: "node1".into(),
                new_name: "alpha".into()
            })
        );
        assert_eq!(
            parse(&["cluster", "rm", "node2", "--force", "--yes"]),
            Command::Cluster(ClusterCommand::Remove {
                name: "node2".into(),
                force: true,
                yes: true
            })
        );
        assert_eq!(
            parse(&["cluster", "role", "add", "node1", "event-hub,ovn-chassis"]),
            Command::Cluster(ClusterCommand::Role(RoleCommand::Add {
                name: "node1".into(),
                roles: "event-hub,ovn-chassis".into()
            }))
        );
        assert_eq!(
            parse(&["cluster", "role", "remove", "node1", "event-hub"]),
            Command::Cluster(ClusterCommand::Role(RoleCommand::Remove {
                name: "node1".into(),
                roles: "event-hub".into()
            }))
        );
        assert!(Cli::try_parse_from(["corral", "cluster", "set", "node1"]).is_err());
        assert!(Cli::try_parse_from(["corral", "cluster", "rename", "node1"]).is_err());
    }

    #[test]
    fn trust_and_demo_parse() {
        use crate::commands::config::TrustCommand;
        use crate::commands::demo::DemoArgs;
        assert_eq!(
            parse(&["config", "trust", "list", "--format", "yaml"]),
            Command::Config(ConfigCommand::Trust(TrustCommand::List {
                remote: None,
                format: Format::Yaml
            }))
        );
        assert_eq!(
            parse(&["config", "trust", "remove", "136ab692cca5"]),
            Command::Config(ConfigCommand::Trust(TrustCommand::Remove {
                fingerprint: "136ab692cca5".into()
            }))
        );
        assert_eq!(
            parse(&["demo"]),
            Command::Demo(DemoArgs {
                keep_dir: false,
                exit_after_formation: false
            })
        );
        assert_eq!(
            parse(&["demo", "--keep-dir", "--exit-after-formation"]),
            Command::Demo(DemoArgs {
                keep_dir: true,
                exit_after_formation: true
            })
        );
        let help = Cli::command()
            .find_subcommand_mut("demo")
            .unwrap()
            .render_help()
            .to_string();
        assert!(help.contains("--keep-dir") && !help.contains("exit-after-formation"));
    }

    #[test]
    fn config_commands_parse() {
        assert_eq!(
            parse(&["config", "set", "cluster.max_voters", "5"]),
            Command::Config(ConfigCommand::Set {
                args: vec!["cluster.max_voters".into(), "5".into()],
                target: None
            })
        );
        // -1 is a value (cluster.images_minimal_replica's "all members"), not a flag.
        assert_eq!(
            parse(&["config", "set", "cluster.images_minimal_replica", "-1"]),
            Command::Config(ConfigCommand::Set {
                args: vec!["cluster.images_minimal_replica".into(), "-1".into()],
                target: None
            })
        );
        assert_eq!(
            parse(&["config", "set", "a=1", "b=2"]),
            Command::Config(ConfigCommand::Set {
                args: vec!["a=1".into(), "b=2".into()],
                target: None
            })
        );
        assert_eq!(
            parse(&["config", "unset", "a"]),
            Command::Config(ConfigCommand::Unset {
                args: vec!["a".into()],
                target: None
            })
        );
        assert_eq!(
            parse(&["config", "get", "a"]),
            Command::Config(ConfigCommand::Get {
                args: vec!["a".into()],
                target: None
            })
        );
        assert_eq!(
            parse(&["config", "show"]),
            Command::Config(ConfigCommand::Show {
                remote: None,
                target: None
            })
        );
        assert!(Cli::try_parse_from(["corral", "config", "set"]).is_err());
        assert!(Cli::try_parse_from(["corral", "config", "get", "a", "b", "c"]).is_err());
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
        assert_eq!(parse(&["version"]), Command::Version { remote: None });
    }

    #[test]
    fn dashboard_parses_and_takes_one_remote() {
        assert_eq!(
            parse(&["dashboard"]),
            Command::Dashboard(DashboardArgs::default())
        );
        assert_eq!(
            parse(&["dashboard", "prod:"]),
            Command::Dashboard(DashboardArgs {
                remote: Some("prod:".into()),
                ..DashboardArgs::default()
            })
        );
        assert!(Cli::try_parse_from(["corral", "dashboard", "a:", "b:"]).is_err());
    }

    #[test]
    fn remote_commands_parse_as_lxc_remote() {
        use crate::commands::remote::RemoteCommand;
        assert_eq!(
            parse(&[
                "remote",
                "add",
                "prod",
                "10.0.0.1",
                "--accept-certificate",
                "--password",
                "s"
            ]),
            Command::Remote(RemoteCommand::Add {
                name: "prod".into(),
                address: "10.0.0.1".into(),
                token: None,
                password: Some("s".into()),
                accept_certificate: true,
            })
        );
        assert_eq!(
            parse(&["remote", "ls", "-f", "csv"]),
            Command::Remote(RemoteCommand::List {
                format: Format::Csv
            })
        );
        assert_eq!(
            parse(&["remote", "set-default", "prod"]),
            Command::Remote(RemoteCommand::Switch {
                name: "prod".into()
            })
        );
        assert_eq!(
            parse(&["remote", "mv", "a", "b"]),
            Command::Remote(RemoteCommand::Rename {
                name: "a".into(),
                new_name: "b".into()
            })
        );
        assert_eq!(
            parse(&["remote", "get-default"]),
            Command::Remote(RemoteCommand::GetDefault)
        );
        assert_eq!(
            parse(&["remote", "set-url", "prod", "ssh://lab"]),
            Command::Remote(RemoteCommand::SetUrl {
                name: "prod".into(),
                url: "ssh://lab".into()
            })
        );
        assert!(Cli::try_parse_from(["corral", "remote", "add", "prod"]).is_err());
    }

    #[test]
    fn corral_is_the_daemon_under_its_name_or_its_subcommand() {
        let argv = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        let cases: [(&[&str], Option<&[&str]>); 8] = [
            (&["corral", "cluster", "list"], None),
            (&["corral"], None),
            (&[], None),
            // Console commands whose arguments merely mention the daemon.
            (&["corral", "query", "corrald"], None),
            (&["/usr/bin/corrald-helper"], None),
            (
                &["corral", "corrald", "init", "--preseed", "p.yaml"],
                Some(&["corrald", "init", "--preseed", "p.yaml"]),
            ),
            (&["corrald"], Some(&["corrald"])),
            (
                &["/tmp/x/corrald", "waitready"],
                Some(&["/tmp/x/corrald", "waitready"]),
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(daemon_args(argv(args)), expected.map(argv), "{args:?}");
        }
    }
}
