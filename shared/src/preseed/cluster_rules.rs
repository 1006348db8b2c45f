//! Checks of the `cluster:` section: what a bootstrap, a token join and a password join
//! each need.

use super::validate::{Violation, at, check_name};
use super::{ClusterPreseed, JoinToken, Preseed};
use crate::api::{NETWORK_MEMBER_KEYS, POOL_MEMBER_KEYS};
use crate::config::ListenAddress;

/// Runs every check of the cluster section (nothing when there is none).
pub(crate) fn check(p: &Preseed, out: &mut Vec<Violation>) {
    let Some(c) = &p.cluster else {
        return;
    };
    check_member_config(c, out);
    if !c.enabled {
        if !(c.cluster_address.is_empty()
            && c.cluster_token.is_empty()
            && c.cluster_password.is_empty())
        {
            out.push(Violation::new(
                at!("cluster", "enabled"),
                "",
                "the cluster section says how to join but enabled is false; \
                 set `enabled: true` to join, or remove the joining fields",
            ));
        }
        return;
    }
    if !c.cluster_token.is_empty() {
        check_token_join(p, c, out);
    } else if !c.cluster_address.is_empty() {
        check_password_join(c, out);
    } else {
        check_bootstrap(p, c, out);
    }
}

fn check_member_config(c: &ClusterPreseed, out: &mut Vec<Violation>) {
    for (i, entry) in c.member_config.iter().enumerate() {
        let keys = match entry.entity.as_str() {
            "storage-pool" => POOL_MEMBER_KEYS,
            "network" => NETWORK_MEMBER_KEYS,
            other => {
                out.push(Violation::new(
                    at!("cluster", "member_config", i, "entity"),
                    other,
                    "Value must be storage-pool or network",
                ));
                continue;
            }
        };
        if entry.name.is_empty() {
            out.push(Violation::new(
                at!("cluster", "member_config", i, "name"),
                "",
                format!(
                    "every member_config entry needs the name of its {}",
                    entry.entity
                ),
            ));
        }
        if entry.key.is_empty() || !keys.contains(&entry.key.as_str()) {
            let rule = format!(
                "Value must be a member-specific {} key: one of {}",
                entry.entity,
                keys.join(", ")
            );
            out.push(Violation::new(
                at!("cluster", "member_config", i, "key"),
                &entry.key,
                rule,
            ));
        }
    }
}

fn check_bootstrap(p: &Preseed, c: &ClusterPreseed, out: &mut Vec<Violation>) {
    check_server_name(c, out);
    let address = |key: &str| p.config.get(key).filter(|v| !v.is_empty());
    match (
        address("core.https_address"),
        address("cluster.https_address"),
    ) {
        (None, None) => out.push(Violation::new(
            at!("cluster", "enabled"),
            "",
            "clustering needs core.https_address or cluster.https_address, the address other \
             members reach this one on; set one under config, e.g. core.https_address: \
             10.0.0.1:8443",
        )),
        // A cluster address is copied from core.https_address, which must then be specific.
        (Some(core), None) if ListenAddress::parse(core).is_ok_and(|a| a.is_wildcard()) => {
            out.push(Violation::new(
                at!("config", "core.https_address"),
                core,
                "a cluster cannot be formed on a wildcard address; also set \
                 cluster.https_address to an address other members can reach, e.g. \
                 10.0.0.1:8443",
            ));
        }
        _ => {}
    }
}

fn check_token_join(p: &Preseed, c: &ClusterPreseed, out: &mut Vec<Violation>) {
    match JoinToken::decode(&c.cluster_token) {
        Err(e) => out.push(Violation::new(
            at!("cluster", "cluster_token"),
            "",
            format!("{e}; paste the whole token `corral cluster add <name>` printed"),
        )),
        Ok(token) if !c.server_name.is_empty() && c.server_name != token.server_name => {
            out.push(Violation::new(
                at!("cluster", "server_name"),
                &c.server_name,
                format!(
                    "the join token was issued for \"{}\"; use that name or leave server_name \
                     out, or ask for a token for this name",
                    token.server_name
                ),
            ));
        }
        Ok(_) => {}
    }
    let configured = ["core.https_address", "cluster.https_address"]
        .iter()
        .any(|k| p.config.get(*k).is_some_and(|v| !v.is_empty()));
    if c.server_address.is_empty() && !configured {
        out.push(Violation::new(
            at!("cluster", "server_address"),
            "",
            "joining needs the address other members will reach this one on; set \
             server_address, e.g. 10.0.0.2:8443",
        ));
    }
    check_address("server_address", &c.server_address, out);
}

fn check_password_join(c: &ClusterPreseed, out: &mut Vec<Violation>) {
    check_server_name(c, out);
    check_address("cluster_address", &c.cluster_address, out);
    if c.server_address.is_empty() {
        out.push(Violation::new(
            at!("cluster", "server_address"),
            "",
            "joining needs the address other members will reach this one on; set \
             server_address, e.g. 10.0.0.2:8443",
        ));
    }
    check_address("server_address", &c.server_address, out);
    if c.cluster_certificate.is_empty() && c.cluster_certificate_path.is_empty() {
        out.push(Violation::new(
            at!("cluster", "cluster_certificate"),
            "",
            "joining by address needs the cluster's certificate; set cluster_certificate \
             (PEM) or cluster_certificate_path, or use a cluster_token instead",
        ));
    } else if !c.cluster_certificate.is_empty()
        && !c
            .cluster_certificate
            .contains("-----BEGIN CERTIFICATE-----")
    {
        out.push(Violation::new(
            at!("cluster", "cluster_certificate"),
            "",
            "this is not a PEM certificate; paste the cluster's cluster.crt, starting with \
             -----BEGIN CERTIFICATE-----",
        ));
    }
    if c.cluster_password.is_empty() {
        out.push(Violation::new(
            at!("cluster", "cluster_password"),
            "",
            "joining by address needs the cluster's trust password; set cluster_password, \
             or use a cluster_token instead",
        ));
    }
}

/// The member name: required, a valid name, and not LXD's reserved `none`.
fn check_server_name(c: &ClusterPreseed, out: &mut Vec<Violation>) {
    let name = c.server_name.as_str();
    let rule = if name.is_empty() {
        Some("clustering needs this member's name; set server_name, e.g. node1".to_string())
    } else if name == "none" {
        Some("\"none\" is reserved; choose another member name".to_string())
    } else {
        check_name("member", name).err()
    };
    if let Some(rule) = rule {
        out.push(Violation::new(at!("cluster", "server_name"), name, rule));
    }
}

fn check_address(field: &str, value: &str, out: &mut Vec<Violation>) {
    if value.is_empty() {
        return;
    }
    if let Err(rule) = ListenAddress::parse(value) {
        out.push(Violation::new(at!("cluster", field), value, rule));
    }
}
