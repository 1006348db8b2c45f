//! Member-specific configuration: the keys of storage pools and networks that differ per
//! member (a pool's `source`, a bridge's external interfaces ...). `GET /1.0/cluster` lists
//! them; a joiner must answer each, and nothing else.

use corral_shared::api::MemberConfigKey;

use crate::db::global::queries::NamedEntity;

fn pool_keys(driver: &str) -> &'static [&'static str] {
    match driver {
        "dir" => &["source"],
        "btrfs" => &["size", "source"],
        "lvm" => &["lvm.thinpool_name", "lvm.vg_name", "size", "source"],
        "zfs" => &["size", "source", "zfs.pool_name"],
        _ => &[],
    }
}

fn network_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "bridge" => &["bridge.external_interfaces"],
        "macvlan" | "sriov" | "physical" => &["parent"],
        _ => &[],
    }
}

/// The keys a joining member must answer for these pools and networks.
pub fn required(pools: &[NamedEntity], networks: &[NamedEntity]) -> Vec<MemberConfigKey> {
    let mut keys = Vec::new();
    for pool in pools {
        for key in pool_keys(&pool.kind) {
            keys.push(MemberConfigKey {
                entity: "storage-pool".into(),
                name: pool.name.clone(),
                key: (*key).into(),
                value: String::new(),
                description: format!("\"{key}\" property for storage pool \"{}\"", pool.name),
            });
        }
    }
    for net in networks {
        for key in network_keys(&net.kind) {
            keys.push(MemberConfigKey {
                entity: "network".into(),
                name: net.name.clone(),
                key: (*key).into(),
                value: String::new(),
                description: format!("\"{key}\" property for network \"{}\"", net.name),
            });
        }
    }
    keys
}

fn same_key(a: &MemberConfigKey, b: &MemberConfigKey) -> bool {
    a.entity == b.entity && a.name == b.name && a.key == b.key
}

/// Checks a joiner's answers: every required key answered, no unknown one.
pub fn check(required: &[MemberConfigKey], given: &[MemberConfigKey]) -> Result<(), String> {
    for g in given {
        if !required.iter().any(|r| same_key(r, g)) {
            return Err(format!(
                "member_config: the cluster has no member-specific key {:?} for {} {:?}; the keys it asks for are listed by 'corral query /1.0/cluster'",
                g.key, g.entity, g.name
            ));
        }
    }
    for r in required {
        if !given.iter().any(|g| same_key(r, g)) {
            return Err(format!(
                "member_config: missing an answer for {} {:?} key {:?} ({}); add it to the preseed's member_config (an empty value is allowed)",
                r.entity, r.name, r.key, r.description
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(name: &str, kind: &str) -> NamedEntity {
        NamedEntity {
            name: name.into(),
            kind: kind.into(),
        }
    }

    fn answer(entity: &str, name: &str, key: &str) -> MemberConfigKey {
        MemberConfigKey {
            entity: entity.into(),
            name: name.into(),
            key: key.into(),
            value: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn required_keys_follow_drivers_and_types_as_lxd_lists_them() {
        let keys = required(&[entity("default", "dir")], &[entity("br0", "bridge")]);
        let listed: Vec<_> = keys
            .iter()
            .map(|k| (k.entity.as_str(), k.key.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                ("storage-pool", "source"),
                ("network", "bridge.external_interfaces")
            ]
        );
        assert_eq!(
            keys[0].description,
            "\"source\" property for storage pool \"default\""
        );
    }

    #[test]
    fn answers_must_cover_every_key_and_no_other() {
        let req = required(&[entity("default", "dir")], &[]);
        let cases = [
            (
                "exact",
                vec![answer("storage-pool", "default", "source")],
                true,
            ),
            ("missing", vec![], false),
            (
                "unknown key",
                vec![
                    answer("storage-pool", "default", "source"),
                    answer("storage-pool", "default", "size"),
                ],
                false,
            ),
            (
                "wrong pool",
                vec![answer("storage-pool", "other", "source")],
                false,
            ),
        ];
        for (what, given, ok) in cases {
            assert_eq!(check(&req, &given).is_ok(), ok, "{what}");
        }
    }
}
