//! Table tests for storage pool records and their two-phase create flow.

use super::*;

fn record() -> PoolRecord {
    PoolRecord {
        id: 1,
        name: "p1".into(),
        driver: "dir".into(),
        description: String::new(),
        state: 1,
        config: BTreeMap::new(),
        members: vec![
            PoolMember {
                id: 1,
                name: "node1".into(),
                address: "a:1".into(),
                state: 1,
                config: BTreeMap::from([("source".into(), "/n1".into())]),
            },
            PoolMember {
                id: 2,
                name: "node2".into(),
                address: "b:1".into(),
                state: 0,
                config: BTreeMap::from([("source".into(), "/n2".into())]),
            },
        ],
    }
}

fn volume(name: &str, member_id: u64, member: &str) -> VolumeRow {
    VolumeRow {
        name: name.into(),
        pool: "p1".into(),
        member_id,
        member: member.into(),
        description: String::new(),
        project: "default".into(),
        config: BTreeMap::new(),
    }
}

#[test]
fn the_api_view_is_cluster_wide_or_one_members() {
    let r = record();
    let vols = [volume("v1", 1, "node1"), volume("v1", 2, "node2")];
    let all = to_api(&r, None, &["default".into()], &vols);
    assert!(all.config.is_empty());
    assert_eq!(all.status, "Created");
    assert_eq!(all.locations, ["node1", "node2"]);
    assert_eq!(
        all.used_by,
        [
            "/1.0/profiles/default",
            "/1.0/storage-pools/p1/volumes/custom/v1?target=node1",
            "/1.0/storage-pools/p1/volumes/custom/v1?target=node2"
        ]
    );
    let two = to_api(&r, Some(&r.members[1]), &[], &vols);
    assert_eq!(two.config["source"], "/n2");
    assert_eq!(two.status, "Pending");
    assert_eq!(
        two.used_by,
        ["/1.0/storage-pools/p1/volumes/custom/v1?target=node2"]
    );
}

#[test]
fn a_delete_is_refused_in_lxds_words_by_the_member_holding_a_volume() {
    let vols = [volume("v1", 2, "node2")];
    assert_eq!(
        volumes_refusal("p1", &vols, 1, "127.0.0.12:8443").as_deref(),
        Some(
            "failed to notify peer 127.0.0.12:8443: Volume \"v1\" of type \"custom\" in project \"default\" still exists in storage pool \"p1\""
        )
    );
    assert_eq!(
        volumes_refusal("p1", &vols, 2, "").as_deref(),
        Some(
            "Volume \"v1\" of type \"custom\" in project \"default\" still exists in storage pool \"p1\""
        )
    );
    assert_eq!(volumes_refusal("p1", &[], 1, ""), None);
}

#[test]
fn only_the_dir_driver_and_its_keys_are_taken() {
    let cfg = |k: &str| BTreeMap::from([(k.to_owned(), "1".to_owned())]);
    for (driver, key, ok) in [
        ("dir", "rsync.bwlimit", true),
        ("dir", "user.note", true),
        ("dir", "source", true),
        ("dir", "zfs.pool_name", true),
        ("dir", "volume.size.bogus", false),
        ("zfs", "rsync.bwlimit", false),
        ("", "rsync.bwlimit", false),
    ] {
        assert_eq!(
            check_driver_config(driver, &cfg(key)).is_ok(),
            ok,
            "{driver} {key}"
        );
    }
}
