//! `cluster.https_address`: members reach each other on their cluster addresses only (Raft,
//! heartbeats, forwarded writes) while clients use `core.https_address`, and both change on
//! a running member. Each member lives in a network namespace with two addresses: its core
//! address on 10.77.0.0/24 and its cluster address on 10.78.0.0/24; a client has a namespace
//! of its own on the core network.

use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use corral_tests::{Cluster, HttpsClient, Member, Net, wait_until};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Runs `f` on a thread inside network namespace `ns` (a namespace is a thread's own).
fn in_namespace<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("the namespace's handle");
        // SAFETY: setns(2) on a valid descriptor; it moves only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("the thread in the namespace")
}

/// Whether a TCP connection to `address` opens from namespace `ns`.
fn connects(ns: &str, address: &str) -> bool {
    let address: SocketAddr = address.parse().expect("an address");
    in_namespace(ns, move || {
        TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok()
    })
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The interface of namespace `ns` that holds `address` (its cable to the switch).
fn cable(ns: &str, address: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "-4", "addr", "show"])
        .output()
        .expect("ip runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains(&format!("inet {address}/")))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no interface holds {address} in {ns}: {text}"))
        .to_owned()
}

/// The last heartbeat recorded for member `name`, as `via`'s replica has it.
fn last_heartbeat(via: &Member, name: &str) -> Option<OffsetDateTime> {
    let query = format!("SELECT heartbeat FROM nodes WHERE name = '{name}'");
    let out = via.corrald(&["sql", "global", &query], None);
    out.ok()
        .lines()
        .filter_map(|l| l.trim().strip_prefix('|')?.strip_suffix('|'))
        .map(str::trim)
        .find_map(|v| OffsetDateTime::parse(v, &Rfc3339).ok())
}

/// Writes commit through every member and every member's heartbeat lands after `since`.
fn cluster_works(cluster: &Cluster, since: OffsetDateTime, round: &str) {
    for (i, m) in cluster.members().iter().enumerate() {
        m.corral(&["config", "set", &format!("user.through{i}"), round])
            .ok();
    }
    for m in cluster.members() {
        let seen = m.corral(&["config", "get", "user.through0"]);
        assert_eq!(seen.ok().trim(), round, "{} sees the writes", m.name);
    }
    // A request for another member is relayed to it (over its cluster address).
    for m in &cluster.members()[1..] {
        let there =
            cluster[0].corral(&["config", "get", "core.https_address", "--target", &m.name]);
        let here = m.corral(&["config", "get", "core.https_address"]);
        assert_eq!(there.ok(), here.ok(), "{} relayed", m.name);
    }
    for m in cluster.members() {
        wait_until(
            &format!("a heartbeat from {} after {since}", m.name),
            Duration::from_secs(15),
            || (last_heartbeat(&cluster[0], &m.name)? > since).then_some(()),
        );
    }
    assert!(
        cluster[0].members().iter().all(|m| m["status"] == "Online"),
        "{:?}",
        cluster[0].members()
    );
}

/// The URL `via` lists for member `name`.
fn url(via: &Member, name: &str) -> String {
    via.member(name)["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn members_talk_on_cluster_addresses_while_clients_use_core_ones() {
    if !Net::available() {
        return;
    }
    // Slot 0 is the client's namespace (10.77.0.1), slot 1 a joiner's (10.77.0.2);
    // node1..node3 get 10.77.0.3..5.
    let cluster = Cluster::form_prepared(3, Some(Net::new(2)), |_| {});
    let net = cluster.net().expect("namespaces");
    let client_ns = net.namespace(0).to_owned();
    let joiner_ns = net.namespace(1).to_owned();
    let ns: Vec<String> = (2..=4).map(|i| net.namespace(i).to_owned()).collect();
    let core = |i: usize| format!("10.77.0.{}", i + 3);
    let wire = |i: usize| format!("10.78.0.{}", i + 3);
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();

    // Each member gets a second address and moves its cluster traffic there, running.
    for i in 0..3 {
        let dev = cable(&ns[i], &core(i));
        ip(&[
            "-n",
            &ns[i],
            "addr",
            "add",
            &format!("{}/24", wire(i)),
            "dev",
            &dev,
        ]);
        cluster[i]
            .corral(&[
                "config",
                "set",
                "cluster.https_address",
                &format!("{}:8443", wire(i)),
            ])
            .ok();
    }
    for i in 0..3 {
        let name = &cluster[i].name;
        assert_eq!(url(&cluster[0], name), format!("https://{}:8443", wire(i)));
        let shown = cluster[i].corral(&["config", "get", "core.https_address"]);
        assert_eq!(shown.ok().trim(), format!("{}:8443", core(i)));
    }

    // Members (and the joiner to come) can no longer reach each other's core addresses,
    // only cluster ones.
    let (joiner_core, joiner_wire) = ("10.77.0.2", "10.78.0.2");
    let dev = cable(&joiner_ns, joiner_core);
    let joiner_net = format!("{joiner_wire}/24");
    ip(&["-n", &joiner_ns, "addr", "add", &joiner_net, "dev", &dev]);
    for (i, namespace) in ns.iter().enumerate() {
        for j in (0..3).filter(|j| *j != i) {
            let route = format!("{}/32", core(j));
            ip(&["-n", namespace, "route", "add", "prohibit", &route]);
        }
        let route = format!("{}/32", core(i));
        ip(&["-n", &joiner_ns, "route", "add", "prohibit", &route]);
        let route = format!("{joiner_core}/32");
        ip(&["-n", namespace, "route", "add", "prohibit", &route]);
    }
    for (i, j) in [(0, 1), (1, 2), (2, 0)] {
        assert!(!connects(&ns[i], &format!("{}:8443", core(j))), "cut");
        assert!(connects(&ns[i], &format!("{}:8443", wire(j))), "wired");
    }
    let cut_at = OffsetDateTime::now_utc();
    cluster_works(&cluster, cut_at, "1");

    // A server with an API address of its own joins over the cluster network: it is
    // reached on its server address, its clients keep its API address.
    let mut node4 = Member::in_namespace("node4", &joiner_ns, format!("{joiner_wire}:8443"));
    node4.launch();
    let own_api = format!("{joiner_core}:8443");
    node4
        .corral(&["config", "set", "core.https_address", &own_api])
        .ok();
    node4.join_by_token(&cluster[0]);
    let get = |key: &str| {
        let out = node4.corral(&["config", "get", key]);
        out.ok().trim().to_owned()
    };
    assert_eq!(get("core.https_address"), own_api);
    assert_eq!(get("cluster.https_address"), node4.address);
    assert_eq!(
        url(&cluster[0], "node4"),
        format!("https://{}", node4.address)
    );
    node4.corral(&["config", "set", "user.joined", "yes"]).ok();
    let seen = cluster[2].corral(&["config", "get", "user.joined"]);
    assert_eq!(seen.ok().trim(), "yes");
    let reply = in_namespace(&client_ns, move || {
        HttpsClient::new().request(&own_api, "GET", "/1.0", None)
    });
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Clients reach every member's core address, which serves the whole API.
    for i in 0..3 {
        let address = format!("{}:8443", core(i));
        let reply = in_namespace(&client_ns, move || {
            HttpsClient::new().request(&address, "GET", "/1.0", None)
        });
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["metadata"]["api_version"], "1.0");
    }

    // node2's core address moves: clients follow, the cluster does not notice.
    cluster[1]
        .corral(&[
            "config",
            "set",
            "core.https_address",
            &format!("{}:8444", core(1)),
        ])
        .ok();
    let (moved, old) = (format!("{}:8444", core(1)), format!("{}:8443", core(1)));
    let reply = in_namespace(&client_ns, move || {
        HttpsClient::new().request(&moved, "GET", "/1.0", None)
    });
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        !connects(&client_ns, &old),
        "the old core address is closed"
    );
    assert_eq!(
        url(&cluster[0], "node2"),
        format!("https://{}:8443", wire(1))
    );

    // node3's cluster address moves: peers dial the new one (the old one is closed).
    let new_wire = format!("{}:8445", wire(2));
    cluster[2]
        .corral(&["config", "set", "cluster.https_address", &new_wire])
        .ok();
    assert!(
        !connects(&ns[0], &format!("{}:8443", wire(2))),
        "old closed"
    );
    for m in cluster.members() {
        assert_eq!(url(m, "node3"), format!("https://{new_wire}"), "{}", m.name);
    }
    wait_until(
        "node1's Raft configuration to name node3's new address",
        Duration::from_secs(5),
        || {
            let raft = cluster[0].corrald(&["cluster", "list-database"], None);
            raft.ok().contains(&new_wire).then_some(())
        },
    );
    cluster_works(&cluster, OffsetDateTime::now_utc(), "2");
}
