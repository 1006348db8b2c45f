//! Evacuating and restoring a member of a real three-member cluster with real runc
//! instances: LXD's own test matrix (test_clustering_evacuation: c1..c7), then
//! `restore --action skip`, then a full restore, each outcome asserted; the dry run changing
//! nothing; and a move killed at each of its steps leaving the instance in one place.

use std::time::Duration;

use corral_tests::containers::{Containers, instances_run_here};
use corral_tests::{Cluster, Member, test_image, wait_until};
use serde_json::Value;

/// How long a whole evacuation or restore may take here (clean shutdowns included).
const WORK: Duration = Duration::from_secs(180);

fn instances(m: &Member) -> Vec<Value> {
    let (status, body) = m.raw("GET", "/1.0/instances?recursion=1", None);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    v["metadata"].as_array().cloned().unwrap_or_default()
}

/// Each instance's (member, status), by name.
fn placement(m: &Member) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = instances(m)
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap_or_default().to_owned(),
                i["location"].as_str().unwrap_or_default().to_owned(),
                i["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

fn config_of(m: &Member, name: &str) -> Value {
    let (status, body) = m.raw("GET", &format!("/1.0/instances/{name}"), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).expect("JSON")["metadata"]["config"].clone()
}

/// The members whose storage holds a copy of instance `name`.
fn copies(members: &[&Member], name: &str) -> Vec<String> {
    members
        .iter()
        .filter(|m| {
            m.dir()
                .join("storage-pools/default/containers")
                .join(name)
                .join("rootfs")
                .is_dir()
        })
        .map(|m| m.name.clone())
        .collect()
}

fn expect(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

fn import_image(m: &Member) {
    let image = test_image();
    m.corral(&[
        "image",
        "import",
        image.to_str().expect("a UTF-8 path"),
        "--alias",
        "busybox",
    ])
    .ok();
}

/// `boot.host_shutdown_timeout` for the test's instances: busybox's init may not power off
/// on LXD's signal, and the forced stop after the timeout is what the rule says.
const SHUTDOWN: &str = "boot.host_shutdown_timeout=2";

fn member_state(m: &Member, name: &str) -> String {
    m.member(name)["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn lxds_evacuation_matrix_then_restore_skip_then_full_restore() {
    if !instances_run_here() {
        return;
    }
    let cluster = Cluster::form(3);
    let m = cluster.members();
    let all: Vec<&Member> = m.iter().collect();
    let _containers = Containers::of(all.iter().copied());
    let (node1, node2) = (&m[0], &m[1]);
    import_image(node1);

    // Group foo holds node1 and node3; c7 is placed through it while both are empty, so it
    // lands on node1 (lowest id) with volatile.cluster.group=foo.
    let (status, body) = node1.raw(
        "POST",
        "/1.0/cluster/groups",
        Some(r#"{"name":"foo","description":"","members":["node1","node3"]}"#),
    );
    assert!(status < 300, "{body}");
    node1
        .corral(&[
            "launch", "busybox", "c7", "--target", "@foo", "-c", SHUTDOWN,
        ])
        .ok();
    assert_eq!(config_of(node1, "c7")["volatile.cluster.group"], "foo");
    for (name, key) in [
        ("c1", None),
        ("c2", Some("cluster.evacuate=auto")),
        ("c3", Some("cluster.evacuate=stop")),
        ("c4", Some("cluster.evacuate=migrate")),
    ] {
        let mut args = vec![
            "launch", "busybox", name, "--target", "node1", "-c", SHUTDOWN,
        ];
        if let Some(k) = key {
            args.extend(["-c", k]);
        }
        node1.corral(&args).ok();
    }
    node1
        .corral(&["init", "busybox", "c5", "--target", "node1", "-c", SHUTDOWN])
        .ok();
    node2
        .corral(&[
            "launch", "busybox", "c6", "--target", "node2", "-c", SHUTDOWN,
        ])
        .ok();
    let before = expect(&[
        ("c1", "node1", "Running"),
        ("c2", "node1", "Running"),
        ("c3", "node1", "Running"),
        ("c4", "node1", "Running"),
        ("c5", "node1", "Stopped"),
        ("c6", "node2", "Running"),
        ("c7", "node1", "Running"),
    ]);
    assert_eq!(placement(node2), before);

    // A member in service cannot be restored (LXD's text).
    let refused = node2.corral(&["cluster", "restore", "node1", "--force"]);
    assert!(
        refused
            .failed()
            .contains("Cluster member is already restored"),
        "{refused:#?}"
    );

    // The dry run prints the plan and changes nothing. node3 starts empty, node2 holds c6:
    // the moves alternate as the counts even out, c7 goes to node3, the only other member
    // of foo.
    let plan = node2
        .corral(&["cluster", "evacuate", "node1", "--dry-run"])
        .ok()
        .to_owned();
    for (instance, action, to) in [
        ("c1", "stop, migrate, start", "node3"),
        ("c2", "stop, migrate, start", "node2"),
        ("c3", "stop", "node1"),
        ("c4", "stop, migrate, start", "node3"),
        ("c5", "migrate", "node2"),
        ("c7", "stop, migrate, start", "node3"),
    ] {
        let row = plan
            .lines()
            .find(|l| l.starts_with(&format!("| {instance} ")))
            .unwrap_or_else(|| panic!("{instance} is not in the plan:\n{plan}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(
            (cells[2], cells[3], cells[4]),
            (action, "node1", to),
            "{plan}"
        );
    }
    assert!(!plan.contains("| c6 "), "c6 is not node1's:\n{plan}");
    assert_eq!(placement(node2), before, "the dry run changed nothing");
    assert_eq!(member_state(node2, "node1"), "Online");

    // Evacuate, asked through node2 (the work runs on node1).
    let out = node2.corral(&["cluster", "evacuate", "node1", "--force"]);
    let text = out.ok();
    assert!(
        text.contains(
            "Evacuating cluster member: Migrating \"c1\" in project \"default\" to \"node3\""
        ),
        "{text}"
    );
    let evacuated = expect(&[
        ("c1", "node3", "Running"),
        ("c2", "node2", "Running"),
        ("c3", "node1", "Stopped"),
        ("c4", "node3", "Running"),
        ("c5", "node2", "Stopped"),
        ("c6", "node2", "Running"),
        ("c7", "node3", "Running"),
    ]);
    assert_eq!(placement(node2), evacuated);
    assert_eq!(member_state(node2, "node1"), "Evacuated");
    let list = node2.corral(&["cluster", "list"]).ok().to_owned();
    assert!(
        list.lines().any(|l| l.contains("| node1 ")
            && l.contains("EVACUATED")
            && l.contains("Unavailable due to maintenance")),
        "{list}"
    );
    for moved in ["c1", "c2", "c4", "c5", "c7"] {
        assert_eq!(
            config_of(node2, moved)["volatile.evacuate.origin"],
            "node1",
            "{moved}"
        );
    }
    assert_eq!(
        config_of(node2, "c3")["volatile.last_state.power"],
        "RUNNING"
    );
    for (name, location, _) in &evacuated {
        assert_eq!(
            copies(&all, name),
            vec![location.clone()],
            "{name}'s copies"
        );
    }
    // An evacuated member takes no new instance.
    let refused = node2.corral(&["init", "busybox", "x", "--target", "node1"]);
    assert!(refused.failed().contains("evacuated"), "{refused:#?}");
    // Nor is it evacuated twice.
    let twice = node2.corral(&["cluster", "evacuate", "node1", "--force"]);
    assert!(
        twice
            .failed()
            .contains("Cluster member is already evacuated"),
        "{twice:#?}"
    );

    // Restore with skip: back in service, nothing moves, nothing starts.
    node2
        .corral(&["cluster", "restore", "node1", "--action", "skip", "--force"])
        .ok();
    assert_eq!(member_state(node2, "node1"), "Online");
    assert_eq!(placement(node2), evacuated);

    // Evacuate again (c3 stays stopped, nothing else is on node1), then restore fully:
    // c1-c4 and c7 come back running (c3 restarted from its last state), c5 comes back
    // stopped, c6 stays on node2.
    node2
        .corral(&["cluster", "evacuate", "node1", "--force"])
        .ok();
    assert_eq!(placement(node2), evacuated);
    let out = node2.corral(&["cluster", "restore", "node1", "--force"]);
    let text = out.ok();
    assert!(
        text.contains(
            "Restoring cluster member: Migrating \"c1\" in project \"default\" from \"node3\""
        ),
        "{text}"
    );
    assert_eq!(placement(node2), before);
    assert_eq!(member_state(node2, "node1"), "Online");
    for name in ["c1", "c2", "c4", "c5", "c7"] {
        assert!(
            config_of(node2, name)
                .get("volatile.evacuate.origin")
                .is_none(),
            "{name} still names an origin"
        );
        assert_eq!(
            copies(&all, name),
            vec!["node1".to_owned()],
            "{name}'s copies"
        );
    }
}

#[test]
fn live_migration_of_a_container_and_an_offline_member_are_refused() {
    if !instances_run_here() {
        return;
    }
    let mut cluster = Cluster::form(3);
    let all: Vec<&Member> = cluster.members().iter().collect();
    let _containers = Containers::of(all.iter().copied());
    let node1 = &cluster.members()[0];
    import_image(node1);
    node1
        .corral(&[
            "init",
            "busybox",
            "vm-like",
            "--target",
            "node1",
            "-c",
            "cluster.evacuate=live-migrate",
        ])
        .ok();
    let refused = node1.corral(&["cluster", "evacuate", "node1", "--force"]);
    assert!(
        refused
            .failed()
            .contains("is a container and cannot be live-migrated"),
        "{refused:#?}"
    );
    assert_eq!(member_state(node1, "node1"), "Online", "nothing changed");

    // While an evacuation runs (a running instance whose init ignores the clean-shutdown
    // signal takes its whole 5 s timeout), a restore is refused, and the other way round.
    node1
        .corral(&[
            "launch",
            "busybox",
            "slow",
            "--target",
            "node1",
            "-c",
            "boot.host_shutdown_timeout=5",
            "-c",
            "cluster.evacuate=stop",
        ])
        .ok();
    let (status, body) = node1.raw(
        "POST",
        "/1.0/cluster/members/node1/state",
        Some(r#"{"action":"evacuate","mode":"stop"}"#),
    );
    assert_eq!(status, 202, "{body}");
    let evacuation: Value = serde_json::from_str(&body).expect("JSON");
    let evacuation = evacuation["operation"]
        .as_str()
        .expect("the evacuation's operation")
        .to_owned();
    let (status, body) = node1.raw(
        "POST",
        "/1.0/cluster/members/node1/state",
        Some(r#"{"action":"restore"}"#),
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("Cannot restore member node1 while an evacuation of it is in progress"),
        "{body}"
    );
    // The member shows Evacuated and its instances Stopped a moment before the operation
    // itself ends: wait for the operation, which is what a restore is refused for.
    wait_until("the evacuation's operation to end", WORK, || {
        let (status, body) = node1.raw("GET", &format!("{evacuation}/wait?timeout=5"), None);
        let op: Value = serde_json::from_str(&body).ok()?;
        (status == 200 && op["metadata"]["status"] == "Success").then_some(())
    });
    assert_eq!(member_state(node1, "node1"), "Evacuated");
    assert!(
        placement(node1).iter().all(|(_, _, s)| s == "Stopped"),
        "{:?}",
        placement(node1)
    );
    let ran = node1.corral(&["cluster", "restore", "node1", "--force"]);
    let restoring = ran.ok().to_owned();
    assert!(restoring.contains("Starting \"slow\""), "{restoring}");
    let (status, body) = node1.raw(
        "POST",
        "/1.0/cluster/members/node1/state",
        Some(r#"{"action":"restore"}"#),
    );
    assert!(
        body.contains("Cluster member is already restored"),
        "{status} {body}"
    );
    node1.corral(&["stop", "slow", "--force"]).ok();

    // With stop asked of every instance it evacuates; the operation, run by node1, is seen
    // from node3 (listed, shown and waited for).
    cluster.members()[1]
        .corral(&[
            "cluster", "evacuate", "node1", "--action", "stop", "--force",
        ])
        .ok();
    let node3 = &cluster.members()[2];
    let (status, body) = node3.raw("GET", "/1.0/operations?recursion=1", None);
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).expect("JSON");
    let op = listed["metadata"]["success"]
        .as_array()
        .and_then(|ops| {
            ops.iter()
                .find(|o| o["description"] == "Evacuating cluster member")
                .cloned()
        })
        .unwrap_or_else(|| panic!("node3 does not list node1's evacuation: {body}"));
    assert_eq!(op["location"], "node1");
    assert!(
        op["metadata"]["steps"].as_array().is_some_and(|s| s
            .iter()
            .any(|t| t == "Stopping \"vm-like\" in project \"default\"")),
        "{op}"
    );
    let id = op["id"].as_str().expect("an id");
    for path in [
        format!("/1.0/operations/{id}"),
        format!("/1.0/operations/{id}/wait?timeout=5"),
    ] {
        let (status, body) = node3.raw("GET", &path, None);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.contains("\"status\":\"Success\""), "{path}: {body}");
    }
    assert_eq!(member_state(node3, "node1"), "Evacuated");
    node3
        .corral(&["cluster", "restore", "node1", "--force"])
        .ok();
    assert_eq!(member_state(node3, "node1"), "Online");

    cluster.members_mut()[2].kill();
    let node1 = &cluster.members()[0];
    wait_until("node3 to be seen offline", Duration::from_secs(60), || {
        (member_state(node1, "node3") == "Offline").then_some(())
    });
    let refused = node1.corral(&["cluster", "evacuate", "node3", "--force"]);
    assert!(refused.failed().contains("is offline"), "{refused:#?}");
}

/// Forms a cluster for the crash tests: the instance `x` (stopped, with `payload_mb` of data)
/// on node1, node3 taking no automatic placement, so node2 is the only destination.
fn crash_cluster(payload_mb: usize) -> Cluster {
    let cluster = Cluster::form(3);
    let m = cluster.members();
    import_image(&m[0]);
    m[0].corral(&["cluster", "set", "node3", "scheduler.instance=manual"])
        .ok();
    m[0].corral(&["init", "busybox", "x", "--target", "node1"])
        .ok();
    if payload_mb > 0 {
        let file = m[0]
            .dir()
            .join("storage-pools/default/containers/x/rootfs/payload");
        let chunk = vec![0x5au8; 1024 * 1024];
        let mut data = Vec::with_capacity(payload_mb * chunk.len());
        for _ in 0..payload_mb {
            data.extend_from_slice(&chunk);
        }
        std::fs::write(&file, data).expect("the payload is written");
    }
    cluster
}

fn location(m: &Member, name: &str) -> String {
    placement(m)
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, l, _)| l)
        .unwrap_or_else(|| panic!("{name} is not listed"))
}

/// Waits until each member holds a copy of `x` only where the database places it.
fn settled(cluster: &Cluster, want: &str) {
    let all: Vec<&Member> = cluster.members().iter().collect();
    wait_until(
        &format!("x to be on {want} only"),
        Duration::from_secs(60),
        || {
            let staging = all.iter().any(|m| {
                std::fs::read_dir(m.dir().join("storage-pools/default/containers"))
                    .map(|d| {
                        d.flatten()
                            .any(|e| e.file_name().to_string_lossy().starts_with(".incoming-"))
                    })
                    .unwrap_or(false)
            });
            (copies(&all, "x") == vec![want.to_owned()] && !staging).then_some(())
        },
    );
    assert_eq!(location(&cluster.members()[0], "x"), want);
}

#[test]
fn a_move_killed_midway_leaves_the_instance_in_one_place() {
    if !instances_run_here() {
        return;
    }
    let mut cluster = crash_cluster(64);
    let _containers = Containers::of(cluster.members());

    // 1. The destination killed while the copy streams in: x stays on node1.
    let incoming = cluster.members()[1]
        .dir()
        .join("storage-pools/default/containers");
    let evacuating = {
        let node3 = cluster.members()[2].socket();
        let corral = corral_tests::corral_bin();
        std::process::Command::new(corral)
            .env("CORRAL_DIR", node3.parent().expect("a directory"))
            .args(["cluster", "evacuate", "node1", "--force"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("corral starts")
    };
    wait_until("the copy to start arriving on node2", WORK, || {
        std::fs::read_dir(&incoming)
            .ok()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".incoming-"))
            .then_some(())
    });
    cluster.members_mut()[1].kill();
    let mut evacuating = evacuating;
    let status = evacuating.wait().expect("corral ends");
    assert!(
        !status.success(),
        "the evacuation cannot succeed without node2"
    );
    cluster.members_mut()[1].restart();
    settled(&cluster, "node1");
    wait_until("node1 back in service", Duration::from_secs(30), || {
        (member_state(&cluster.members()[0], "node1") == "Online").then_some(())
    });

    // 2. The destination killed after its copy is in place, before it switches: the copy
    // is withdrawn when it starts again, x stays on node1.
    cluster.members_mut()[1].kill();
    cluster.members_mut()[1].set_env("CORRAL_TEST_CRASH_AT", "copied");
    cluster.members_mut()[1].restart();
    let out = cluster.members()[2].corral(&["cluster", "evacuate", "node1", "--force"]);
    out.failed();
    wait_until("node2 to abort", Duration::from_secs(30), || {
        (!cluster.members_mut()[1].is_running()).then_some(())
    });
    cluster.members_mut()[1].kill();
    cluster.members_mut()[1].set_env("CORRAL_TEST_CRASH_AT", "");
    cluster.members_mut()[1].restart();
    settled(&cluster, "node1");
    wait_until("node1 back in service", Duration::from_secs(30), || {
        (member_state(&cluster.members()[0], "node1") == "Online").then_some(())
    });

    // 3. The source (which runs the evacuation) killed after the destination confirmed,
    // before it removed its own copy: x is on node2, and node1 drops its copy at start.
    cluster.members_mut()[0].kill();
    cluster.members_mut()[0].set_env("CORRAL_TEST_CRASH_AT", "confirmed");
    cluster.members_mut()[0].restart();
    let out = cluster.members()[2].corral(&["cluster", "evacuate", "node1", "--force"]);
    out.failed();
    wait_until("node1 to abort", Duration::from_secs(30), || {
        (!cluster.members_mut()[0].is_running()).then_some(())
    });
    cluster.members_mut()[0].kill();
    cluster.members_mut()[0].set_env("CORRAL_TEST_CRASH_AT", "");
    cluster.members_mut()[0].restart();
    settled(&cluster, "node2");
}
