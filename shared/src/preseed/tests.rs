use serde_json::json;

use super::*;

/// A valid bootstrap preseed, as JSON (the same data a YAML preseed gives).
fn bootstrap() -> serde_json::Value {
    json!({
        "config": {
            "core.https_address": "10.55.60.171:8443",
            "core.trust_password": "sekret",
            "images.auto_update_interval": 15
        },
        "storage_pools": [{"name": "default", "driver": "dir"}],
        "networks": [{
            "name": "lxdbr0",
            "type": "bridge",
            "config": {"ipv4.address": "192.168.100.14/24", "ipv6.address": "none"}
        }],
        "profiles": [{
            "name": "default",
            "devices": {
                "root": {"path": "/", "pool": "default", "type": "disk"},
                "eth0": {"name": "eth0", "nictype": "bridged", "parent": "lxdbr0", "type": "nic"}
            }
        }],
        "cluster": {"server_name": "node1", "enabled": true}
    })
}

fn token_for(name: &str) -> String {
    JoinToken {
        server_name: name.into(),
        fingerprint: "ab".repeat(32),
        addresses: vec!["10.0.0.1:8443".into()],
        secret: "cd".repeat(32),
        expires_at: "2030-01-01T00:00:00Z".into(),
    }
    .encode()
}

fn token_join() -> serde_json::Value {
    json!({"cluster": {
        "enabled": true,
        "server_address": "10.0.0.2:8443",
        "cluster_token": token_for("node2"),
        "member_config": [
            {"entity": "storage-pool", "name": "default", "key": "source", "value": ""}
        ]
    }})
}

fn password_join() -> serde_json::Value {
    json!({"cluster": {
        "enabled": true,
        "server_name": "node2",
        "server_address": "10.0.0.2:8443",
        "cluster_address": "10.0.0.1:8443",
        "cluster_certificate_path": "/tmp/cluster.crt",
        "cluster_password": "sekret"
    }})
}

fn parse(v: serde_json::Value) -> Preseed {
    serde_json::from_value(v).expect("test preseed deserialises")
}

/// Sets `pointer` (a JSON pointer) in `doc` to `value`, or removes it when `value` is null.
fn with(mut doc: serde_json::Value, pointer: &str, value: serde_json::Value) -> serde_json::Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let target = doc.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    if value.is_null() {
        target.remove(last);
    } else {
        target.insert(last.to_string(), value);
    }
    doc
}

#[test]
fn valid_preseeds_pass_and_are_classified() {
    for (name, doc, join, boot) in [
        ("bootstrap", bootstrap(), false, true),
        ("token join", token_join(), true, false),
        ("password join", password_join(), true, false),
        ("empty", json!({}), false, false),
        (
            "disabled",
            json!({"cluster": {"enabled": false}}),
            false,
            false,
        ),
    ] {
        let p = parse(doc);
        assert_eq!(p.validate(), Ok(()), "{name}");
        assert_eq!((p.is_join(), p.is_bootstrap()), (join, boot), "{name}");
    }
}

#[test]
fn scalars_become_strings_and_structures_are_refused() {
    let p = parse(bootstrap());
    assert_eq!(p.config["images.auto_update_interval"], "15");
    let p = parse(json!({"config": {"user.a": true, "user.b": 1.5, "user.c": null}}));
    assert_eq!(p.config["user.a"], "true");
    assert_eq!(p.config["user.b"], "1.5");
    assert_eq!(p.config["user.c"], "");
    for bad in [
        json!({"config": {"user.a": [1]}}),
        json!({"config": {"user.a": {"b": 1}}}),
        json!({"profiles": [{"name": "p", "devices": {"d": {"type": ["disk"]}}}]}),
    ] {
        let err = serde_json::from_value::<Preseed>(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expected a string, number or boolean"),
            "{err}"
        );
    }
}

#[test]
fn unknown_keys_are_refused() {
    for (bad, field) in [
        (json!({"config_typo": {}}), "config_typo"),
        (json!({"cluster": {"servername": "x"}}), "servername"),
        (
            json!({"storage_pools": [{"name": "a", "drive": "dir"}]}),
            "drive",
        ),
        (
            json!({"networks": [{"name": "a", "kind": "bridge"}]}),
            "kind",
        ),
        (json!({"profiles": [{"name": "a", "device": {}}]}), "device"),
    ] {
        let err = serde_json::from_value::<Preseed>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("unknown field `{field}`")), "{err}");
    }
}

#[test]
fn violations_name_path_value_and_rule() {
    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        (
            with(bootstrap(), "/config/cluster.max_voters", json!(4)),
            "config.cluster.max_voters",
            "config.cluster.max_voters: cannot set 'cluster.max_voters' to '4': Value must be an odd number equal to or higher than 3",
        ),
        (
            with(bootstrap(), "/config/cluster.offline_threshold", json!("5")),
            "config.cluster.offline_threshold",
            "config.cluster.offline_threshold: cannot set 'cluster.offline_threshold' to '5': Value must be greater than '10'",
        ),
        (
            with(
                bootstrap(),
                "/config/core.https_address",
                json!("1.2.3.4:abc"),
            ),
            "config.core.https_address",
            "cannot set 'core.https_address' to '1.2.3.4:abc': Invalid address: port \"abc\"",
        ),
        (
            with(bootstrap(), "/config/core.trust_pasword", json!("x")),
            "config.core.trust_pasword",
            "Unknown configuration key",
        ),
        (
            with(bootstrap(), "/storage_pools/0/driver", json!("ext4")),
            "storage_pools[0].driver",
            "storage_pools[0].driver: cannot set 'driver' to 'ext4': Value must be one of dir, btrfs, lvm, zfs, ceph, cephfs, cephobject",
        ),
        (
            with(bootstrap(), "/storage_pools/0/driver", json!(null)),
            "storage_pools[0].driver",
            "storage_pools[0].driver: every storage pool needs a driver",
        ),
        (
            with(bootstrap(), "/storage_pools/0/name", json!("1pool")),
            "storage_pools[0].name",
            "Invalid storage pool name: it must start with a letter",
        ),
        (
            with(bootstrap(), "/storage_pools/0/name", json!("")),
            "storage_pools[0].name",
            "storage_pools[0].name: every storage pool needs a name",
        ),
        (
            with(bootstrap(), "/networks/0/type", json!("vxlan")),
            "networks[0].type",
            "cannot set 'type' to 'vxlan': Value must be one of bridge, macvlan, sriov, ovn, physical",
        ),
        (
            with(bootstrap(), "/networks/0/name", json!("averylongbridge0")),
            "networks[0].name",
            "at most 15 characters",
        ),
        (
            with(
                bootstrap(),
                "/networks/0/config/ipv4.address",
                json!("10.0.0.1/33"),
            ),
            "networks[0].config.ipv4.address",
            "cannot set 'ipv4.address' to '10.0.0.1/33': Value must be auto, none, or an IPv4 address with a prefix length, e.g. 10.66.0.1/24",
        ),
        (
            with(
                bootstrap(),
                "/networks/0/config/ipv4.address",
                json!("fd00::1/64"),
            ),
            "networks[0].config.ipv4.address",
            "an IPv4 address",
        ),
        (
            with(
                bootstrap(),
                "/networks/0/config/ipv6.address",
                json!("10.0.0.1"),
            ),
            "networks[0].config.ipv6.address",
            "an IPv6 address",
        ),
        (
            with(bootstrap(), "/profiles/0/devices/root/type", json!(null)),
            "profiles[0].devices.root",
            "device \"root\" has no type",
        ),
        (
            with(
                bootstrap(),
                "/profiles/0/devices/root/type",
                json!("floppy"),
            ),
            "profiles[0].devices.root.type",
            "cannot set 'type' to 'floppy': Value must be one of disk, nic",
        ),
        (
            with(bootstrap(), "/cluster/server_name", json!(null)),
            "cluster.server_name",
            "clustering needs this member's name",
        ),
        (
            with(bootstrap(), "/cluster/server_name", json!("none")),
            "cluster.server_name",
            "\"none\" is reserved",
        ),
        (
            with(bootstrap(), "/config/core.https_address", json!(null)),
            "cluster.enabled",
            "clustering needs core.https_address or cluster.https_address, the address other members reach this one on",
        ),
        (
            with(bootstrap(), "/config/core.https_address", json!(":8443")),
            "config.core.https_address",
            "wildcard address",
        ),
        (
            with(token_join(), "/cluster/cluster_token", json!("TOKEN")),
            "cluster.cluster_token",
            "cluster.cluster_token: Invalid join token: illegal base64 data at input byte 4",
        ),
        (
            with(token_join(), "/cluster/server_name", json!("node4")),
            "cluster.server_name",
            "the join token was issued for \"node2\"",
        ),
        (
            with(token_join(), "/cluster/server_address", json!(null)),
            "cluster.server_address",
            "joining needs the address",
        ),
        (
            with(
                token_join(),
                "/cluster/member_config/0/entity",
                json!("disk"),
            ),
            "cluster.member_config[0].entity",
            "Value must be storage-pool or network",
        ),
        (
            with(
                token_join(),
                "/cluster/member_config/0/key",
                json!("driver"),
            ),
            "cluster.member_config[0].key",
            "Value must be a member-specific storage-pool key",
        ),
        (
            with(token_join(), "/cluster/member_config/0/name", json!("")),
            "cluster.member_config[0].name",
            "needs the name of its storage-pool",
        ),
        (
            with(token_join(), "/cluster/enabled", json!(false)),
            "cluster.enabled",
            "set `enabled: true` to join",
        ),
        (
            with(password_join(), "/cluster/cluster_password", json!(null)),
            "cluster.cluster_password",
            "needs the cluster's trust password",
        ),
        (
            with(
                password_join(),
                "/cluster/cluster_certificate_path",
                json!(null),
            ),
            "cluster.cluster_certificate",
            "needs the cluster's certificate",
        ),
        (
            with(
                password_join(),
                "/cluster/cluster_certificate",
                json!("hello"),
            ),
            "cluster.cluster_certificate",
            "not a PEM certificate",
        ),
        (
            with(password_join(), "/cluster/server_address", json!(null)),
            "cluster.server_address",
            "joining needs the address",
        ),
        (
            with(password_join(), "/cluster/cluster_address", json!("x:0")),
            "cluster.cluster_address",
            "port \"0\"",
        ),
        (
            with(password_join(), "/cluster/server_name", json!("node 2")),
            "cluster.server_name",
            "Invalid member name",
        ),
    ];
    for (doc, path, text) in cases {
        // Renaming a pool also breaks the profile's reference to it: look for the one meant.
        let errs = parse(doc).validate().unwrap_err();
        let Some(found) = errs.iter().find(|v| v.path_string() == path) else {
            panic!("no violation at {path}: {errs:?}");
        };
        assert!(found.to_string().contains(text), "{found}");
    }
}

#[test]
fn duplicates_point_at_the_later_item() {
    let mut doc = bootstrap();
    doc["storage_pools"] = json!([
        {"name": "default", "driver": "dir"},
        {"name": "default", "driver": "zfs"}
    ]);
    doc["profiles"] = json!([{"name": "default"}, {"name": "default"}]);
    let errs = parse(doc).validate().unwrap_err();
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "storage_pools[1].name: cannot set 'name' to 'default': storage pool \"default\" is already defined at storage_pools[0]; give each storage pool its own name",
            "profiles[1].name: cannot set 'name' to 'default': profile \"default\" is already defined at profiles[0]; give each profile its own name",
        ]
    );
    assert_eq!(
        errs[0].path,
        vec![
            PathSegment::Key("storage_pools".into()),
            PathSegment::Index(1),
            PathSegment::Key("name".into())
        ]
    );
}

#[test]
fn serialises_without_empty_fields() {
    let p = parse(token_join());
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(
        v["cluster"].as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "cluster_token",
            "enabled",
            "member_config",
            "server_address"
        ]
    );
    assert_eq!(serde_json::from_value::<Preseed>(v).unwrap(), p);
}

#[test]
fn yaml_1_1_boolean_words_are_those_go_yaml_v2_reads() {
    for (word, want) in [
        ("yes", Some(true)),
        ("ON", Some(true)),
        ("Y", Some(true)),
        ("off", Some(false)),
        ("No", Some(false)),
        ("FALSE", Some(false)),
        ("yEs", None),
        ("1", None),
        ("", None),
        ("enabled", None),
    ] {
        assert_eq!(scalar::yaml11_bool(word), want, "{word:?}");
    }
    assert_eq!(scalar::YAML11_BOOLEANS.len(), 22);
}
