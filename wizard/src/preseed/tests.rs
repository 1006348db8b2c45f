use corral_shared::preseed::{JoinToken, Preseed};

use super::*;

/// The bootstrap example of LXD's clustering documentation, verbatim.
const SEED_BOOTSTRAP: &str = "\
config:
  core.trust_password: sekret
  core.https_address: 10.55.60.171:8443
  images.auto_update_interval: 15
storage_pools:
- name: default
  driver: dir
networks:
- name: lxdbr0
  type: bridge
  config:
    ipv4.address: 192.168.100.14/24
    ipv6.address: none
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
    eth0:
      name: eth0
      nictype: bridged
      parent: lxdbr0
      type: nic
cluster:
  server_name: node1
  enabled: true
";

/// The join example of the same documentation, verbatim: its certificate is elided with a
/// `...` line, which YAML reads as an end-of-document marker.
const SEED_JOIN: &str = "\
cluster:
  enabled: true
  server_name: node2
  server_address: 10.55.60.155:8443
  cluster_address: 10.55.60.171:8443
  cluster_certificate: \"-----BEGIN CERTIFICATE-----

opyQ1VRpAg2sV2C4W8irbNqeUsTeZZxhLqp4vNOXXBBrSqUCdPu1JXADV0kavg1l

2sXYoMobyV3K+RaJgsr1OiHjacGiGCQT3YyNGGY/n5zgT/8xI0Dquvja0bNkaf6f

...

-----END CERTIFICATE-----
\"
  cluster_password: sekret
  member_config:
  - entity: storage-pool
    name: default
    key: source
    value: \"\"
";

#[test]
fn seed_bootstrap_example_parses() {
    let p = parse_preseed(SEED_BOOTSTRAP).unwrap();
    assert!(p.is_bootstrap());
    assert_eq!(p.config["images.auto_update_interval"], "15");
    assert_eq!(p.networks[0].config["ipv4.address"], "192.168.100.14/24");
    assert_eq!(p.profiles[0].devices["eth0"]["parent"], "lxdbr0");
    assert_eq!(p.cluster.as_ref().unwrap().server_name, "node1");
}

#[test]
fn seed_join_example_parses_once_its_elision_is_filled_in() {
    let err = parse_preseed(SEED_JOIN).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 12, column 1: found unexpected document indicator, while scanning a quoted scalar: this is not valid YAML; check the indentation, quotes and colons on this line and the ones just before"
    );
    let filled = SEED_JOIN.replace("\n...\n", "\nAAAA\n");
    let p = parse_preseed(&filled).unwrap();
    assert!(p.is_join() && !p.is_bootstrap());
    let c = p.cluster.unwrap();
    assert!(
        c.cluster_certificate
            .starts_with("-----BEGIN CERTIFICATE-----\nopyQ1VRp")
    );
    assert_eq!(c.member_config[0].key, "source");
}

#[test]
fn errors_are_placed_at_line_and_column() {
    for (yaml, want) in [
        (
            "config_typo:\n  a: b\n",
            "line 1, column 1: config_typo: unknown key `config_typo`; check the spelling (keys allowed here: config, networks, storage_pools, profiles, cluster)",
        ),
        (
            "cluster: {servername: x}\n",
            "line 1, column 11: cluster.servername: unknown key `servername`; check the spelling (keys allowed here: server_name, enabled, member_config, cluster_address, cluster_certificate, cluster_certificate_path, server_address, cluster_password, cluster_token)",
        ),
        (
            "config:\n  core.https_address: 10.0.0.1:8443\n  cluster.max_voters: 4\n",
            "line 3, column 3: config.cluster.max_voters: cannot set 'cluster.max_voters' to '4': Value must be an odd number equal to or higher than 3",
        ),
        (
            "# tuning\nconfig:\n  \"cluster.offline_threshold\": '5'\n",
            "line 3, column 3: config.cluster.offline_threshold: cannot set 'cluster.offline_threshold' to '5': Value must be greater than '10'",
        ),
        (
            "cluster:\n  enabled: true\n  server_name: node2\n  server_address: 10.0.0.2:8443\n  cluster_address: 1.2.3.4:abc\n  cluster_certificate_path: /c.crt\n  cluster_password: p\n",
            "line 5, column 3: cluster.cluster_address: cannot set 'cluster_address' to '1.2.3.4:abc': Invalid address: port \"abc\" must be a number between 1 and 65535; use host:port, [ipv6]:port or :port (port 1-65535, 8443 when omitted), e.g. 10.0.0.1:8443",
        ),
        (
            "config:\n  a: b\n c: d\n",
            "line 3, column 2: did not find expected key, while parsing a block mapping: this is not valid YAML; check the indentation, quotes and colons on this line and the ones just before",
        ),
        (
            "storage_pools:\n- name: default\n  driver:\n  - dir\n",
            "line 4, column 3: storage_pools[0].driver: invalid type: sequence, expected a string",
        ),
        (
            "config:\n  user.tags: [a, b]\n",
            "line 2, column 14: config.user.tags: invalid type: sequence, expected a string, number or boolean (config values are text, not lists or maps)",
        ),
        (
            "storage_pools:\n- name: default\n  driver: dir\n- name: default\n  driver: zfs\n",
            "line 4, column 3: storage_pools[1].name: cannot set 'name' to 'default': storage pool \"default\" is already defined at storage_pools[0]; give each storage pool its own name",
        ),
        (
            "config:\n  user.a: 1\n  user.a: 2\n",
            "line 3, column 3: config.user.a: `user.a` is given twice; keep only one of them",
        ),
        (
            "storage_pools:\n- name: a\n  driver: dir\n  name: b\n",
            "line 4, column 3: storage_pools[0].name: `name` is given twice; keep only one of them",
        ),
        (
            "profiles:\n- name: a\n  devices:\n    r:\n      type: disk\n    r:\n      type: nic\n",
            "line 6, column 5: profiles[0].devices.r: `r` is given twice; keep only one of them",
        ),
        (
            "cluster:\n  enabled: true\n",
            "line 1, column 1: cluster.server_name: clustering needs this member's name; set server_name, e.g. node1",
        ),
        (
            "cluster: {enabled: true, server_name: node1}\n",
            "line 1, column 1: cluster.enabled: clustering needs core.https_address or cluster.https_address, the address other members reach this one on; set one under config, e.g. core.https_address: 10.0.0.1:8443",
        ),
        (
            "- config\n",
            "line 1, column 1: invalid type: sequence, expected struct Preseed",
        ),
    ] {
        let err = parse_preseed(yaml).unwrap_err();
        assert_eq!(err.to_string(), want, "{yaml}");
    }
}

#[test]
fn error_fields_are_separate() {
    let err = parse_preseed("config:\n  cluster.max_standby: 10\n").unwrap_err();
    assert_eq!(
        err,
        PreseedError {
            line: Some(2),
            column: Some(3),
            key: "config.cluster.max_standby".into(),
            message: "cannot set 'cluster.max_standby' to '10': Value must be between 0 and 5"
                .into(),
        }
    );
    let unplaced = PreseedError {
        line: None,
        column: None,
        key: "config.x".into(),
        message: "m".into(),
    };
    assert_eq!(unplaced.to_string(), "config.x: m");
}

#[test]
fn validate_all_reports_every_problem_in_file_order() {
    let yaml = "\
cluster:
  server_name: node 1
  enabled: true
config:
  cluster.max_voters: 4
  cluster.max_standby: 9
";
    let errors = validate_all(yaml).unwrap_err();
    let placed: Vec<(Option<usize>, &str)> =
        errors.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(
        placed,
        [
            (Some(2), "cluster.server_name"),
            (Some(3), "cluster.enabled"),
            (Some(5), "config.cluster.max_voters"),
            (Some(6), "config.cluster.max_standby"),
        ]
    );
    // parse_preseed gives the first of them.
    assert_eq!(parse_preseed(yaml).unwrap_err(), errors[0]);
}

#[test]
fn to_yaml_round_trips() {
    let token = JoinToken {
        server_name: "node2".into(),
        fingerprint: "ab".repeat(32),
        addresses: vec!["10.0.0.1:8443".into()],
        secret: "cd".repeat(32),
        expires_at: "2030-01-01T00:00:00Z".into(),
    };
    let join = format!(
        "cluster:\n  enabled: true\n  server_address: 10.0.0.2:8443\n  cluster_token: {}\n",
        token.encode()
    );
    for text in [SEED_BOOTSTRAP, &join, "{}"] {
        let p = parse_preseed(text).unwrap();
        let printed = to_yaml(&p);
        assert_eq!(parse_preseed(&printed), Ok(p), "{printed}");
    }
    assert_eq!(to_yaml(&Preseed::default()), "{}\n");
    let printed = to_yaml(&parse_preseed(SEED_BOOTSTRAP).unwrap());
    assert!(printed.starts_with("config:\n  core.https_address: 10.55.60.171:8443\n"));
    assert!(printed.contains("\nstorage_pools:\n- name: default\n  driver: dir\n"));
}

#[test]
fn yaml_1_1_booleans_are_read_as_lxd_reads_them() {
    let bootstrap = |word: &str| {
        format!(
            "config:\n  core.https_address: 10.0.0.1:8443\ncluster:\n  server_name: node1\n  enabled: {word}\n"
        )
    };
    for (word, want) in [
        ("y", true),
        ("Y", true),
        ("yes", true),
        ("Yes", true),
        ("YES", true),
        ("on", true),
        ("On", true),
        ("ON", true),
        ("true", true),
        ("True", true),
        ("TRUE", true),
        ("n", false),
        ("N", false),
        ("no", false),
        ("No", false),
        ("NO", false),
        ("off", false),
        ("Off", false),
        ("OFF", false),
        ("false", false),
        ("False", false),
        ("FALSE", false),
    ] {
        let p = parse_preseed(&bootstrap(word)).unwrap_or_else(|e| panic!("{word}: {e}"));
        assert_eq!(p.cluster.unwrap().enabled, want, "{word}");
    }
    // Real mistakes keep their place.
    for (word, want) in [
        (
            "maybe",
            "line 5, column 12: cluster.enabled: invalid value: string \"maybe\", expected a boolean: true/false, yes/no, on/off or y/n",
        ),
        (
            "yEs",
            "line 5, column 12: cluster.enabled: invalid value: string \"yEs\", expected a boolean: true/false, yes/no, on/off or y/n",
        ),
        (
            "[yes]",
            "line 5, column 12: cluster.enabled: invalid type: sequence, expected a boolean: true/false, yes/no, on/off or y/n",
        ),
    ] {
        let err = parse_preseed(&bootstrap(word)).unwrap_err();
        assert_eq!(err.to_string(), want, "{word}");
    }
}
