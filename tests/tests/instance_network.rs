//! Instances on a managed network, with real runc containers on three members each in a
//! network namespace of its own: the default profile's `eth0` on bridge network lan0 gives
//! each instance a veth in its member's bridge, its MAC recorded as LXD records it, an
//! address leased by that member and shown by `corral list` and `corral info` from any
//! member; instances on one bridge reach each other and the bridge; an address is kept
//! across a restart and freed with its instance; two started at once get two; the host's
//! end goes when the instance stops; and an evacuation moves an instance to another
//! member's bridge.

use std::process::Command;
use std::time::Duration;

use corral_tests::containers::{Containers, import_busybox, instances_run_here};
use corral_tests::{Cluster, Member, Net, wait_until};

/// The default profile with its NIC on lan0 (`corrald init --preseed` updates a profile of
/// a running member, as `lxd init --preseed` does).
const PROFILE_ON_LAN0: &str = "profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
    eth0:
      name: eth0
      network: lan0
      type: nic
";

/// `corral list --format csv` through `member`: name to (IPV4 cell, location).
fn addresses(member: &Member) -> Vec<(String, String, String)> {
    member
        .corral(&["list", "--format", "csv"])
        .ok()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), f[2].to_owned(), f[6].to_owned())
        })
        .collect()
}

fn address_of(member: &Member, name: &str) -> String {
    addresses(member)
        .into_iter()
        .find(|(n, ..)| n == name)
        .map(|(_, ip, _)| ip)
        .unwrap_or_default()
}

fn link_in(ns: &str, name: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ip", "link", "show", "dev", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn state(member: &Member, name: &str) -> serde_json::Value {
    let path = format!("/1.0/instances/{name}/state");
    serde_json::from_str(member.corral(&["query", &path]).ok()).expect("JSON")
}

#[test]
fn instances_get_a_nic_and_an_address_on_their_members_bridge() {
    if !instances_run_here() || !Net::available() {
        return;
    }
    let cluster = Cluster::form_in_namespaces(3);
    let _containers = Containers::of(cluster.members());
    let ns: Vec<String> = (0..3)
        .map(|i| cluster.net().expect("namespaces").namespace(i).to_owned())
        .collect();
    import_busybox(&cluster[0]);
    cluster.create_network("lan0", "10.7.0.1/24");
    cluster[1].init(PROFILE_ON_LAN0).ok();

    // Launched from three members; each member leases from its own bridge.
    cluster[2]
        .corral(&["launch", "busybox", "c1", "--target", "node1"])
        .ok();
    cluster[1]
        .corral(&["launch", "busybox", "c2", "--target", "node1"])
        .ok();
    cluster[0]
        .corral(&["launch", "busybox", "c3", "--target", "node2"])
        .ok();
    let listed = addresses(&cluster[2]);
    assert_eq!(
        listed,
        vec![
            ("c1".into(), "10.7.0.2 (eth0)".into(), "node1".into()),
            ("c2".into(), "10.7.0.3 (eth0)".into(), "node1".into()),
            ("c3".into(), "10.7.0.2 (eth0)".into(), "node2".into()),
        ]
    );

    // The MAC is LXD's kind, recorded once, and is the one inside.
    let mac = cluster[0]
        .corral(&["config", "get", "c1", "volatile.eth0.hwaddr"])
        .ok()
        .trim()
        .to_owned();
    assert!(mac.starts_with("00:16:3e:"), "{mac}");
    let inside = cluster[2].corral(&["exec", "c1", "--", "ip", "addr", "show", "eth0"]);
    assert!(inside.ok().contains(&mac), "{}", inside.stdout);
    assert!(
        inside.ok().contains("inet 10.7.0.2/24"),
        "{}",
        inside.stdout
    );

    // On one bridge, instances reach each other and the member.
    for target in ["10.7.0.3", "10.7.0.1"] {
        let ping = cluster[1].corral(&["exec", "c1", "--", "ping", "-c", "1", "-W", "5", target]);
        assert!(ping.ok().contains("1 packets received"), "{}", ping.stdout);
    }

    // The state names the host's end, which is in node1's bridge.
    let seen = state(&cluster[1], "c1");
    let eth0 = &seen["network"]["eth0"];
    assert_eq!(eth0["hwaddr"], mac.as_str());
    assert_eq!(eth0["state"], "up");
    let host = eth0["host_name"].as_str().unwrap_or_default().to_owned();
    assert!(host.starts_with("veth"), "{seen}");
    assert!(link_in(&ns[0], &host), "no {host} on node1");
    let info = cluster[2].corral(&["info", "c1"]);
    assert!(
        info.ok().contains("inet:  10.7.0.2/24 (global)"),
        "{}",
        info.stdout
    );
    assert!(info.ok().contains(&format!("Host interface: {host}")));

    // Stopped: its host end goes, the address shows no more; started again: the same one.
    cluster[0].corral(&["stop", "c1", "--force"]).ok();
    wait_until(
        "c1's host end of its veth to go with it",
        Duration::from_secs(10),
        || (!link_in(&ns[0], &host)).then_some(()),
    );
    assert_eq!(address_of(&cluster[0], "c1"), "");
    cluster[0].corral(&["start", "c1"]).ok();
    assert_eq!(address_of(&cluster[1], "c1"), "10.7.0.2 (eth0)");

    // A deleted instance's address is given to the next one.
    cluster[0].corral(&["delete", "c2", "--force"]).ok();
    cluster[0]
        .corral(&["launch", "busybox", "c4", "--target", "node1"])
        .ok();
    assert_eq!(address_of(&cluster[2], "c4"), "10.7.0.3 (eth0)");

    // Two launched on one member at once get two addresses.
    std::thread::scope(|s| {
        for (via, name) in [(&cluster[1], "c5"), (&cluster[2], "c6")] {
            s.spawn(move || {
                via.corral(&["launch", "busybox", name, "--target", "node1"])
                    .ok();
            });
        }
    });
    let mut both = [address_of(&cluster[0], "c5"), address_of(&cluster[0], "c6")];
    both.sort();
    assert_eq!(both, ["10.7.0.4 (eth0)", "10.7.0.5 (eth0)"]);

    // Evacuated: c3 runs on another member's bridge, with an address of that member's.
    cluster[0]
        .corral(&["cluster", "evacuate", "node2", "--force"])
        .ok();
    let (_, ip, location) = addresses(&cluster[0])
        .into_iter()
        .find(|(n, ..)| n == "c3")
        .expect("c3 listed");
    // Placement sends it to node3, which holds the fewest.
    assert_eq!(
        (ip.as_str(), location.as_str()),
        ("10.7.0.2 (eth0)", "node3")
    );
    assert!(
        !link_in(&ns[1], "lan0"),
        "node2's bridge outlived its evacuation"
    );
}
