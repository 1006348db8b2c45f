//! Networks across members (issue 18), each member in a network namespace of its own so the
//! bridges it makes never touch the host's interfaces: LXD's two-phase creation and each of
//! its refusals, a real bridge in every member's namespace after the cluster-wide create and
//! none after the delete, a member down during a create (Errored, the member named) and the
//! re-run that finishes it, a non-forced removal taking the member's bridges away, an
//! evacuated member's bridges stopped until its restore, and a daemon without
//! CAP_NET_ADMIN refusing to make a bridge, saying why.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use corral_tests::{Cluster, CommandOutput, Member, Net, corral_bin, corrald_bin, wait_until};

/// Whether interface `name` exists in namespace `ns`.
fn link_in(ns: &str, name: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ip", "link", "show", "dev", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The IPv4 addresses of `name` in namespace `ns`, as `ip` prints them.
fn addresses_in(ns: &str, name: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "ip", "-4", "addr", "show", "dev", name])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `network list --format csv`'s row for `name`.
fn listed(member: &Member, name: &str) -> String {
    let out = member.corral(&["network", "list", "--format", "csv"]);
    out.ok()
        .lines()
        .find(|l| l.starts_with(&format!("{name},")))
        .unwrap_or_default()
        .to_owned()
}

/// `network show NAME [--target MEMBER]` as JSON-ish YAML fields.
fn shown(member: &Member, name: &str, target: Option<&str>) -> serde_json::Value {
    let path = match target {
        Some(t) => format!("/1.0/networks/{name}?target={t}"),
        None => format!("/1.0/networks/{name}"),
    };
    serde_json::from_str(member.corral(&["query", &path]).ok()).expect("JSON")
}

fn refused(out: CommandOutput, text: &str) {
    let err = out.failed();
    assert!(err.contains(text), "expected {text:?} in: {err}");
}

#[test]
fn two_phase_create_makes_a_bridge_in_every_member_and_the_retry_finishes_a_failed_one() {
    if !Net::available() {
        return;
    }
    let mut cluster = Cluster::form_in_namespaces(3);
    let mut ns: Vec<String> = (0..3)
        .map(|i| cluster.net().expect("namespaces").namespace(i).to_owned())
        .collect();
    let one = &cluster[0];

    // The bootstrap preseed's network is in the database, but no member made a bridge of it.
    assert!(
        listed(one, "corralbr0").ends_with(",CREATED"),
        "{}",
        listed(one, "corralbr0")
    );
    for n in &ns {
        assert!(!link_in(n, "corralbr0"), "corralbr0 made in {n}");
    }

    // Phase one, with each refusal LXD gives.
    refused(
        one.corral(&["network", "create", "n1"]),
        "Network not pending on any node (use --target <node> first)",
    );
    refused(
        one.corral(&[
            "network",
            "create",
            "n1",
            "--target",
            "node1",
            "ipv4.address=10.9.0.1/24",
        ]),
        "Config key \"ipv4.address\" may not be used as member-specific key",
    );
    refused(
        one.corral(&[
            "network", "create", "n1", "--type", "macvlan", "--target", "node1",
        ]),
        "Network type \"macvlan\" is not supported",
    );
    assert_eq!(
        one.corral(&["network", "create", "n1", "--target", "node1"])
            .ok(),
        "Network n1 pending on member node1\n"
    );
    refused(
        one.corral(&["network", "create", "n1", "--target", "node1"]),
        "The network already defined on member \"node1\"",
    );
    assert_eq!(listed(one, "n1"), "n1,bridge,YES,,,,0,PENDING");
    refused(
        one.corral(&["network", "create", "n1"]),
        "Network not defined on nodes: node2, node3",
    );
    // A pending network is not one a joiner must answer for.
    let cluster_info = one.corral(&["query", "/1.0/cluster"]);
    assert!(
        !cluster_info.ok().contains("\"n1\""),
        "{}",
        cluster_info.stdout
    );
    // The member-specific key goes with --target, to any member, from any member.
    cluster[1]
        .corral(&[
            "network",
            "create",
            "n1",
            "--target",
            "node2",
            "bridge.external_interfaces=",
        ])
        .ok();
    cluster[2]
        .corral(&["network", "create", "n1", "--target", "node3"])
        .ok();
    refused(
        one.corral(&["network", "create", "n1", "bridge.external_interfaces=eth9"]),
        "Config key \"bridge.external_interfaces\" is cluster member specific",
    );
    for n in &ns {
        assert!(!link_in(n, "n1"), "a pending network made a bridge in {n}");
    }

    // Phase two: every member makes its bridge.
    assert_eq!(
        one.corral(&[
            "network",
            "create",
            "n1",
            "ipv4.address=10.9.0.1/24",
            "ipv6.address=none"
        ])
        .ok(),
        "Network n1 created\n"
    );
    for n in &ns {
        assert!(link_in(n, "n1"), "no bridge n1 in {n}");
        assert!(
            addresses_in(n, "n1").contains("10.9.0.1/24"),
            "{}",
            addresses_in(n, "n1")
        );
    }
    assert_eq!(
        listed(one, "n1"),
        "n1,bridge,YES,10.9.0.1/24,none,,0,CREATED"
    );
    let on2 = shown(&cluster[2], "n1", Some("node2"));
    assert_eq!(on2["status"], "Created");
    assert_eq!(on2["config"]["bridge.external_interfaces"], "");
    assert_eq!(on2["locations"].as_array().map(Vec::len), Some(3));
    refused(
        one.corral(&["network", "create", "n1"]),
        "The network is already created",
    );
    // A Created network is one a joiner must answer for.
    assert!(
        one.corral(&["query", "/1.0/cluster"])
            .ok()
            .contains("\"n1\"")
    );

    // Updates: cluster-wide keys without a target, applied on every member.
    refused(
        one.corral(&["network", "set", "n1", "bridge.external_interfaces", "eth9"]),
        "Config key \"bridge.external_interfaces\" is cluster member specific",
    );
    refused(
        one.corral(&["network", "set", "n1", "ipv4.address", "auto"]),
        "Invalid value for network \"n1\" option \"ipv4.address\"",
    );
    refused(
        one.corral(&[
            "network",
            "set",
            "n1",
            "ipv4.address",
            "10.9.1.1/24",
            "--target",
            "node2",
        ]),
        "Config key \"ipv4.address\" may not be used as member-specific key",
    );
    cluster[1]
        .corral(&["network", "set", "n1", "ipv4.address", "10.9.1.1/24"])
        .ok();
    for n in &ns {
        let addrs = addresses_in(n, "n1");
        assert!(
            addrs.contains("10.9.1.1/24") && !addrs.contains("10.9.0.1/24"),
            "{n}: {addrs}"
        );
    }
    assert_eq!(
        cluster[2]
            .corral(&["network", "get", "n1", "ipv4.address"])
            .ok(),
        "10.9.1.1/24\n"
    );

    // A member down during the cluster-wide create: it is named, the network is Errored,
    // the members that could made their bridges; the re-run finishes it once it is back.
    for (i, member) in ["node1", "node2", "node3"].iter().enumerate() {
        cluster[i]
            .corral(&["network", "create", "n2", "--target", member])
            .ok();
    }
    cluster[2].kill();
    let started = std::time::Instant::now();
    let failed = cluster[0].corral(&["network", "create", "n2", "ipv4.address=10.8.0.1/24"]);
    refused(failed, "member node3");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        listed(&cluster[0], "n2"),
        "n2,bridge,YES,10.8.0.1/24,,,0,ERRORED"
    );
    assert!(link_in(&ns[0], "n2") && link_in(&ns[1], "n2"));
    assert!(!link_in(&ns[2], "n2"));
    assert_eq!(shown(&cluster[0], "n2", Some("node1"))["status"], "Created");
    assert_eq!(shown(&cluster[0], "n2", Some("node3"))["status"], "Pending");
    refused(
        cluster[0].corral(&["network", "create", "n2", "ipv4.address=10.8.0.1/24"]),
        "Network already partially created. Please do not specify any global config when re-running create",
    );
    cluster[2].restart();
    wait_until(
        "node3 to answer the cluster",
        Duration::from_secs(60),
        || {
            let out = cluster[0].corral(&["network", "create", "n2"]);
            (out.code == 0).then_some(())
        },
    );
    assert_eq!(
        listed(&cluster[0], "n2"),
        "n2,bridge,YES,10.8.0.1/24,,,0,CREATED"
    );
    assert!(link_in(&ns[2], "n2"), "the re-run made no bridge on node3");
    assert!(addresses_in(&ns[2], "n2").contains("10.8.0.1/24"));

    // A member joining later makes the bridge of every network created through the API,
    // with its config as it is now, and still none of the preseed's.
    cluster.add("node4");
    ns.push(cluster.net().expect("namespaces").namespace(3).to_owned());
    for (name, address) in [("n1", "10.9.1.1/24"), ("n2", "10.8.0.1/24")] {
        assert!(
            link_in(&ns[3], name),
            "the joiner node4 has no bridge {name}"
        );
        let addrs = addresses_in(&ns[3], name);
        assert!(addrs.contains(address), "{name} on node4: {addrs}");
        assert_eq!(shown(&cluster[0], name, Some("node4"))["status"], "Created");
    }
    assert!(
        !link_in(&ns[3], "corralbr0"),
        "the joiner made the preseed's bridge"
    );

    // Delete: every member's bridge goes.
    assert_eq!(
        cluster[1].corral(&["network", "delete", "n1"]).ok(),
        "Network n1 deleted\n"
    );
    for n in &ns {
        assert!(!link_in(n, "n1"), "bridge n1 left in {n}");
    }
    refused(
        cluster[0].corral(&["network", "show", "n1"]),
        "Network not found",
    );

    // A pending network is deleted from the database alone; one a profile uses is kept.
    cluster[0]
        .corral(&["network", "create", "n3", "--target", "node1"])
        .ok();
    assert_eq!(
        cluster[0].corral(&["network", "delete", "n3"]).ok(),
        "Network n3 deleted\n"
    );
    assert_eq!(listed(&cluster[0], "n3"), "");
    assert!(listed(&cluster[0], "corralbr0").ends_with(",1,CREATED"));
    refused(
        cluster[0].corral(&["network", "delete", "corralbr0"]),
        "The network is currently in use",
    );

    // A removal without --force deletes the leaving member's networks first.
    cluster[0].corral(&["cluster", "remove", "node3"]).ok();
    assert!(!link_in(&ns[2], "n2"), "node3 left with its bridge n2");
    assert!(link_in(&ns[0], "n2") && link_in(&ns[1], "n2"));
    let locations = shown(&cluster[0], "n2", None)["locations"].clone();
    assert_eq!(locations, serde_json::json!(["node1", "node2", "node4"]));
}

/// Deletes interface `name` in namespace `ns`, as a reboot of the member's host would.
fn delete_link_in(ns: &str, name: &str) {
    let done = Command::new("ip")
        .args(["netns", "exec", ns, "ip", "link", "del", "dev", name])
        .status();
    assert!(
        done.is_ok_and(|s| s.success()),
        "ip link del {name} in {ns}"
    );
}

#[test]
fn a_members_bridges_stop_when_it_is_evacuated_and_start_with_its_restore_and_its_daemon() {
    if !Net::available() {
        return;
    }
    let mut cluster = Cluster::form_in_namespaces(3);
    let ns: Vec<String> = (0..3)
        .map(|i| cluster.net().expect("namespaces").namespace(i).to_owned())
        .collect();
    cluster.create_network("lan0", "10.7.0.1/24");
    for n in &ns {
        assert!(link_in(n, "lan0"), "no bridge lan0 in {n}");
    }

    // Evacuated: node2's bridge stops (once its instances are handled), the others' stay.
    cluster[0]
        .corral(&["cluster", "evacuate", "node2", "--force"])
        .ok();
    assert!(
        !link_in(&ns[1], "lan0"),
        "node2 evacuated, its bridge still up"
    );
    assert!(link_in(&ns[0], "lan0") && link_in(&ns[2], "lan0"));

    // Its daemon restarted while evacuated does not start it again.
    let said = "its networks and instances start with its restore";
    cluster[1].kill();
    cluster[1].restart();
    cluster[1].wait_log(said);
    assert!(
        !link_in(&ns[1], "lan0"),
        "an evacuated member started its bridge"
    );

    // Restored (asked of node2 itself: the others may not have seen it back yet): the
    // bridge is back, with the network's address.
    cluster[1]
        .corral(&["cluster", "restore", "node2", "--force"])
        .ok();
    assert!(link_in(&ns[1], "lan0"), "node2 restored without its bridge");
    assert!(addresses_in(&ns[1], "lan0").contains("10.7.0.1/24"));

    // A member whose bridge went while its daemon was down (its host rebooted) makes it
    // again when its daemon starts.
    cluster[0].kill();
    delete_link_in(&ns[0], "lan0");
    cluster[0].restart();
    // The interface comes before its address: wait for both.
    wait_until(
        "node1's daemon to make its bridge lan0 again, with its address",
        Duration::from_secs(30),
        || {
            addresses_in(&ns[0], "lan0")
                .contains("10.7.0.1/24")
                .then_some(())
        },
    );
}

/// A daemon started in its own namespace with CAP_NET_ADMIN taken away (by setpriv), killed
/// and its namespace removed when dropped.
struct Unprivileged {
    child: Child,
    ns: String,
    dir: tempfile::TempDir,
}

impl Unprivileged {
    fn start() -> Self {
        let ns = format!("corral-netcap-{}", std::process::id());
        let made = Command::new("ip").args(["netns", "add", &ns]).status();
        assert!(made.is_ok_and(|s| s.success()), "ip netns add {ns}");
        let dir = tempfile::tempdir().expect("a temp dir");
        let log = std::fs::File::create(dir.path().join("corrald.log")).expect("log");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "setpriv",
                "--bounding-set",
                "-net_admin",
                "--inh-caps",
                "-net_admin",
                "--",
            ])
            .arg(corrald_bin())
            .env("CORRAL_DIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("corrald starts under setpriv");
        let me = Self { child, ns, dir };
        let ready = Command::new(corrald_bin())
            .args(["waitready", "--timeout", "30"])
            .env("CORRAL_DIR", me.dir.path())
            .output()
            .expect("waitready runs");
        assert!(ready.status.success(), "{ready:?}");
        me
    }

    fn corral(&self, args: &[&str]) -> std::process::Output {
        Command::new(corral_bin())
            .args(args)
            .env("CORRAL_DIR", self.dir.path())
            .output()
            .expect("corral runs")
    }
}

impl Drop for Unprivileged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

#[test]
fn without_cap_net_admin_the_create_says_why_and_makes_nothing() {
    if !Net::available() {
        return;
    }
    let daemon = Unprivileged::start();
    let out = daemon.corral(&["network", "create", "capnet"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(err.contains("needs root or CAP_NET_ADMIN"), "{err}");
    assert!(err.contains("setcap cap_net_admin+ep"), "{err}");
    assert!(!link_in(&daemon.ns, "capnet"));
    let list = daemon.corral(&["network", "list", "--format", "csv"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("capnet,bridge,YES,,,,0,ERRORED"), "{text}");
}
