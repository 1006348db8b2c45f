//! Changing one member: `get`, `set`, `unset`, `edit`, `rename`, `remove`, `role add|remove`.
//! Changes read the member with its ETag, change the writable part, and PUT it back with
//! `If-Match`, so a concurrent change is refused instead of lost.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use corral_shared::api::{ClusterMember, ClusterMemberPut, Role};
use corral_shared::client::Client;

use super::member_path;
use crate::error::CliError;
use crate::{format, terminal};

/// The member properties reachable by name besides config keys (lxc's `--property`).
pub const PROPERTIES: [&str; 2] = ["description", "failure_domain"];

/// The roles a client may add or remove (the database roles are assigned automatically).
const CHANGEABLE_ROLES: &str = "event-hub or ovn-chassis";

/// Whether `key` names a property rather than a config key: with `--property`, or a
/// property's name (config keys are `scheduler.*`/`user.*`, so the names never collide).
fn names_property(key: &str, property: bool) -> bool {
    property || PROPERTIES.contains(&key)
}

fn no_property(name: &str, key: &str) -> CliError {
    CliError::Usage(format!(
        "The property {key:?} does not exist on cluster member {name:?}; the properties are \
         {}",
        PROPERTIES.join(" and ")
    ))
}

/// `cluster get`: a config value, or a property's with `property` or by its name.
pub fn get_value(member: &ClusterMember, key: &str, property: bool) -> Result<String, CliError> {
    if names_property(key, property) && !member.config.contains_key(key) {
        return match key {
            "description" => Ok(member.description.clone()),
            "failure_domain" => Ok(member.failure_domain.clone()),
            _ => Err(no_property(&member.server_name, key)),
        };
    }
    member.config.get(key).cloned().ok_or_else(|| {
        CliError::Usage(format!(
            "The key {key:?} does not exist on cluster member {:?}",
            member.server_name
        ))
    })
}

/// `cluster set`: applies the assignments; an empty value unsets a config key.
pub fn apply_set(
    put: &mut ClusterMemberPut,
    name: &str,
    changes: BTreeMap<String, String>,
    property: bool,
) -> Result<(), CliError> {
    for (key, value) in changes {
        if names_property(&key, property) {
            match key.as_str() {
                "description" => put.description = value,
                "failure_domain" => put.failure_domain = value,
                _ => return Err(no_property(name, &key)),
            }
        } else if value.is_empty() {
            put.config.remove(&key);
        } else {
            put.config.insert(key, value);
        }
    }
    Ok(())
}

/// `cluster unset`: a property back to empty (the daemon reads an empty failure domain as
/// `default`), or a config key removed.
pub fn apply_unset(
    put: &mut ClusterMemberPut,
    name: &str,
    key: &str,
    property: bool,
) -> Result<(), CliError> {
    apply_set(
        put,
        name,
        BTreeMap::from([(key.to_string(), String::new())]),
        property,
    )
}

/// Reads `ROLE[,ROLE...]`.
pub fn parse_roles(list: &str) -> Result<Vec<Role>, CliError> {
    list.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            serde_json::from_value(serde_json::Value::String(r.to_string())).map_err(|_| {
                CliError::Usage(format!(
                    "Unknown role {r:?}: the roles that can be given are {CHANGEABLE_ROLES}"
                ))
            })
        })
        .collect::<Result<Vec<Role>, CliError>>()
        .and_then(|roles| {
            if roles.is_empty() {
                Err(CliError::Usage(format!(
                    "No role given: name one or more, comma-separated ({CHANGEABLE_ROLES})"
                )))
            } else {
                Ok(roles)
            }
        })
}

/// `cluster role add`: refuses a role the member already has, as lxc does.
pub fn add_roles(put: &mut ClusterMemberPut, name: &str, roles: &[Role]) -> Result<(), CliError> {
    for role in roles {
        if put.roles.contains(role) {
            return Err(CliError::Usage(format!(
                "Member {name:?} already has role {:?}",
                role.as_str()
            )));
        }
        put.roles.push(*role);
    }
    Ok(())
}

/// `cluster role remove`: refuses a role the member does not have.
pub fn remove_roles(
    put: &mut ClusterMemberPut,
    name: &str,
    roles: &[Role],
) -> Result<(), CliError> {
    for role in roles {
        if !put.roles.contains(role) {
            return Err(CliError::Usage(format!(
                "Member {name:?} does not have role {:?}",
                role.as_str()
            )));
        }
        put.roles.retain(|r| r != role);
    }
    Ok(())
}

/// Reads the member, lets `change` edit its writable part, and PUTs it back with If-Match.
pub async fn update(
    client: &Client,
    name: &str,
    change: impl FnOnce(&mut ClusterMemberPut) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let path = member_path(name);
    let (member, etag): (ClusterMember, _) = client.get_with_etag(&path).await?;
    let mut put = member.writable();
    change(&mut put)?;
    client.put(&path, &put, etag.as_deref()).await?;
    Ok(())
}

/// `cluster get`.
pub async fn get(
    client: &Client,
    name: &str,
    key: &str,
    property: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let member: ClusterMember = client.get(&member_path(name)).await?;
    writeln!(out, "{}", get_value(&member, key, property)?)?;
    Ok(())
}

/// `cluster rename`.
pub async fn rename(
    client: &Client,
    name: &str,
    new_name: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let body = serde_json::json!({ "server_name": new_name });
    client.post(&member_path(name), &body).await?;
    writeln!(out, "Member {name} renamed to {new_name}")?;
    Ok(())
}

/// What `cluster remove --force` asks before going on.
pub fn force_warning(name: &str) -> String {
    format!(
        "Removing {name} with --force skips the checks of a normal removal and is meant for a \
         member that is gone for good (dead, or reinstalled).\n\
         If {name} is still running, it is left believing it is a member: it must be reset \
         (its directory wiped) before it can serve again, and whatever only it held \
         (instances, images, volumes) is lost.\n\
         When {name} can still be reached, remove it without --force instead.\n\n\
         Remove {name} by force? (yes/no): "
    )
}

/// `cluster remove`.
pub async fn remove(
    client: &Client,
    name: &str,
    force: bool,
    yes: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if force && !yes {
        if !terminal::stdin_is_terminal() {
            return Err(CliError::Usage(format!(
                "Removing {name} with --force needs a confirmation, and standard input is not \
                 a terminal: add --yes if you mean it"
            )));
        }
        let stdin = std::io::stdin();
        if !terminal::confirm(&force_warning(name), &mut stdin.lock(), out)? {
            return Err(CliError::Failed(format!(
                "Removal of {name} aborted; nothing was changed"
            )));
        }
    }
    let mut path = member_path(name);
    if force {
        path.push_str("?force=1");
    }
    client.delete(&path).await?;
    writeln!(out, "Member {name} removed")?;
    Ok(())
}

/// The comment at the top of `cluster edit`'s file.
fn edit_header(name: &str) -> String {
    format!(
        "### Cluster member {name}: its roles, failure domain, description, config and groups.\n\
         ### Lines starting with '#' are ignored. Save and quit to apply; empty the file to \
         cancel.\n"
    )
}

/// What the editor opens on: the header and the writable part as YAML.
pub fn edit_template(name: &str, put: &ClusterMemberPut) -> Result<String, CliError> {
    let yaml = format::yaml::document(put).map_err(|e| CliError::encode("YAML", e))?;
    Ok(format!("{}\n{yaml}", edit_header(name)))
}

/// Reads an edited (or piped) member YAML.
pub fn parse_member_yaml(text: &str) -> Result<ClusterMemberPut, String> {
    serde_yaml::from_str(text).map_err(|e| format!("the YAML cannot be read: {e}"))
}

/// Whether nothing but comments and blank lines is left.
pub fn is_blank(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#'))
}

/// The marker of the error lines put at the top of the file on a retry.
const ERROR_MARK: &str = "# Error: ";
const ERROR_MORE: &str = "#   ";

/// `text` with `error` as a comment at the top, replacing the previous try's error.
pub fn with_error(text: &str, error: &str) -> String {
    let rest: Vec<&str> = text
        .lines()
        .skip_while(|l| l.starts_with(ERROR_MARK) || l.starts_with(ERROR_MORE))
        .collect();
    let mut out = String::new();
    for (i, line) in error.lines().enumerate() {
        out.push_str(if i == 0 { ERROR_MARK } else { ERROR_MORE });
        out.push_str(line);
        out.push('\n');
    }
    for line in rest {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `cluster edit`: through the editor on a terminal, else the YAML on standard input.
pub async fn edit(client: &Client, name: &str) -> Result<(), CliError> {
    let path = member_path(name);
    if !terminal::stdin_is_terminal() {
        // As lxc: the piped YAML is applied as given, without an ETag (it was not read here).
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        if is_blank(&text) {
            return Err(CliError::Usage(format!(
                "No YAML on standard input: pipe the member's YAML in (start from 'corral \
                 cluster show {name}'), or run 'corral cluster edit {name}' in a terminal to \
                 use an editor"
            )));
        }
        let put = parse_member_yaml(&text).map_err(CliError::Failed)?;
        client.put(&path, &put, None).await?;
        return Ok(());
    }
    let (member, etag): (ClusterMember, _) = client.get_with_etag(&path).await?;
    let text = edit_template(name, &member.writable())?;
    let show = format!("corral cluster show {name}");
    edit_until_saved(client, &path, etag, text, name, &show, parse_member_yaml).await
}

/// Runs the editor on `text` until the server takes what was saved: each failed try (YAML
/// that cannot be read, a refusal, or `what` changed by someone else since `etag`, which
/// `show` shows) is put at the top of the file for the next. An emptied file cancels.
pub async fn edit_until_saved<P: serde::Serialize>(
    client: &Client,
    path: &str,
    mut etag: Option<String>,
    mut text: String,
    what: &str,
    show: &str,
    parse: impl Fn(&str) -> Result<P, String>,
) -> Result<(), CliError> {
    loop {
        text = terminal::edit(&text)?;
        if is_blank(&text) {
            return Err(CliError::Failed(format!(
                "Edit of {what} cancelled (the file was emptied); nothing was changed"
            )));
        }
        let error = match parse(&text) {
            Ok(put) => match client.put(path, &put, etag.as_deref()).await {
                Ok(_) => return Ok(()),
                Err(e) if e.status() == Some(412) => {
                    // Changed meanwhile: saving again overwrites that.
                    etag = client.get_with_etag::<serde_json::Value>(path).await?.1;
                    format!(
                        "{e}\n{what} was changed by someone else while you edited it; \
                         '{show}' shows how. Save again to replace it with this text."
                    )
                }
                Err(e) => e.to_string(),
            },
            Err(e) => e,
        };
        eprintln!("Error: {error}");
        eprintln!("Press Enter to open the editor again, or Ctrl-C to give up");
        if !terminal::wait_for_enter()? {
            return Err(CliError::Failed(error));
        }
        text = with_error(&text, &error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::reference::lxd_sample_output;

    fn node1() -> ClusterMember {
        serde_json::from_str(&lxd_sample_output("query_cluster_members_node1.json")).unwrap()
    }

    fn changes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn get_reads_config_keys_and_properties() {
        let mut member = node1();
        let err = get_value(&member, "scheduler.instance", false).unwrap_err();
        assert_eq!(
            format!("Error: {err}\n"),
            lxd_sample_output("lxc_cluster_get_node1_scheduler.txt")
        );
        member
            .config
            .insert("scheduler.instance".into(), "manual".into());
        assert_eq!(
            get_value(&member, "scheduler.instance", false).unwrap(),
            "manual"
        );
        assert_eq!(
            get_value(&member, "failure_domain", false).unwrap(),
            "default"
        );
        assert_eq!(get_value(&member, "description", true).unwrap(), "");
        let err = get_value(&member, "roles", true).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("The property \"roles\" does not exist")
        );
    }

    #[test]
    fn set_and_unset_change_only_what_they_name() {
        let mut put = node1().writable();
        let before = put.clone();
        apply_set(
            &mut put,
            "node1",
            changes(&[("user.rack", "r1"), ("failure_domain", "az1")]),
            false,
        )
        .unwrap();
        assert_eq!(put.config["user.rack"], "r1");
        assert_eq!(put.failure_domain, "az1");
        assert_eq!((&put.roles, &put.groups), (&before.roles, &before.groups));
        apply_set(&mut put, "node1", changes(&[("description", "top")]), true).unwrap();
        assert_eq!(put.description, "top");
        apply_unset(&mut put, "node1", "user.rack", false).unwrap();
        apply_unset(&mut put, "node1", "failure_domain", false).unwrap();
        assert!(put.config.is_empty());
        assert_eq!(put.failure_domain, "");
        assert!(apply_set(&mut put, "node1", changes(&[("user.x", "1")]), true).is_err());
    }

    #[test]
    fn roles_are_added_and_removed_as_lxc_does() {
        let mut put = node1().writable();
        let err = add_roles(&mut put, "node1", &parse_roles("database").unwrap()).unwrap_err();
        assert_eq!(
            format!("Error: {err}\n"),
            lxd_sample_output("err_lxc_cluster_role_add_node1_database.txt")
        );
        add_roles(
            &mut put,
            "node1",
            &parse_roles("event-hub,ovn-chassis").unwrap(),
        )
        .unwrap();
        assert_eq!(
            put.roles,
            [
                Role::DatabaseLeader,
                Role::Database,
                Role::EventHub,
                Role::OvnChassis
            ]
        );
        remove_roles(&mut put, "node1", &[Role::EventHub]).unwrap();
        let err = remove_roles(&mut put, "node1", &[Role::EventHub]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Member \"node1\" does not have role \"event-hub\""
        );
        assert!(
            parse_roles("gpu")
                .unwrap_err()
                .to_string()
                .contains("event-hub")
        );
        assert!(parse_roles(" , ").is_err());
    }

    #[test]
    fn edit_round_trips_the_writable_part() {
        let put = node1().writable();
        let text = edit_template("node1", &put).unwrap();
        assert!(text.starts_with("### Cluster member node1"));
        assert!(text.ends_with(
            "roles:\n- database-leader\n- database\nfailure_domain: default\n\
             description: \"\"\nconfig: {}\ngroups:\n- default\n"
        ));
        assert_eq!(parse_member_yaml(&text).unwrap(), put);
        // A whole `show` document is accepted: the read-only fields are ignored.
        let shown = lxd_sample_output("lxc_cluster_show_node1.yaml");
        assert_eq!(parse_member_yaml(&shown).unwrap(), put);
        assert!(parse_member_yaml("roles: [gpu]").is_err());
        assert!(is_blank("### header\n\n# more\n"));
        assert!(!is_blank(&text));
    }

    #[test]
    fn retries_show_the_latest_error_on_top() {
        let first = with_error("### header\nroles: []\n", "Cluster members need a group");
        assert_eq!(
            first,
            "# Error: Cluster members need a group\n### header\nroles: []\n"
        );
        let second = with_error(&first, "line one\nline two");
        assert_eq!(
            second,
            "# Error: line one\n#   line two\n### header\nroles: []\n"
        );
    }

    #[test]
    fn force_removal_warns_about_a_member_still_up() {
        let text = force_warning("node2");
        assert!(text.contains("If node2 is still running"));
        assert!(text.ends_with("Remove node2 by force? (yes/no): "));
    }
}
