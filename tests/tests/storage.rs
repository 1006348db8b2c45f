//! Storage pools and custom volumes on real three-member clusters (issue 18): LXD's
//! two-phase creation step by step with each refusal in LXD 5.0's words (the captures in
//! tests/fixtures/lxd/storage_*), the `dir` driver's directories on every member, volumes
//! of one name on two members and the ambiguity refusal, deleting a pending pool, a member
//! killed during a cluster-wide create and the retry that finishes it, removal and joining.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use corral_tests::{Cluster, Member, lxd_sample, wait_until};

/// The `Error: ...` text of an LXD capture.
fn lxd_error(sample: &str) -> String {
    let text = std::fs::read_to_string(lxd_sample(sample)).expect("the capture is kept");
    text.lines()
        .find_map(|l| l.strip_prefix("Error: "))
        .unwrap_or_else(|| panic!("{sample} has no error line"))
        .to_owned()
}

/// What an LXD capture printed (its command line and exit status left out).
fn lxd_output(sample: &str) -> String {
    let text = std::fs::read_to_string(lxd_sample(sample)).expect("the capture is kept");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("$ ") || line.starts_with("[exit status") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Runs `corral ARGS` on `m` and returns its stdout, or panics with what it said.
fn ok(m: &Member, args: &[&str]) -> String {
    m.corral(args).ok().to_owned()
}

/// Runs `corral ARGS` on `m`, which must fail saying `want`.
fn refused(m: &Member, args: &[&str], want: &str) {
    let out = m.corral(args);
    let stderr = out.failed();
    assert!(
        stderr.contains(want),
        "corral {args:?}: wanted {want:?}, got {stderr:?}"
    );
}

/// `GET PATH` through `corral query`, as JSON.
fn query(m: &Member, path: &str) -> serde_json::Value {
    serde_json::from_str(&ok(m, &["query", path])).expect("query prints JSON")
}

/// Pool `pool` as the API shows it, cluster-wide or as member `target` has it.
fn pool(m: &Member, pool: &str, target: Option<&str>) -> serde_json::Value {
    match target {
        Some(t) => query(m, &format!("/1.0/storage-pools/{pool}?target={t}")),
        None => query(m, &format!("/1.0/storage-pools/{pool}")),
    }
}

fn default_pool_dir(m: &Member, pool: &str) -> PathBuf {
    m.dir().join("storage-pools").join(pool)
}

fn is_pool_dir(dir: &Path) -> bool {
    dir.join("custom").is_dir() && dir.join("containers").is_dir()
}

#[test]
fn two_phase_creation_its_refusals_volumes_and_deletes() {
    let cluster = Cluster::form(3);
    let (n1, n2, n3) = (&cluster[0], &cluster[1], &cluster[2]);
    let source1 = n1.dir().join("pools-p1");
    std::fs::create_dir_all(&source1).unwrap();
    let source1_arg = format!("source={}", source1.display());

    // Phase 2 before phase 1, and a cluster-wide key given to one member.
    refused(
        n1,
        &["storage", "create", "p1", "dir"],
        &lxd_error("storage_create_global_before_pending.txt"),
    );
    refused(
        n1,
        &[
            "storage",
            "create",
            "p1",
            "dir",
            "--target",
            "node2",
            "rsync.bwlimit=10",
        ],
        &lxd_error("storage_create_target_nonspecific_key.txt"),
    );

    // Phase 1 on node1 (from another member: any member records it).
    let out = ok(
        n2,
        &[
            "storage",
            "create",
            "p1",
            "dir",
            "--target",
            "node1",
            &source1_arg,
        ],
    );
    assert_eq!(out, "Storage pool p1 pending on member node1\n");
    refused(
        n1,
        &[
            "storage",
            "create",
            "p1",
            "dir",
            "--target",
            "node1",
            "source=/elsewhere",
        ],
        &lxd_error("storage_create_target_node1_again.txt"),
    );
    refused(
        n1,
        &["storage", "create", "p1", "dir"],
        &lxd_error("storage_create_global_missing_members.txt"),
    );
    assert_eq!(
        ok(n3, &["storage", "list"]),
        lxd_output("storage_list_pending.txt")
    );
    let pending = pool(n1, "p1", Some("node1"));
    assert_eq!(pending["status"], "Pending");
    assert_eq!(pending["config"]["source"], source1.display().to_string());
    assert!(!is_pool_dir(&source1), "nothing is made while pending");

    // Pending pools are not asked of joiners.
    let cluster_info: serde_json::Value =
        serde_json::from_str(&ok(n1, &["query", "/1.0/cluster"])).unwrap();
    let asked: Vec<&str> = cluster_info["member_config"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["entity"] == "storage-pool")
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(asked, ["default"]);

    for member in ["node2", "node3"] {
        ok(n1, &["storage", "create", "p1", "dir", "--target", member]);
    }
    // Phase 2 takes no member-specific key.
    refused(
        n1,
        &["storage", "create", "p1", "dir", "source=/tmp/x"],
        &lxd_error("storage_create_global_member_specific_key.txt"),
    );
    assert_eq!(
        ok(n1, &["storage", "create", "p1", "dir"]),
        lxd_output("storage_create_global.txt")
    );
    assert_eq!(
        ok(n2, &["storage", "list"]),
        lxd_output("storage_list_created.txt")
    );
    assert_eq!(
        ok(n3, &["storage", "show", "p1"]),
        lxd_output("storage_show_p1.txt")
    );
    refused(
        n1,
        &["storage", "create", "p1", "dir"],
        "The storage pool is already created",
    );
    // Each member made its own directory: node1 in its source, the others by default.
    assert!(is_pool_dir(&source1));
    assert!(is_pool_dir(&default_pool_dir(n2, "p1")));
    assert!(is_pool_dir(&default_pool_dir(n3, "p1")));
    for m in [n1, n2, n3] {
        let own = pool(m, "p1", Some(&m.name));
        assert_eq!(own["status"], "Created", "{}", m.name);
    }
    // The REST shapes: URLs, objects with ?recursion=1, a member's live usage of its pools.
    assert_eq!(
        query(n3, "/1.0/storage-pools"),
        serde_json::json!(["/1.0/storage-pools/default", "/1.0/storage-pools/p1"])
    );
    let objects = query(n3, "/1.0/storage-pools?recursion=1&target=node1");
    assert_eq!(
        objects[1]["config"]["source"],
        source1.display().to_string()
    );
    let state = query(n1, "/1.0/cluster/members/node2/state");
    for name in ["default", "p1"] {
        let space = &state["storage_pools"][name]["space"];
        assert!(
            space["total"].as_u64().unwrap_or(0) > 0 && space["used"].is_u64(),
            "{state}"
        );
    }
    // Joiners are now asked p1's source.
    let cluster_info: serde_json::Value =
        serde_json::from_str(&ok(n1, &["query", "/1.0/cluster"])).unwrap();
    assert!(
        cluster_info["member_config"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "p1" && k["key"] == "source"),
        "{cluster_info}"
    );

    // Config: member-specific keys only with --target.
    refused(
        n1,
        &["storage", "set", "p1", "source", "/tmp/y"],
        &lxd_error("storage_set_member_specific_without_target.txt"),
    );
    ok(n2, &["storage", "set", "p1", "rsync.bwlimit=10"]);
    assert_eq!(ok(n3, &["storage", "get", "p1", "rsync.bwlimit"]), "10\n");
    refused(
        n1,
        &[
            "storage",
            "set",
            "p1",
            "rsync.compression=false",
            "--target",
            "node2",
        ],
        "Config key \"rsync.compression\" may not be used as member-specific key",
    );
    assert_eq!(
        ok(n2, &["storage", "get", "p1", "source", "--target", "node1"]),
        format!("{}\n", source1.display())
    );
    ok(n1, &["storage", "unset", "p1", "rsync.bwlimit"]);
    assert_eq!(ok(n1, &["storage", "get", "p1", "rsync.bwlimit"]), "\n");

    // Volumes of one name on two members.
    for (via, member) in [(n1, "node2"), (n2, "node3")] {
        assert_eq!(
            ok(
                via,
                &[
                    "storage", "volume", "create", "p1", "v1", "--target", member
                ]
            ),
            lxd_output("storage_volume_create_node2.txt")
        );
    }
    refused(
        n2,
        &["storage", "volume", "create", "p1", "v1"],
        "Volume by that name already exists",
    );
    assert_eq!(
        ok(n1, &["storage", "volume", "list", "p1"]),
        lxd_output("storage_volume_list.txt")
    );
    let v1 = |m: &Member| m.dir().join("storage-pools/p1/custom/default_v1");
    assert!(v1(n2).is_dir() && v1(n3).is_dir() && !source1.join("custom/default_v1").exists());
    refused(
        n1,
        &["storage", "volume", "show", "p1", "v1"],
        &lxd_error("storage_volume_show_ambiguous.txt"),
    );
    assert_eq!(
        ok(
            n1,
            &["storage", "volume", "show", "p1", "v1", "--target", "node3"]
        ),
        lxd_output("storage_volume_show_target.txt")
    );
    let listed = pool(n1, "p1", Some("node2"));
    assert_eq!(
        listed["used_by"],
        serde_json::json!(["/1.0/storage-pools/p1/volumes/custom/v1?target=node2"])
    );
    // A pool holding volumes is not deleted, in LXD's words (node2 holds one).
    let want =
        lxd_error("storage_delete_p1_with_volumes.txt").replace("127.0.0.12:8443", &n2.address);
    refused(n1, &["storage", "delete", "p1"], &want);

    // Rename on one member; the name is then unambiguous.
    assert_eq!(
        ok(
            n1,
            &[
                "storage", "volume", "rename", "p1", "v1", "v2", "--target", "node3"
            ]
        ),
        "Renamed storage volume from \"v1\" to \"v2\"\n"
    );
    let v2 = n3.dir().join("storage-pools/p1/custom/default_v2");
    assert!(v2.is_dir() && !v1(n3).exists());
    let unique = query(n3, "/1.0/storage-pools/p1/volumes/custom/v1");
    assert_eq!(unique["location"], "node2");
    ok(n3, &["storage", "volume", "delete", "p1", "v1"]);
    ok(n1, &["storage", "volume", "delete", "p1", "v2"]);
    assert!(!v1(n2).exists() && !v2.exists());
    refused(
        n1,
        &["storage", "volume", "show", "p1", "v1"],
        "Storage volume not found",
    );

    // Delete: every member's directory goes (node1's own source stays, emptied).
    assert_eq!(
        ok(n2, &["storage", "delete", "p1"]),
        "Storage pool p1 deleted\n"
    );
    assert!(!default_pool_dir(n2, "p1").exists() && !default_pool_dir(n3, "p1").exists());
    assert!(source1.is_dir() && !source1.join("custom").exists());
    refused(n1, &["storage", "show", "p1"], "Storage pool not found");

    // A pending pool is deleted without any member having anything to remove.
    ok(n1, &["storage", "create", "p2", "dir", "--target", "node2"]);
    ok(n3, &["storage", "delete", "p2"]);
    assert!(!ok(n1, &["storage", "list", "--format", "csv"]).contains("p2"));
    // The default pool is the default profile's: in use.
    refused(
        n1,
        &["storage", "delete", "default"],
        "The storage pool is currently in use",
    );
}

#[test]
fn a_member_down_fails_the_create_fast_and_a_retry_finishes_it() {
    let mut cluster = Cluster::form(3);
    for member in ["node1", "node2", "node3"] {
        ok(
            &cluster[0],
            &["storage", "create", "p1", "dir", "--target", member],
        );
    }
    cluster[2].kill();
    let started = Instant::now();
    let out = cluster[0].corral(&["storage", "create", "p1", "dir", "rsync.bwlimit=10"]);
    let took = started.elapsed();
    let stderr = out.failed();
    assert!(stderr.contains("node3"), "names the member: {stderr}");
    assert!(
        stderr.contains("re-run 'corral storage create p1 dir'"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(30), "failed fast: {took:?}");
    let errored = pool(&cluster[0], "p1", None);
    assert_eq!(errored["status"], "Errored");
    assert_eq!(
        ok(&cluster[1], &["storage", "list", "--format", "csv"]),
        "default,dir,,1,CREATED\np1,dir,,0,ERRORED\n"
    );
    let part = pool(&cluster[1], "p1", Some("node3"));
    assert_eq!(part["status"], "Pending");
    assert_eq!(
        part["config"]["rsync.bwlimit"], "10",
        "the global config stays"
    );

    // Back up: a re-run gives no global config again, and finishes the pool.
    cluster[2].restart();
    refused(
        &cluster[0],
        &["storage", "create", "p1", "dir", "rsync.bwlimit=10"],
        "Storage pool already partially created. Please do not specify any global config when re-running create",
    );
    wait_until(
        "the re-run create to reach node3 and finish",
        Duration::from_secs(60),
        || (cluster[0].corral(&["storage", "create", "p1", "dir"]).code == 0).then_some(()),
    );
    let done = pool(&cluster[1], "p1", None);
    assert_eq!(done["status"], "Created");
    assert_eq!(done["config"]["rsync.bwlimit"], "10");
    for m in cluster.members() {
        assert!(is_pool_dir(&default_pool_dir(m, "p1")), "{}", m.name);
    }

    // A joiner is asked only the Created pools, and makes their directories.
    ok(
        &cluster[0],
        &["storage", "create", "p9", "dir", "--target", "node1"],
    );
    let node4 = cluster.add("node4");
    assert!(is_pool_dir(&default_pool_dir(node4, "p1")));
    assert!(is_pool_dir(&default_pool_dir(node4, "default")));
    assert!(!default_pool_dir(node4, "p9").exists());
    let joined = pool(&cluster[0], "p1", Some("node4"));
    assert_eq!(joined["status"], "Created");
    let pending = pool(&cluster[0], "p9", None);
    assert_eq!(pending["locations"], serde_json::json!(["node1"]));

    // A member leaving in order deletes its pools first; one holding a volume is refused.
    ok(
        &cluster[0],
        &[
            "storage", "volume", "create", "p1", "keep", "--target", "node4",
        ],
    );
    refused(
        &cluster[0],
        &["cluster", "remove", "node4"],
        "still holds custom volumes (p1/keep)",
    );
    ok(
        &cluster[0],
        &[
            "storage", "volume", "delete", "p1", "keep", "--target", "node4",
        ],
    );
    ok(&cluster[0], &["cluster", "remove", "node4"]);
    let node4 = cluster.take(3);
    assert!(!default_pool_dir(&node4, "p1").exists());
    assert!(!default_pool_dir(&node4, "default").exists());
    let after = pool(&cluster[0], "p1", None);
    assert_eq!(
        after["locations"],
        serde_json::json!(["node1", "node2", "node3"])
    );
}

#[test]
fn a_standalone_server_creates_a_pool_directly() {
    let solo = Member::start("solo");
    assert_eq!(
        ok(&solo, &["storage", "create", "p1", "dir"]),
        "Storage pool p1 created\n"
    );
    assert!(is_pool_dir(&default_pool_dir(&solo, "p1")));
    assert_eq!(pool(&solo, "p1", None)["status"], "Created");
    ok(&solo, &["storage", "volume", "create", "p1", "v1"]);
    assert!(
        solo.dir()
            .join("storage-pools/p1/custom/default_v1")
            .is_dir()
    );
    ok(&solo, &["storage", "volume", "delete", "p1", "v1"]);
    ok(&solo, &["storage", "delete", "p1"]);
    assert!(!default_pool_dir(&solo, "p1").exists());
}
