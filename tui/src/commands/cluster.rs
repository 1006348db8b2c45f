//! `corral cluster ...`: the members, as `lxc cluster` shows them.

use std::io::Write;

use clap::Subcommand;
use corral_shared::api::ClusterMember;
use corral_shared::client::Client;

use crate::commands::args::parse_assignments;
use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format};

pub mod certificate;
pub mod doctor;
pub mod evacuate;
pub mod group;
pub mod member;
pub mod tokens;

/// The `cluster` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ClusterCommand {
    /// List the cluster's members
    #[command(visible_alias = "ls")]
    List {
        /// The remote whose cluster to list (the default remote when absent)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show a member's details as YAML
    Show {
        /// The member's name, after its remote's when not the default (`prod:m2`)
        name: String,
    },
    /// Issue a join token for a new member
    Add {
        /// The name the new member will join with (`prod:m4` for another remote)
        name: String,
        /// Print only the token
        #[arg(short, long)]
        quiet: bool,
    },
    /// List the join tokens not used yet
    ListTokens {
        /// The remote whose tokens to list (the default remote when absent)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a member's join token
    RevokeToken {
        /// The member the token was issued for (`prod:m4` for another remote)
        name: String,
    },
    /// Print a member's config value, or a property (description, failure_domain)
    Get {
        /// The member's name, after its remote's when not the default (`prod:m2`)
        name: String,
        /// A config key (scheduler.instance, user.*) or a property name
        key: String,
        /// Get a property rather than a config key
        #[arg(short, long)]
        property: bool,
    },
    /// Set a member's config keys or properties: `KEY VALUE`, or `KEY=VALUE...`
    Set {
        /// The member's name, after its remote's when not the default (`prod:m2`)
        name: String,
        /// `KEY VALUE`, or one or more `KEY=VALUE`
        #[arg(required = true, num_args = 1.., value_name = "KEY[=VALUE]")]
        args: Vec<String>,
        /// Set properties rather than config keys
        #[arg(short, long)]
        property: bool,
    },
    /// Unset a member's config key or property
    Unset {
        /// The member's name, after its remote's when not the default (`prod:m2`)
        name: String,
        /// A config key or a property name
        key: String,
        /// Unset a property rather than a config key
        #[arg(short, long)]
        property: bool,
    },
    /// Edit a member's writable part as YAML (in $EDITOR, or from standard input)
    Edit {
        /// The member's name, after its remote's when not the default (`prod:m2`)
        name: String,
    },
    /// Rename a member
    Rename {
        /// The member's current name (`prod:m2` for another remote)
        name: String,
        /// Its new name
        new_name: String,
    },
    /// Remove a member from the cluster
    #[command(visible_alias = "rm")]
    Remove {
        /// The member's name, after its remote's when not the default (`prod:m2`)
        name: String,
        /// Remove it even if it cannot be reached or cleaned up (last resort)
        #[arg(short, long)]
        force: bool,
        /// Do not ask for confirmation with --force
        #[arg(long)]
        yes: bool,
    },
    /// Add or remove a member's roles (event-hub, ovn-chassis)
    #[command(subcommand)]
    Role(RoleCommand),
    /// Manage cluster groups (sets of members `--target @GROUP` places on)
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Evacuate a member for maintenance: its instances are moved or stopped
    Evacuate {
        /// The member's name
        name: String,
        /// Force every instance to one mode: stop, migrate or live-migrate
        #[arg(long)]
        action: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        force: bool,
        /// Print what would happen to each instance, changing nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Restore an evacuated member: its instances come back and start again
    Restore {
        /// The member's name
        name: String,
        /// skip: only put the member back in service, moving and starting nothing
        #[arg(long)]
        action: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        force: bool,
        /// Print what would happen to each instance, changing nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Replace the cluster certificate on every member: `[REMOTE:] CERT KEY`
    UpdateCertificate {
        /// `[REMOTE:]`, then the PEM certificate file and its PEM key file
        #[arg(required = true, num_args = 2..=3, value_name = "[REMOTE:] CERT KEY")]
        args: Vec<String>,
    },
    /// Explain the cluster's health in plain words, and what to do next
    Doctor {
        /// The remote whose cluster to examine (the default remote when absent)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
    },
}

/// The `cluster role` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum RoleCommand {
    /// Give a member roles
    Add {
        /// The member's name, after its remote's when not the default (`prod:m2`)
        name: String,
        /// ROLE[,ROLE...]
        roles: String,
    },
    /// Take roles away from a member
    #[command(visible_alias = "rm")]
    Remove {
        /// The member's name, after its remote's when not the default (`prod:m2`)
        name: String,
        /// ROLE[,ROLE...]
        roles: String,
    },
}

/// Runs a `cluster` subcommand against the daemon and prints the answer.
pub async fn run(
    client: &Client,
    command: ClusterCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let text = match command {
        ClusterCommand::List { format, .. } => {
            let members: Vec<ClusterMember> =
                client.get("/1.0/cluster/members?recursion=1").await?;
            member_list(members, format)?
        }
        ClusterCommand::Show { name } => {
            let member: ClusterMember = client.get(&member_path(&name)).await?;
            format::yaml::document(&member).map_err(|e| CliError::encode("YAML", e))?
        }
        ClusterCommand::Add { name, quiet } => return tokens::add(client, &name, quiet, out).await,
        ClusterCommand::ListTokens { format, .. } => {
            return tokens::list(client, format, out).await;
        }
        ClusterCommand::RevokeToken { name } => return tokens::revoke(client, &name, out).await,
        ClusterCommand::Get {
            name,
            key,
            property,
        } => return member::get(client, &name, &key, property, out).await,
        ClusterCommand::Set {
            name,
            args,
            property,
        } => {
            let changes = parse_assignments(&args, "corral cluster set NAME")?;
            member::update(client, &name, |put| {
                member::apply_set(put, &name, changes, property)
            })
            .await?;
            return Ok(());
        }
        ClusterCommand::Unset {
            name,
            key,
            property,
        } => {
            member::update(client, &name, |put| {
                member::apply_unset(put, &name, &key, property)
            })
            .await?;
            return Ok(());
        }
        ClusterCommand::Edit { name } => return member::edit(client, &name).await,
        ClusterCommand::Rename { name, new_name } => {
            return member::rename(client, &name, &new_name, out).await;
        }
        ClusterCommand::Remove { name, force, yes } => {
            return member::remove(client, &name, force, yes, out).await;
        }
        ClusterCommand::Doctor { .. } => return doctor::run(client, out).await,
        ClusterCommand::UpdateCertificate { args } => {
            return certificate::update(client, &args, out).await;
        }
        ClusterCommand::Group(cmd) => return group::run(client, cmd, out).await,
        ClusterCommand::Evacuate {
            name,
            action,
            force,
            dry_run,
        } => {
            let request = evacuate::Request {
                name,
                action: "evacuate",
                mode: action,
                force,
                dry_run,
            };
            return evacuate::run(client, request, out).await;
        }
        ClusterCommand::Restore {
            name,
            action,
            force,
            dry_run,
        } => {
            let request = evacuate::Request {
                name,
                action: "restore",
                mode: action,
                force,
                dry_run,
            };
            return evacuate::run(client, request, out).await;
        }
        ClusterCommand::Role(RoleCommand::Add { name, roles }) => {
            let roles = member::parse_roles(&roles)?;
            member::update(client, &name, |put| member::add_roles(put, &name, &roles)).await?;
            return Ok(());
        }
        ClusterCommand::Role(RoleCommand::Remove { name, roles }) => {
            let roles = member::parse_roles(&roles)?;
            member::update(client, &name, |put| {
                member::remove_roles(put, &name, &roles)
            })
            .await?;
            return Ok(());
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// The columns of `cluster list`, as lxc names them.
const HEADER: [&str; 8] = [
    "NAME",
    "URL",
    "ROLES",
    "ARCHITECTURE",
    "FAILURE DOMAIN",
    "DESCRIPTION",
    "STATE",
    "MESSAGE",
];

/// `cluster list` in `format`, members in natural name order (node2 before node10).
pub fn member_list(mut members: Vec<ClusterMember>, format: Format) -> Result<String, CliError> {
    members.sort_by(|a, b| natural_cmp(&a.server_name, &b.server_name));
    // One role per line inside a table cell; CSV keeps them on one line instead.
    let role_separator = if format == Format::Csv { "," } else { "\n" };
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
            vec![
                m.server_name.clone(),
                m.url.clone(),
                roles.join(role_separator),
                m.architecture.clone(),
                m.failure_domain.clone(),
                m.description.clone(),
                m.status.to_string().to_uppercase(),
                m.message.clone(),
            ]
        })
        .collect();
    format::listing(format, &HEADER, &rows, &members)
}

/// The API path of a member, its name escaped so any name stays one path segment.
pub fn member_path(name: &str) -> String {
    let mut path = String::from("/1.0/cluster/members/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::reference::lxd_sample_output;

    /// The three members of the sample cluster, in an order the command must fix.
    fn members() -> Vec<ClusterMember> {
        let mut members: Vec<ClusterMember> =
            serde_json::from_str(&lxd_sample_output("query_cluster_members_recursion1.json"))
                .unwrap();
        members.reverse();
        members
    }

    #[test]
    fn table_matches_lxc_byte_for_byte() {
        let got = member_list(members(), Format::Table).unwrap();
        assert_eq!(got, lxd_sample_output("lxc_cluster_list.txt"));
    }

    #[test]
    fn evacuated_table_matches_lxc() {
        let mut members = members();
        let node2 = members
            .iter_mut()
            .find(|m| m.server_name == "node2")
            .unwrap();
        node2.status = corral_shared::api::MemberStatus::Evacuated;
        node2.message = "Unavailable due to maintenance".into();
        let got = member_list(members, Format::Table).unwrap();
        assert_eq!(
            got,
            lxd_sample_output("inst_lxc_cluster_list_evacuated.txt")
        );
    }

    #[test]
    fn csv_matches_lxc() {
        let got = member_list(members(), Format::Csv).unwrap();
        assert_eq!(got, lxd_sample_output("lxc_cluster_list_csv.csv"));
    }

    #[test]
    fn yaml_matches_lxc() {
        let got = member_list(members(), Format::Yaml).unwrap();
        assert_eq!(got, lxd_sample_output("lxc_cluster_list_yaml.yaml"));
    }

    #[test]
    fn json_is_the_member_array() {
        let got = member_list(members(), Format::Json).unwrap();
        let back: Vec<ClusterMember> = serde_json::from_str(&got).unwrap();
        assert_eq!(back[0].server_name, "node1");
        assert!(got.ends_with("}]\n") && !got.trim_end().contains('\n'));
    }

    #[test]
    fn show_matches_lxc() {
        let member: ClusterMember =
            serde_json::from_str(&lxd_sample_output("query_cluster_members_node1.json")).unwrap();
        let got = format::yaml::document(&member).unwrap();
        assert_eq!(got, lxd_sample_output("lxc_cluster_show_node1.yaml"));
    }

    #[test]
    fn names_sort_naturally_and_paths_are_escaped() {
        let mut names = vec!["node10", "node9", "node1", "alpha"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["alpha", "node1", "node9", "node10"]);
        assert_eq!(member_path("node1"), "/1.0/cluster/members/node1");
        assert_eq!(member_path("a b/c"), "/1.0/cluster/members/a%20b%2Fc");
    }
}
