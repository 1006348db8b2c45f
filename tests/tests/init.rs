//! `corrald init --dump`, `--auto` and failed joins, on real daemons. (The guided questions
//! are tested through a pseudo-terminal in daemon/tests/init_wizard.rs.)

use corral_shared::preseed::{JoinToken, Preseed};
use corral_tests::{HttpsClient, Member, asset};

fn dump(m: &Member) -> String {
    m.corrald(&["init", "--dump"], None).ok().to_owned()
}

fn parsed(yaml: &str) -> Preseed {
    corral_wizard::parse_preseed(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

#[test]
fn dump_is_the_bootstrap_preseed_without_the_trust_password() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let text = dump(&node1);
    assert!(!text.contains("trust_password"), "{text}");
    let dumped = parsed(&text);
    let given = parsed(&node1.bootstrap_preseed());
    assert_eq!(dumped.config["core.https_address"], node1.address);
    assert_eq!(dumped.storage_pools, given.storage_pools);
    assert_eq!(dumped.networks, given.networks);
    let devices = |p: &Preseed| {
        p.profiles
            .iter()
            .find(|p| p.name == "default")
            .map(|p| p.devices.clone())
    };
    assert_eq!(devices(&dumped), devices(&given));
    let cluster = dumped.cluster.expect("a cluster section");
    assert_eq!(
        (cluster.server_name.as_str(), cluster.enabled),
        ("node1", true)
    );
}

#[test]
fn a_dump_replayed_on_a_fresh_daemon_gives_the_same_configuration() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let first = dump(&node1);
    let copy = Member::start("copy");
    copy.init(&first.replace(&node1.address, &copy.address))
        .ok();
    assert_eq!(
        dump(&copy).replace(&copy.address, "ADDRESS"),
        first.replace(&node1.address, "ADDRESS")
    );
    assert_eq!(copy.member("node1")["status"], "Online");
}

#[test]
fn auto_is_the_standalone_example_and_refuses_to_run_twice() {
    let auto = Member::start("auto");
    auto.corrald(
        &["init", "--auto", "--network-address", &auto.address],
        None,
    )
    .ok();
    let example = Member::start("example");
    let text = std::fs::read_to_string(asset("preseed/standalone.yaml"))
        .expect("the standalone example")
        .replace("127.0.0.1:8443", &example.address);
    example.init(&text).ok();
    let after = dump(&auto);
    assert_eq!(
        after.replace(&auto.address, "ADDRESS"),
        dump(&example).replace(&example.address, "ADDRESS")
    );
    let p = parsed(&after);
    assert_eq!(p.storage_pools[0].driver, "dir");
    assert!(p.cluster.is_none());
    // It now answers on its address.
    let reply = HttpsClient::new().request(&auto.address, "GET", "/1.0", None);
    assert_eq!(reply.status, 200, "{}", reply.body);

    let again = auto.corrald(&["init", "--auto"], None);
    let err = again.failed();
    assert!(err.contains("already exists"), "{err}");
    assert!(err.contains("Nothing was changed."), "{err}");
    assert_eq!(dump(&auto), after);

    let misuse = auto.corrald(&["init", "--network-address", "127.0.0.1"], None);
    assert!(misuse.failed().contains("--auto"), "{}", misuse.stderr);
}

#[test]
fn a_join_to_the_wrong_cluster_fails_says_nothing_changed_and_nothing_did() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let other = Member::start("other1");
    other.bootstrap();
    let joiner = Member::start("node2");
    let before = dump(&joiner);
    // A token from node1's cluster, whose address now answers with another certificate.
    let mut token = JoinToken::decode(&node1.token_for("node2")).expect("a token");
    token.addresses = vec![other.address.clone()];
    let out = joiner.init(&joiner.token_preseed(&node1, &token.encode()));
    let err = out.failed();
    assert!(err.contains("fingerprint mismatch"), "{err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    assert_eq!(dump(&joiner), before);
    assert_eq!(node1.members().len(), 1);
    assert_eq!(other.members().len(), 1);
}

#[test]
fn the_dump_is_only_served_on_the_local_socket() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let reply = HttpsClient::new().request(&node1.address, "GET", "/internal/preseed", None);
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(!reply.body.contains("core.https_address"), "{}", reply.body);
}

/// Everything `init` may change: the dump, the replicated rows a preseed writes (with the
/// ids AUTOINCREMENT hands out), this member's row, its local config and Raft's record.
fn state(m: &Member) -> String {
    rows(m, true)
}

/// `state` with or without the AUTOINCREMENT counters (a cluster that accepted then forgot a
/// member has the same rows, but handed out ids it does not take back).
fn rows(m: &Member, sequences: bool) -> String {
    let mut out = dump(m);
    for table in [
        "config",
        "storage_pools",
        "storage_pools_config",
        "networks",
        "networks_config",
        "profiles",
        "profiles_config",
        "profiles_devices",
        "profiles_devices_config",
        "sqlite_sequence",
        "certificates",
    ] {
        if table == "sqlite_sequence" && !sequences {
            continue;
        }
        let query = format!("SELECT * FROM {table} ORDER BY 1, 2");
        out.push_str(m.corrald(&["sql", "global", &query], None).ok());
    }
    let nodes = "SELECT id, name, address, db_role FROM nodes ORDER BY id";
    out.push_str(m.corrald(&["sql", "global", nodes], None).ok());
    for query in [
        "SELECT * FROM config ORDER BY key",
        "SELECT * FROM raft_nodes",
    ] {
        out.push_str(m.corrald(&["sql", "local", query], None).ok());
    }
    out
}

#[test]
fn an_address_in_use_is_refused_before_anything_changes() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let fresh = Member::start("fresh");
    let before = state(&fresh);
    // node1 already listens on its address: the bootstrap and the standalone example given
    // that address must be refused, and leave the server as it was.
    let bootstrap = fresh
        .bootstrap_preseed()
        .replace(&fresh.address, &node1.address);
    let standalone = std::fs::read_to_string(asset("preseed/standalone.yaml"))
        .expect("the standalone example")
        .replace("127.0.0.1:8443", &node1.address);
    for preseed in [&bootstrap, &standalone] {
        let err = fresh.init(preseed).failed().to_owned();
        assert!(err.contains("cannot listen on"), "{err}");
        assert!(err.contains(&node1.address), "{err}");
        assert!(err.contains("Nothing was changed."), "{err}");
        assert_eq!(state(&fresh), before, "after: {preseed}");
    }
    // Nothing left behind: an empty preseed applies, the right address works, and the
    // cluster has one member.
    fresh.init("config: {}\n").ok();
    assert_eq!(state(&fresh), before);
    fresh.bootstrap();
    assert_eq!(fresh.members().len(), 1);
    // A clustered member already listening on its own address may name it again.
    let again = format!("config:\n  core.https_address: {}\n", fresh.address);
    fresh.init(&again).ok();
}

#[test]
fn a_failure_after_the_commit_is_undone() {
    let fresh = Member::start("fresh");
    let before = state(&fresh);
    // The cluster certificate cannot be saved where a directory stands: this fails after
    // the rows were committed and the local config written, so they must be put back.
    let blocker = fresh.dir().join("cluster.crt");
    std::fs::create_dir(&blocker).expect("a directory in the way");
    let err = fresh.init(&fresh.bootstrap_preseed()).failed().to_owned();
    assert!(err.contains("cannot save the cluster certificate"), "{err}");
    assert!(err.contains("Nothing was changed."), "{err}");
    assert_eq!(state(&fresh), before);
    assert!(
        std::net::TcpStream::connect(&fresh.address).is_err(),
        "nothing listens on {}",
        fresh.address
    );
    std::fs::remove_dir(&blocker).expect("remove the directory");
    fresh.bootstrap();
    assert_eq!(fresh.members().len(), 1);
}

#[test]
fn a_join_whose_address_is_in_use_is_refused_before_asking_the_cluster() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let joiner = Member::start("node2");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let taken = taken.local_addr().expect("bound").to_string();
    let before = state(&joiner);
    let token = node1.token_for("node2");
    let preseed = joiner
        .token_preseed(&node1, &token)
        .replace(&joiner.address, &taken);
    let err = joiner.init(&preseed).failed().to_owned();
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(err.contains("Nothing was changed."), "{err}");
    assert_eq!(state(&joiner), before);
    assert_eq!(node1.members().len(), 1);
    // The token was not used up: the same join with a free address succeeds.
    joiner.init(&joiner.token_preseed(&node1, &token)).ok();
    assert_eq!(node1.members().len(), 2);
}

#[test]
fn a_join_failing_after_acceptance_is_undone_on_both_sides() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let joiner = Member::start("node2");
    let before = state(&joiner);
    let cluster_before = rows(&node1, false);
    // The cluster certificate handed over cannot be saved where a directory stands: the
    // join fails after the cluster accepted the member.
    let blocker = joiner.dir().join("cluster.crt");
    std::fs::create_dir(&blocker).expect("a directory in the way");
    let token = node1.token_for("node2");
    let err = joiner
        .init(&joiner.token_preseed(&node1, &token))
        .failed()
        .to_owned();
    assert!(err.contains("Nothing was changed."), "{err}");
    assert_eq!(state(&joiner), before);
    assert_eq!(node1.members().len(), 1, "{:#?}", node1.members());
    assert_eq!(rows(&node1, false), cluster_before);
    std::fs::remove_dir(&blocker).expect("remove the directory");
    joiner.join_by_token(&node1);
    assert_eq!(node1.members().len(), 2);
}
