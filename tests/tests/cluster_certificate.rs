//! `corral cluster update-certificate`: every member writes the new pair and presents it
//! without a restart; a member that cannot take it (down, or unable to write) makes the
//! update fail naming it, with every member back on the old certificate; join tokens
//! carrying the old fingerprint stop working.

#[path = "remote_https/common.rs"]
mod common;

use std::time::Duration;

use corral_tests::{Cluster, HttpsClient, Member, Monitor, lxd_sample, wait_until};

/// A new self-signed certificate and its key, PEM, written into `dir`; their paths and the
/// certificate's fingerprint.
fn new_certificate(dir: &std::path::Path, name: &str) -> (String, String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = rcgen::CertificateParams::new(vec!["cluster.example".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let crt = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&crt, cert.pem()).expect("write the certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("write the key");
    (
        crt.display().to_string(),
        key_path.display().to_string(),
        corral_shared::fingerprint::of_der(cert.der()),
    )
}

/// The fingerprint `corral query /1.0` reports on `member`.
fn reported(member: &Member) -> String {
    member.server_info()["environment"]["certificate_fingerprint"]
        .as_str()
        .expect("a fingerprint")
        .to_owned()
}

/// The fingerprint `member` presents in a TLS handshake of the test's own.
fn presented(member: &Member) -> String {
    HttpsClient::new()
        .request(&member.address, "GET", "/1.0", None)
        .server_fingerprint
}

/// Every member reports and presents `fingerprint`.
fn all_present(cluster: &Cluster, fingerprint: &str) {
    for m in cluster.members() {
        assert_eq!(reported(m), fingerprint, "{} reports", m.name);
        assert_eq!(presented(m), fingerprint, "{} presents", m.name);
    }
}

/// The status of a member-only call (`GET /internal/ready`) made to `member` presenting
/// the certificate and key in `dir` (`cluster.crt`, `cluster.key`, read before a test
/// changes them).
fn as_member(member: &Member, crt: &str, key: &str) -> u16 {
    use corral_shared::tls::{ClientIdentity, ServerTrust};
    let identity = ClientIdentity::from_pem(crt, key, "a cluster certificate").expect("PEM");
    let client =
        corral_shared::client::Client::https(&member.address, &ServerTrust::Any, Some(&identity))
            .expect("a client");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(client.raw("GET", "/internal/ready", None))
        .expect("an answer")
        .0
}

/// A write through every member commits, and every member is seen online: members still
/// reach each other (forwarded writes, Raft, heartbeats).
fn cluster_works(cluster: &Cluster, round: &str) {
    for (i, m) in cluster.members().iter().enumerate() {
        m.corral(&["config", "set", &format!("user.round{i}"), round])
            .ok();
    }
    let first = &cluster[0];
    for m in cluster.members() {
        assert_eq!(
            m.corral(&["config", "get", &format!("user.round{}", 0)])
                .ok()
                .trim(),
            round,
            "{} sees the writes",
            m.name
        );
    }
    wait_until("every member online", Duration::from_secs(30), || {
        first
            .members()
            .iter()
            .all(|m| m["status"] == "Online")
            .then_some(())
    });
}

#[test]
fn bad_certificates_are_refused_and_get_is_not_implemented() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let dir = tempfile::tempdir().expect("a directory");
    let (a_crt, a_key, _) = new_certificate(dir.path(), "a");
    let (_, b_key, _) = new_certificate(dir.path(), "b");
    let old = reported(&node1);

    // Not PEM.
    let junk = dir.path().join("junk.crt");
    std::fs::write(&junk, "not a certificate").expect("write");
    let err = node1
        .corral(&[
            "cluster",
            "update-certificate",
            junk.to_str().expect("a path"),
            &a_key,
        ])
        .failed()
        .to_owned();
    assert!(
        err.contains("Failed to parse the new cluster certificate")
            && err.contains("no '-----BEGIN CERTIFICATE-----' block"),
        "{err}"
    );
    // A key that is another certificate's.
    let err = node1
        .corral(&["cluster", "update-certificate", &a_crt, &b_key])
        .failed()
        .to_owned();
    assert!(
        err.contains("the key does not belong to the certificate"),
        "{err}"
    );
    // The API answers 400 with the reason, as LXD does for PEM that does not decode.
    let body = serde_json::json!({"cluster_certificate": "x", "cluster_certificate_key": "y"});
    let (status, text) = node1.raw("PUT", "/1.0/cluster/certificate", Some(&body.to_string()));
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("not PEM"), "{text}");
    assert_eq!(reported(&node1), old, "nothing changed");

    // GET is not allowed, in LXD's words.
    let sample =
        std::fs::read_to_string(lxd_sample("query_cluster_certificate_GET_not_allowed.json"))
            .expect("the sample");
    let lxd_says = sample
        .trim()
        .strip_prefix("Error: ")
        .expect("lxc's error line");
    let (status, text) = node1.raw("GET", "/1.0/cluster/certificate", None);
    assert_eq!(status, 501, "{text}");
    let envelope: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(envelope["error"], lxd_says, "{text}");
    let out = node1.corral(&["query", "/1.0/cluster/certificate"]);
    assert!(out.failed().contains(lxd_says), "{out:?}");
}

#[test]
fn the_certificate_moves_to_every_member_or_to_none() {
    let mut cluster = Cluster::form(3);
    let old = reported(&cluster[0]);
    all_present(&cluster, &old);
    let dir = tempfile::tempdir().expect("a directory");
    let (crt, key, new) = new_certificate(dir.path(), "new");
    let old_token = cluster[0].token_for("node4");
    let read = |name: &str| std::fs::read_to_string(cluster[0].dir().join(name)).expect("PEM");
    let (old_crt, old_key) = (read("cluster.crt"), read("cluster.key"));
    let new_pem = (
        std::fs::read_to_string(&crt).expect("PEM"),
        std::fs::read_to_string(&key).expect("PEM"),
    );

    // node3 cannot write it (its next key file's place is taken by a directory): node2,
    // switched already, goes back, and the update fails naming node3.
    let blocker = cluster[2].dir().join("cluster.key.next.tmp");
    std::fs::create_dir(&blocker).expect("a directory in node3's way");
    let err = cluster[0]
        .corral(&["cluster", "update-certificate", &crt, &key])
        .failed()
        .to_owned();
    assert!(
        err.contains("on member \"node3\"")
            && err.contains("cannot write the new cluster certificate")
            && err.contains("every member keeps the old certificate"),
        "{err}"
    );
    all_present(&cluster, &old);
    cluster_works(&cluster, "1");
    std::fs::remove_dir(&blocker).expect("out of the way");

    // node3 is down: the update fails naming it, and nothing changes.
    cluster[2].kill();
    let err = cluster[0]
        .corral(&["cluster", "update-certificate", &crt, &key])
        .failed()
        .to_owned();
    assert!(
        err.contains("on member \"node3\"") && err.contains("every member keeps the old"),
        "{err}"
    );
    for m in &cluster.members()[..2] {
        assert_eq!(reported(m), old, "{}", m.name);
        assert_eq!(presented(m), old, "{}", m.name);
    }
    cluster[2].restart();
    cluster_works(&cluster, "2");
    for m in cluster.members() {
        assert_eq!(
            as_member(m, &old_crt, &old_key),
            200,
            "{} takes the old",
            m.name
        );
        assert_eq!(
            as_member(m, &new_pem.0, &new_pem.1),
            403,
            "{} refuses the new",
            m.name
        );
    }

    // A laptop pins the cluster's certificate as a remote.
    let laptop = common::Laptop::new();
    let token = common::trust_token(&cluster[0], "laptop");
    laptop.corral(&["remote", "add", "prod", &token], "").ok();
    laptop.corral(&["cluster", "list", "prod:"], "").ok();

    // With every member up it succeeds, run from node2 this time; each member announces it.
    let pids: Vec<Option<u32>> = cluster.members().iter().map(Member::pid).collect();
    let monitor = Monitor::start(&cluster[2], &["--type", "lifecycle", "--format", "json"]);
    monitor.follow(&cluster[2]);
    cluster[1]
        .corral(&["cluster", "update-certificate", &crt, &key])
        .ok();
    all_present(&cluster, &new);
    // In place: the same processes present it, none restarted.
    let now: Vec<Option<u32>> = cluster.members().iter().map(Member::pid).collect();
    assert_eq!(now, pids, "no member restarted");
    // A lifecycle listener also hears the other members' own events: each member announces
    // its own update, so the one to check is node3's.
    let line = monitor.line(Duration::from_secs(5), |l| {
        serde_json::from_str::<serde_json::Value>(l).is_ok_and(|e| {
            e["metadata"]["action"] == "cluster-certificate-updated" && e["location"] == "node3"
        })
    });
    let event: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(event["metadata"]["source"], "/1.0/cluster/certificate");
    assert_eq!(event["location"], "node3");
    let pem = std::fs::read_to_string(&crt).expect("the new certificate");
    for m in cluster.members() {
        let written = std::fs::read_to_string(m.dir().join("cluster.crt")).expect("cluster.crt");
        assert_eq!(written, pem, "{} wrote it", m.name);
    }
    // The old certificate no longer makes a caller a member; the new one does.
    for m in cluster.members() {
        assert_eq!(
            as_member(m, &old_crt, &old_key),
            403,
            "{} refuses the old",
            m.name
        );
        assert_eq!(
            as_member(m, &new_pem.0, &new_pem.1),
            200,
            "{} takes the new",
            m.name
        );
    }
    // Members still reach each other, over connections made with the new certificate.
    cluster_works(&cluster, "3");
    // The laptop is told the certificate changed and what to do about it.
    let refused = laptop.corral(&["cluster", "list", "prod:"], "");
    let error = refused.failed();
    for says in [
        "The server certificate of remote \"prod\"",
        &format!("pinned:    {old}"),
        &format!("presented: {new}"),
        "corral remote remove prod",
    ] {
        assert!(error.contains(says), "{says}: {error}");
    }
    laptop.corral(&["remote", "remove", "prod"], "").ok();
    let token = common::trust_token(&cluster[0], "laptop2");
    laptop.corral(&["remote", "add", "prod", &token], "").ok();
    laptop.corral(&["cluster", "list", "prod:"], "").ok();

    // A member restarted after a crash comes back with it.
    cluster[0].kill();
    cluster[0].restart();
    assert_eq!(presented(&cluster[0]), new);
    cluster_works(&cluster, "4");

    // A token carrying the old fingerprint no longer works; a new one does.
    let node4 = Member::start("node4");
    let out = node4.init(&node4.token_preseed(&cluster[0], &old_token));
    let err = out.failed();
    assert!(
        err.contains("Certificate fingerprint mismatch")
            && err.contains("corral cluster add node4"),
        "{err}"
    );
    // The members refuse it too, should a joiner not check the fingerprint.
    let body = serde_json::json!({"type": "server", "name": "node4", "trust_token": old_token});
    let reply = HttpsClient::new().request(
        &cluster[0].address,
        "POST",
        "/1.0/certificates",
        Some(&body.to_string()),
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.body.contains("which was replaced since"),
        "{}",
        reply.body
    );
    node4.join_by_token(&cluster[0]);
    assert_eq!(presented(&node4), new);
}
