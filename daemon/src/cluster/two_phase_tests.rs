//! Table tests for the two-phase create rules (per-member config split, pending/created states).

use super::*;

fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rows(pairs: &[(&str, State)]) -> Vec<MemberRow> {
    pairs
        .iter()
        .map(|(m, s)| MemberRow {
            member: m.to_string(),
            state: *s,
        })
        .collect()
}

fn existing(state: State, members: &[(&str, State)], global: bool) -> Existing {
    Existing {
        kind: "dir".into(),
        state,
        members: rows(members),
        has_global_config: global,
    }
}

fn three() -> Vec<String> {
    vec!["node1".into(), "node2".into(), "node3".into()]
}

use State::{Created, Errored, Pending};

/// What is asked, of what exists, for which member, with which keys, and the answer.
type TargetedCase<'a> = (
    &'a str,
    Option<&'a Existing>,
    &'a str,
    BTreeMap<String, String>,
    Result<(), String>,
);
/// What is asked, of what exists, with which keys, and the refusal.
type ClusterCase<'a> = (
    &'a str,
    Option<&'a Existing>,
    BTreeMap<String, String>,
    &'a str,
);
/// The state, the target, the keys, and the answer.
type UpdateCase<'a> = (State, Option<&'a str>, Vec<&'a str>, Result<(), String>);

#[test]
fn member_specific_keys_are_lxds() {
    let cases = [
        (Resource::StoragePool, "source", true),
        (Resource::StoragePool, "size", true),
        (Resource::StoragePool, "zfs.pool_name", true),
        (Resource::StoragePool, "rsync.bwlimit", false),
        (Resource::StoragePool, "parent", false),
        (Resource::Network, "parent", true),
        (Resource::Network, "bridge.external_interfaces", true),
        (Resource::Network, "ipv4.address", false),
        (Resource::Network, "source", false),
    ];
    for (resource, key, specific) in cases {
        assert_eq!(
            resource.is_member_specific(key),
            specific,
            "{resource:?} {key}"
        );
    }
}

#[test]
fn targeted_create_refusals_carry_lxds_texts() {
    let pending1 = existing(Pending, &[("node1", Pending)], false);
    let created = existing(Created, &[("node1", Created)], false);
    let cases: Vec<TargetedCase> = vec![
        ("first", None, "node1", cfg(&[("source", "/x")]), Ok(())),
        ("no keys", None, "node1", cfg(&[]), Ok(())),
        (
            "second member",
            Some(&pending1),
            "node2",
            cfg(&[("source", "/y")]),
            Ok(()),
        ),
        (
            "cluster-wide key",
            None,
            "node2",
            cfg(&[("rsync.bwlimit", "10")]),
            Err("Config key \"rsync.bwlimit\" may not be used as member-specific key".into()),
        ),
        (
            "same member again",
            Some(&pending1),
            "node1",
            cfg(&[("source", "/z")]),
            Err("The storage pool already defined on member \"node1\"".into()),
        ),
        (
            "already created",
            Some(&created),
            "node2",
            cfg(&[]),
            Err("The storage pool is not in pending state".into()),
        ),
    ];
    for (what, existing, member, config, want) in cases {
        let got = check_targeted_create(Resource::StoragePool, existing, member, "dir", &config)
            .map_err(|e| e.to_string());
        assert_eq!(got, want, "{what}");
    }
    let mismatch = check_targeted_create(
        Resource::StoragePool,
        Some(&pending1),
        "node2",
        "zfs",
        &cfg(&[]),
    )
    .unwrap_err();
    assert_eq!(
        mismatch.to_string(),
        "Requested storage pool driver \"zfs\" doesn't match driver in existing database record \"dir\""
    );
}

#[test]
fn cluster_create_refusals_carry_lxds_texts() {
    let one = existing(Pending, &[("node1", Pending)], false);
    let created = existing(
        Created,
        &[("node1", Created), ("node2", Created), ("node3", Created)],
        false,
    );
    let errored_global = existing(
        Errored,
        &[("node1", Created), ("node2", Pending), ("node3", Pending)],
        true,
    );
    let cases: Vec<ClusterCase> = vec![
        (
            "before pending",
            None,
            cfg(&[]),
            "Pool not pending on any node (use --target <node> first)",
        ),
        (
            "member key",
            Some(&one),
            cfg(&[("source", "/tmp/x")]),
            "Config key \"source\" is cluster member specific",
        ),
        (
            "member key first",
            None,
            cfg(&[("source", "/tmp/x")]),
            "Config key \"source\" is cluster member specific",
        ),
        (
            "missing members",
            Some(&one),
            cfg(&[]),
            "Pool not defined on nodes: node2, node3",
        ),
        (
            "created",
            Some(&created),
            cfg(&[]),
            "The storage pool is already created",
        ),
        (
            "re-run with global config",
            Some(&errored_global),
            cfg(&[("rsync.bwlimit", "1")]),
            "Storage pool already partially created. Please do not specify any global config when re-running create",
        ),
    ];
    for (what, existing, config, want) in cases {
        let got = plan_cluster_create(Resource::StoragePool, existing, &three(), "dir", &config)
            .unwrap_err()
            .to_string();
        assert_eq!(got, want, "{what}");
    }
    let net =
        plan_cluster_create(Resource::Network, None, &three(), "bridge", &cfg(&[])).unwrap_err();
    assert_eq!(
        net.to_string(),
        "Network not pending on any node (use --target <node> first)"
    );
}

#[test]
fn cluster_create_plans_first_run_and_rerun() {
    let all_pending = existing(
        Pending,
        &[("node1", Pending), ("node2", Pending), ("node3", Pending)],
        false,
    );
    let plan = plan_cluster_create(
        Resource::StoragePool,
        Some(&all_pending),
        &three(),
        "dir",
        &cfg(&[("rsync.bwlimit", "1")]),
    )
    .unwrap();
    assert_eq!(
        plan,
        ClusterCreatePlan {
            insert_resource: false,
            store_global_config: true,
            create_on: three()
        }
    );
    // A re-run after node2 was down: node1 and node3 are Created and skipped.
    let partial = existing(
        Errored,
        &[("node1", Created), ("node2", Pending), ("node3", Created)],
        true,
    );
    let plan = plan_cluster_create(
        Resource::StoragePool,
        Some(&partial),
        &three(),
        "dir",
        &cfg(&[]),
    )
    .unwrap();
    assert_eq!(
        plan,
        ClusterCreatePlan {
            insert_resource: false,
            store_global_config: false,
            create_on: vec!["node2".into()]
        }
    );
    // A first run that stored no global config may give some on the re-run.
    let partial_no_global = existing(
        Errored,
        &[("node1", Pending), ("node2", Pending), ("node3", Pending)],
        false,
    );
    let plan = plan_cluster_create(
        Resource::StoragePool,
        Some(&partial_no_global),
        &three(),
        "dir",
        &cfg(&[("rsync.bwlimit", "1")]),
    )
    .unwrap();
    assert!(plan.store_global_config);
    assert_eq!(plan.create_on, three());
}

#[test]
fn a_single_member_may_create_directly() {
    let plan = plan_cluster_create(
        Resource::StoragePool,
        None,
        &["solo".to_string()],
        "dir",
        &cfg(&[("source", "/srv")]),
    )
    .unwrap();
    assert_eq!(
        plan,
        ClusterCreatePlan {
            insert_resource: true,
            store_global_config: true,
            create_on: vec!["solo".into()]
        }
    );
}

#[test]
fn states_move_as_lxds() {
    assert_eq!(STATE_WHILE_CREATING, Errored);
    let cases = [
        (rows(&[("a", Created), ("b", Created)]), Created),
        (rows(&[("a", Created), ("b", Pending)]), Errored),
        (rows(&[]), Errored),
    ];
    for (members, want) in cases {
        assert_eq!(global_state_after(&members), want, "{members:?}");
    }
    assert_eq!(member_state_after(Pending, true), Created);
    assert_eq!(member_state_after(Pending, false), Pending);
    for state in [Pending, Created, Errored] {
        assert_eq!(State::from_db(state.to_db()), state);
    }
    assert_eq!(State::from_db(7), Errored);
    assert_eq!(Errored.api_status(), "Errored");
}

#[test]
fn updates_follow_the_target_rules() {
    let cases: Vec<UpdateCase> = vec![
        (Created, None, vec!["rsync.bwlimit"], Ok(())),
        (Created, Some("node2"), vec!["source"], Ok(())),
        (Pending, Some("node2"), vec!["source"], Ok(())),
        (
            Created,
            None,
            vec!["source"],
            Err("Config key \"source\" is cluster member specific".into()),
        ),
        (
            Created,
            Some("node2"),
            vec!["rsync.bwlimit"],
            Err("Config key \"rsync.bwlimit\" may not be used as member-specific key".into()),
        ),
        (
            Pending,
            None,
            vec!["rsync.bwlimit"],
            Err("Cannot update storage pool global config when not in created state".into()),
        ),
    ];
    for (state, target, keys, want) in cases {
        let got =
            check_update(Resource::StoragePool, state, target, &keys).map_err(|e| e.to_string());
        assert_eq!(got, want, "{state:?} {target:?} {keys:?}");
    }
}

#[test]
fn delete_removes_only_created_parts() {
    let pending = existing(Pending, &[("node1", Pending), ("node2", Pending)], false);
    assert!(delete_on(&pending).is_empty());
    let partial = existing(Errored, &[("node1", Created), ("node2", Pending)], true);
    assert_eq!(delete_on(&partial), vec!["node1".to_string()]);
}

#[test]
fn config_splits_by_member_specific_keys() {
    let (global, member) = split_config(
        Resource::Network,
        &cfg(&[("parent", "eth0"), ("ipv4.address", "auto")]),
    );
    assert_eq!(global, cfg(&[("ipv4.address", "auto")]));
    assert_eq!(member, cfg(&[("parent", "eth0")]));
}
