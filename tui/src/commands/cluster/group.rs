//! `corral cluster group ...`: cluster groups, as `lxc cluster group` manages them. A
//! member's groups change through the member (read with its ETag, PUT back with If-Match),
//! a group's description and members through the group.

use std::io::{Read, Write};

use clap::Subcommand;
use corral_shared::api::{ClusterGroup, ClusterGroupPut, ClusterGroupsPost};
use corral_shared::client::Client;

use super::member::is_blank;
use super::{member, member_path};
use crate::error::CliError;
use crate::format::order::natural_cmp;
use crate::format::{self, Format};
use crate::terminal;

/// The `cluster group` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum GroupCommand {
    /// Set a member's groups (it leaves the others): `assign MEMBER GROUP[,GROUP...]`
    #[command(visible_alias = "apply")]
    Assign {
        /// The member, after its remote's when not the default (`prod:m2`)
        member: String,
        /// GROUP[,GROUP...]
        groups: String,
    },
    /// Add a member to a group (it keeps its other groups)
    Add {
        /// The member, after its remote's when not the default (`prod:m2`)
        member: String,
        /// The group
        group: String,
    },
    /// Take a member out of a group (it must stay in at least one)
    Remove {
        /// The member, after its remote's when not the default (`prod:m2`)
        member: String,
        /// The group
        group: String,
    },
    /// Create a cluster group
    Create {
        /// The group's name, after its remote's when not the default (`prod:gpu`)
        group: String,
        /// Its description
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a cluster group (only an empty one that no instance was placed through)
    #[command(visible_alias = "rm")]
    Delete {
        /// The group's name, after its remote's when not the default (`prod:gpu`)
        group: String,
    },
    /// Edit a group's description and members as YAML (in $EDITOR, or from standard input)
    Edit {
        /// The group's name, after its remote's when not the default (`prod:gpu`)
        group: String,
    },
    /// List the cluster groups
    #[command(visible_alias = "ls")]
    List {
        /// The remote whose groups to list (the default remote when absent)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Rename a cluster group (not `default`)
    #[command(visible_alias = "mv")]
    Rename {
        /// The group's name, after its remote's when not the default (`prod:gpu`)
        group: String,
        /// Its new name
        new_name: String,
    },
    /// Show a group as YAML
    Show {
        /// The group's name, after its remote's when not the default (`prod:gpu`)
        group: String,
    },
}

/// The API path of a group, its name escaped so any name stays one path segment.
pub fn group_path(name: &str) -> String {
    member_path(name).replacen("/1.0/cluster/members/", "/1.0/cluster/groups/", 1)
}

/// Runs a `cluster group` subcommand.
pub async fn run(
    client: &Client,
    command: GroupCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        GroupCommand::Assign { member, groups } => {
            let list = parse_groups(&groups)?;
            member::update(client, &member, |put| {
                put.groups = list;
                Ok(())
            })
            .await?;
            writeln!(
                out,
                "Cluster member {member} added to cluster groups {groups}"
            )?;
        }
        GroupCommand::Add { member, group } => {
            member::update(client, &member, |put| add(&mut put.groups, &member, &group)).await?;
            writeln!(out, "Cluster member {member} added to group {group}")?;
        }
        GroupCommand::Remove { member, group } => {
            member::update(client, &member, |put| {
                remove(&mut put.groups, &member, &group)
            })
            .await?;
            writeln!(out, "Cluster member {member} removed from group {group}")?;
        }
        GroupCommand::Create { group, description } => {
            let post = ClusterGroupsPost {
                name: group.clone(),
                description,
                members: Vec::new(),
            };
            client.post("/1.0/cluster/groups", &post).await?;
            writeln!(out, "Cluster group {group} created")?;
        }
        GroupCommand::Delete { group } => {
            client.delete(&group_path(&group)).await?;
            writeln!(out, "Cluster group {group} deleted")?;
        }
        GroupCommand::Edit { group } => edit(client, &group).await?,
        GroupCommand::List { format, .. } => {
            let groups: Vec<ClusterGroup> = client.get("/1.0/cluster/groups?recursion=1").await?;
            out.write_all(group_list(groups, format)?.as_bytes())?;
        }
        GroupCommand::Rename { group, new_name } => {
            let body = serde_json::json!({ "name": new_name });
            client.post(&group_path(&group), &body).await?;
            writeln!(out, "Cluster group {group} renamed to {new_name}")?;
        }
        GroupCommand::Show { group } => {
            let found: ClusterGroup = client.get(&group_path(&group)).await?;
            let text = format::yaml::document(&found).map_err(|e| CliError::encode("YAML", e))?;
            out.write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

/// Reads `GROUP[,GROUP...]`; an empty list is the daemon's to refuse (LXD's text).
pub fn parse_groups(list: &str) -> Result<Vec<String>, CliError> {
    let groups: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(g) = groups.iter().find(|g| g.starts_with('@')) {
        return Err(CliError::Usage(format!(
            "Cluster group {g:?}: name the group without '@' here ('@' marks a group only in \
             --target)"
        )));
    }
    Ok(groups)
}

/// `cluster group add`: refuses a group the member is in already, as lxc does.
pub fn add(groups: &mut Vec<String>, member: &str, group: &str) -> Result<(), CliError> {
    if groups.iter().any(|g| g == group) {
        return Err(CliError::Usage(format!(
            "Cluster member {member} is already in group {group}"
        )));
    }
    groups.push(group.to_owned());
    Ok(())
}

/// `cluster group remove`: refuses a group the member is not in, as lxc does.
pub fn remove(groups: &mut Vec<String>, member: &str, group: &str) -> Result<(), CliError> {
    if !groups.iter().any(|g| g == group) {
        return Err(CliError::Usage(format!(
            "Cluster group {group} isn't currently applied to {member}"
        )));
    }
    groups.retain(|g| g != group);
    Ok(())
}

/// The columns of `cluster group list`, as lxc names them.
const HEADER: [&str; 3] = ["NAME", "DESCRIPTION", "MEMBERS"];

/// `cluster group list` in `format`, groups by name.
pub fn group_list(mut groups: Vec<ClusterGroup>, format: Format) -> Result<String, CliError> {
    groups.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                g.description.clone(),
                g.members.len().to_string(),
            ]
        })
        .collect();
    format::listing(format, &HEADER, &rows, &groups)
}

/// The comment at the top of `cluster group edit`'s file.
fn edit_header(name: &str) -> String {
    format!(
        "### Cluster group {name}: its description and members.\n\
         ### Lines starting with '#' are ignored. Save and quit to apply; empty the file to \
         cancel.\n"
    )
}

/// Reads an edited (or piped) group YAML.
pub fn parse_group_yaml(text: &str) -> Result<ClusterGroupPut, String> {
    serde_yaml::from_str(text).map_err(|e| format!("the YAML cannot be read: {e}"))
}

/// `cluster group edit`: through the editor on a terminal, else the YAML on standard input.
async fn edit(client: &Client, name: &str) -> Result<(), CliError> {
    let path = group_path(name);
    if !terminal::stdin_is_terminal() {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        if is_blank(&text) {
            return Err(CliError::Usage(format!(
                "No YAML on standard input: pipe the group's YAML in (start from 'corral \
                 cluster group show {name}'), or run 'corral cluster group edit {name}' in a \
                 terminal to use an editor"
            )));
        }
        let put = parse_group_yaml(&text).map_err(CliError::Failed)?;
        client.put(&path, &put, None).await?;
        return Ok(());
    }
    let (group, etag): (ClusterGroup, _) = client.get_with_etag(&path).await?;
    let yaml =
        format::yaml::document(&group.writable()).map_err(|e| CliError::encode("YAML", e))?;
    let text = format!("{}\n{yaml}", edit_header(name));
    let (what, show) = (
        format!("cluster group {name}"),
        format!("corral cluster group show {name}"),
    );
    member::edit_until_saved(client, &path, etag, text, &what, &show, parse_group_yaml).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::reference::lxd_sample_output;

    fn sample_groups(name: &str) -> Vec<ClusterGroup> {
        let mut groups: Vec<ClusterGroup> = serde_json::from_str(&lxd_sample_output(name)).unwrap();
        groups.reverse();
        groups
    }

    #[test]
    fn list_matches_lxc_byte_for_byte() {
        let got = group_list(
            sample_groups("query_cluster_groups_recursion1.json"),
            Format::Table,
        )
        .unwrap();
        assert_eq!(got, lxd_sample_output("lxc_cluster_group_list.txt"));
        let got = group_list(
            sample_groups("query_cluster_groups_recursion1_after_assign.json"),
            Format::Table,
        )
        .unwrap();
        assert_eq!(got, lxd_sample_output("group_list_after_assign.txt"));
    }

    #[test]
    fn show_matches_lxc() {
        let gpu = sample_groups("query_cluster_groups_recursion1_after_assign.json")
            .into_iter()
            .find(|g| g.name == "gpu")
            .unwrap();
        let got = format::yaml::document(&gpu).unwrap();
        assert_eq!(got, lxd_sample_output("group_show_gpu.yaml"));
    }

    #[test]
    fn membership_changes_are_checked_as_lxc_checks_them() {
        let mut groups = vec!["default".to_owned()];
        add(&mut groups, "node1", "gpu").unwrap();
        assert_eq!(groups, ["default", "gpu"]);
        let err = add(&mut groups, "node1", "gpu").unwrap_err().to_string();
        assert!(
            err.contains("Cluster member node1 is already in group gpu"),
            "{err}"
        );
        remove(&mut groups, "node1", "default").unwrap();
        assert_eq!(groups, ["gpu"]);
        let err = remove(&mut groups, "node1", "fpga")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Cluster group fpga isn't currently applied to node1"),
            "{err}"
        );
        assert_eq!(parse_groups("default, gpu,").unwrap(), ["default", "gpu"]);
        assert!(parse_groups("@gpu").is_err());
        assert_eq!(group_path("a b"), "/1.0/cluster/groups/a%20b");
    }
}
