//! The TLS port: one port for REST and gRPC, the cluster certificate presented, and
//! untrusted clients limited to what LXD lets them do.

use corral_tests::{HttpsClient, Member, lxd_sample};

fn server_info(member: &Member) -> serde_json::Value {
    let out = member.corral(&["query", "/1.0"]);
    serde_json::from_str(out.ok()).expect("JSON")
}

#[test]
fn an_untrusted_client_may_read_slash_1_0_and_nothing_else() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let client = HttpsClient::new();

    let reply = client.request(&node1.address, "GET", "/1.0", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type, "application/json");
    let meta = reply.json()["metadata"].clone();
    assert_eq!(meta["auth"], "untrusted");
    assert!(
        meta.get("config").is_none(),
        "config leaked to an untrusted client: {meta}"
    );
    assert!(meta.get("environment").is_none(), "{meta}");

    let sample = std::fs::read_to_string(lxd_sample("raw_GET_members_untrusted_https_403.http"))
        .expect("sample");
    let sample_body = sample[sample.find('{').expect("body")..].trim();
    for (method, path) in [
        ("GET", "/1.0/cluster/members"),
        ("PATCH", "/1.0"),
        ("GET", "/1.0/operations"),
        ("PUT", "/internal/shutdown"),
    ] {
        let reply = client.request(&node1.address, method, path, Some("{}"));
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.body);
        assert_eq!(reply.body, sample_body, "{method} {path}");
    }
    // Still running: the shutdown attempt did nothing.
    assert_eq!(server_info(&node1)["environment"]["server_clustered"], true);
}

#[test]
fn members_present_the_cluster_certificate_once_bootstrapped() {
    let node1 = Member::new("node1");
    let mut node1 = node1;
    node1.launch();
    node1
        .corral(&["config", "set", "core.https_address", &node1.address])
        .ok();
    let client = HttpsClient::new();
    let before = client
        .request(&node1.address, "GET", "/1.0", None)
        .server_fingerprint;
    let server_crt = std::fs::read_to_string(node1.dir().join("server.crt")).expect("server.crt");
    assert!(!server_crt.is_empty());

    node1.bootstrap();
    let after = client
        .request(&node1.address, "GET", "/1.0", None)
        .server_fingerprint;
    assert_ne!(
        before, after,
        "bootstrapping switches to the cluster certificate"
    );
    let env = &server_info(&node1)["environment"];
    assert_eq!(env["certificate_fingerprint"], after.as_str());
    assert!(node1.dir().join("cluster.crt").exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(node1.dir().join("cluster.key"))
            .expect("cluster.key")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the cluster key is owner-only");
}

#[test]
fn the_unix_socket_is_owner_only() {
    let node1 = Member::start("node1");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(node1.socket())
            .expect("the socket")
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "group and others have no access: {mode:o}");
}

#[test]
fn grpc_shares_the_port_and_refuses_callers_without_the_cluster_certificate() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    // A stranger with its own certificate, pinning the cluster's so the TLS part succeeds.
    let stranger = corral_daemon::tls::Identity::generate("stranger", vec!["stranger".into()])
        .expect("identity");
    let pinned = server_info(&node1)["environment"]["certificate_fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();
    let tls = corral_shared::tls::client_config(
        &corral_shared::tls::ServerTrust::Fingerprint(pinned.clone()),
        Some(&corral_shared::tls::ClientIdentity::new(
            stranger.cert_der(),
            stranger.key_der(),
        )),
        &[b"h2"],
    )
    .expect("tls")
    .config;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let status = rt.block_on(async {
        let channel = corral_daemon::peers::dial::channel(&node1.address, tls);
        let mut client = corral_proto::v1::raft_client::RaftClient::new(channel);
        client
            .vote(corral_proto::v1::RaftPayload {
                json: b"{}".to_vec(),
            })
            .await
            .expect_err("a stranger may not vote")
    });
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
}

#[test]
fn a_client_trusted_with_the_password_may_manage_the_cluster_and_server_certificates_stay() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let node2 = Member::start("node2");
    node2.join_by_token(&node1);
    let client = HttpsClient::new();
    let wrong = client.request(
        &node1.address,
        "POST",
        "/1.0/certificates",
        Some(r#"{"name": "ops", "password": "nope"}"#),
    );
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    let added = client.request(
        &node1.address,
        "POST",
        "/1.0/certificates",
        Some(r#"{"name": "ops", "password": "sekret"}"#),
    );
    // LXD answers a creation with 201 Created (and the new certificate's Location).
    assert_eq!(added.status, 201, "{}", added.body);
    // Trusted now, on every member once the trust store has replicated there.
    for member in [&node1, &node2] {
        corral_tests::wait_until(
            &format!("{} to trust the client", member.name),
            std::time::Duration::from_secs(10),
            || {
                let reply = client.request(&member.address, "GET", "/1.0", None);
                (reply.json()["metadata"]["auth"] == "trusted").then_some(())
            },
        );
    }
    let members = client.request(
        &node2.address,
        "GET",
        "/1.0/cluster/members?recursion=1",
        None,
    );
    assert_eq!(members.status, 200, "{}", members.body);

    // A member's server certificate cannot be removed by a client; the client's own can.
    let certs = client
        .request(&node1.address, "GET", "/1.0/certificates?recursion=1", None)
        .json();
    let server_fp = certs["metadata"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "server"))
        .and_then(|c| c["fingerprint"].as_str())
        .expect("a member's server certificate")
        .to_owned();
    let refused = client.request(
        &node1.address,
        "DELETE",
        &format!("/1.0/certificates/{server_fp}"),
        None,
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    let removed = client.request(
        &node1.address,
        "DELETE",
        &format!("/1.0/certificates/{}", client.fingerprint),
        None,
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    let after = client.request(&node1.address, "GET", "/1.0/cluster/members", None);
    assert_eq!(after.status, 403, "no longer trusted: {}", after.body);
}
