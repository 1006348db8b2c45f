//! Cluster groups on a real three-member cluster, driven as an operator drives them, from a
//! member that does not lead the database: every `corral cluster group` command with lxc's
//! output, LXD's refusals (the `default` group kept, every member in a group, only empty
//! groups deleted), the REST shapes with their ETags, and a new member joining `default`.

use std::io::Write;
use std::process::{Command, Stdio};

use corral_shared::reference::lxd_sample_output;
use corral_tests::{Cluster, CommandOutput, Member, corral_bin, leader_name, wait_for_roles};
use serde_json::{Value, json};

/// `corral ARGS` on `member` with `stdin` piped in.
fn corral_with_stdin(member: &Member, args: &[&str], stdin: &str) -> CommandOutput {
    let mut child = Command::new(corral_bin())
        .args(args)
        .env("CORRAL_DIR", member.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corral starts");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let out = child.wait_with_output().expect("corral ends");
    CommandOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn query(member: &Member, path: &str) -> Value {
    serde_json::from_str(member.corral(&["query", path]).ok()).expect("JSON")
}

fn member_groups(member: &Member, name: &str) -> Value {
    query(member, &format!("/1.0/cluster/members/{name}"))["groups"].clone()
}

/// LXD's capture of a JSON answer.
fn sample_json(name: &str) -> Value {
    serde_json::from_str(&lxd_sample_output(name)).expect("the capture is JSON")
}

/// The error text of a raw REST answer.
fn error_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).expect("an LXD envelope");
    v["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn groups_are_managed_as_lxd_manages_them_from_any_member() {
    let mut cluster = Cluster::form(3);
    let members = wait_for_roles(&cluster[0], 3, 3, 0);
    let leader = leader_name(&members).expect("a leader");
    let at = (0..3)
        .find(|&i| cluster[i].name != leader)
        .expect("a member that does not lead");
    let m = &cluster[at];

    // The default group holds everyone, as LXD lists it.
    assert_eq!(
        m.corral(&["cluster", "group", "list"]).ok(),
        lxd_sample_output("lxc_cluster_group_list.txt")
    );
    assert_eq!(
        query(m, "/1.0/cluster/groups?recursion=1"),
        sample_json("query_cluster_groups_recursion1.json")
    );
    assert_eq!(
        query(m, "/1.0/cluster/groups"),
        json!(["/1.0/cluster/groups/default"])
    );

    // create, with its refusals.
    assert_eq!(
        m.corral(&["cluster", "group", "create", "gpu"]).ok(),
        lxd_sample_output("group_create_gpu.txt")
    );
    let err = m.corral(&["cluster", "group", "create", "gpu"]);
    assert!(
        err.failed()
            .contains("Cluster group \"gpu\" already exists"),
        "{err:?}"
    );
    let err = m.corral(&["cluster", "group", "create", "a,b"]);
    assert!(
        err.failed()
            .contains("Invalid cluster group name \"a,b\": it contains ','"),
        "{err:?}"
    );

    // assign replaces the member's groups; LXD's answers after it, byte for byte.
    assert_eq!(
        m.corral(&["cluster", "group", "assign", "node1", "gpu"])
            .ok(),
        lxd_sample_output("group_assign_node1_gpu.txt")
    );
    assert_eq!(member_groups(m, "node1"), json!(["gpu"]));
    assert_eq!(
        query(m, "/1.0/cluster/groups?recursion=1"),
        sample_json("query_cluster_groups_recursion1_after_assign.json")
    );
    assert_eq!(
        m.corral(&["cluster", "group", "list"]).ok(),
        lxd_sample_output("group_list_after_assign.txt")
    );
    assert_eq!(
        m.corral(&["cluster", "group", "show", "gpu"]).ok(),
        lxd_sample_output("group_show_gpu.yaml")
    );
    assert_eq!(
        m.corral(&["cluster", "group", "assign", "node1", "default,gpu"])
            .ok(),
        lxd_sample_output("group_assign_node1_default_gpu.txt")
    );
    // In joining order, as LXD lists them.
    assert_eq!(
        member_groups(m, "node1"),
        sample_json("query_cluster_members_node1_after_assign_default_gpu.json")["groups"]
    );
    let err = m.corral(&["cluster", "group", "assign", "node1", "fpga"]);
    assert!(
        err.failed()
            .contains("Cluster group \"fpga\" doesn't exist"),
        "{err:?}"
    );

    // The default group stays; a group with members stays.
    let err = m.corral(&["cluster", "group", "delete", "default"]);
    assert_eq!(
        err.failed(),
        lxd_sample_output("err_group_delete_default.txt")
    );
    let err = m.corral(&["cluster", "group", "delete", "gpu"]);
    assert_eq!(
        err.failed(),
        lxd_sample_output("err_group_delete_gpu_nonempty.txt")
    );
    let err = m.corral(&["cluster", "group", "rename", "default", "main"]);
    assert!(
        err.failed()
            .contains("The 'default' cluster group cannot be renamed"),
        "{err:?}"
    );

    // add and remove, with lxc's checks and the last-group rule.
    let out = m.corral(&["cluster", "group", "remove", "node1", "gpu"]);
    assert_eq!(out.ok(), "Cluster member node1 removed from group gpu\n");
    let err = m.corral(&["cluster", "group", "remove", "node1", "gpu"]);
    assert!(
        err.failed()
            .contains("Cluster group gpu isn't currently applied to node1"),
        "{err:?}"
    );
    let err = m.corral(&["cluster", "group", "remove", "node1", "default"]);
    assert!(
        err.failed()
            .contains("Cluster members need to belong to at least one group"),
        "{err:?}"
    );
    assert_eq!(member_groups(m, "node1"), json!(["default"]));
    let out = m.corral(&["cluster", "group", "add", "node2", "gpu"]);
    assert_eq!(out.ok(), "Cluster member node2 added to group gpu\n");
    let err = m.corral(&["cluster", "group", "add", "node2", "gpu"]);
    assert!(
        err.failed()
            .contains("Cluster member node2 is already in group gpu"),
        "{err:?}"
    );

    // The member's PUT/PATCH refuses an empty group list with LXD's exact answer.
    let (status, body) = m.raw(
        "PATCH",
        "/1.0/cluster/members/node3",
        Some(r#"{"groups": []}"#),
    );
    let lxd = lxd_sample_output("raw_err_PATCH_member_without_groups.http");
    let lxd_body = lxd
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("the capture has a body");
    assert_eq!((status, error_of(&body)), (400, error_of(lxd_body)));

    // The group's PUT refuses to leave a member in no group, and takes If-Match.
    let (status, body) = m.raw(
        "PUT",
        "/1.0/cluster/groups/default",
        Some(r#"{"description": "Default cluster group", "members": ["node1", "node2"]}"#),
    );
    assert_eq!(
        (status, error_of(&body)),
        (
            400,
            "Cannot remove \"node3\" from group as member needs to belong to at least one group"
                .to_owned()
        )
    );
    let etag = m
        .etag("/1.0/cluster/groups/gpu")
        .expect("groups have an ETag");
    let change = json!({"description": "GPUs", "members": ["node2", "node3"]});
    assert_eq!(
        m.request_if_match("PUT", "/1.0/cluster/groups/gpu", &change, "0000"),
        412
    );
    assert_eq!(
        m.request_if_match("PUT", "/1.0/cluster/groups/gpu", &change, &etag),
        200
    );
    let gpu = query(m, "/1.0/cluster/groups/gpu");
    assert_eq!(
        (&gpu["description"], &gpu["members"]),
        (&json!("GPUs"), &json!(["node2", "node3"]))
    );
    let (status, _) = m.raw(
        "PATCH",
        "/1.0/cluster/groups/gpu",
        Some(r#"{"description": "fast ones"}"#),
    );
    assert_eq!(status, 200);
    assert_eq!(
        query(m, "/1.0/cluster/groups/gpu")["members"],
        json!(["node2", "node3"]),
        "a PATCH keeps what it does not name"
    );

    // rename, then edit from standard input, then delete once empty.
    let err = m.corral(&["cluster", "group", "rename", "gpu", "default"]);
    assert!(
        err.failed().contains("Name \"default\" already in use"),
        "{err:?}"
    );
    assert_eq!(
        m.corral(&["cluster", "group", "rename", "gpu", "fast"])
            .ok(),
        "Cluster group gpu renamed to fast\n"
    );
    assert_eq!(member_groups(m, "node2"), json!(["default", "fast"]));
    corral_with_stdin(
        m,
        &["cluster", "group", "edit", "fast"],
        "description: quick\nmembers:\n- node3\n",
    )
    .ok();
    let fast = query(m, "/1.0/cluster/groups/fast");
    assert_eq!(
        (&fast["description"], &fast["members"]),
        (&json!("quick"), &json!(["node3"]))
    );
    corral_with_stdin(
        m,
        &["cluster", "group", "edit", "fast"],
        "description: quick\nmembers: []\n",
    )
    .ok();
    assert_eq!(
        m.corral(&["cluster", "group", "delete", "fast"]).ok(),
        "Cluster group fast deleted\n"
    );
    let err = m.corral(&["cluster", "group", "show", "fast"]);
    assert!(err.failed().contains("Cluster group not found"), "{err:?}");

    // Every member sees the same groups, the leader included.
    for i in 0..3 {
        assert_eq!(
            query(&cluster[i], "/1.0/cluster/groups?recursion=1"),
            sample_json("query_cluster_groups_recursion1.json"),
            "as {} sees them",
            cluster[i].name
        );
    }

    // A new member joins the default group.
    cluster.add("node4");
    assert_eq!(member_groups(&cluster[0], "node4"), json!(["default"]));
    let default = query(&cluster[at], "/1.0/cluster/groups/default");
    assert_eq!(
        default["members"],
        json!(["node1", "node2", "node3", "node4"])
    );
}
