//! The REST API answers in LXD's shapes: envelopes, field names, status codes and ETags,
//! checked against answers captured from a real LXD 5.0 cluster.

use std::collections::BTreeSet;

use corral_tests::{Member, lxd_sample};

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn sample_json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(lxd_sample(name)).expect("the LXD sample");
    serde_json::from_str(&text).expect("sample JSON")
}

/// The body of a raw HTTP capture.
fn sample_body(name: &str) -> String {
    let text = std::fs::read_to_string(lxd_sample(name)).expect("the LXD sample");
    text[text.find('{').expect("a JSON body")..]
        .trim()
        .to_owned()
}

fn metadata(member: &Member, path: &str) -> serde_json::Value {
    let (status, body) = member.raw("GET", path, None);
    assert_eq!(status, 200, "{path}: {body}");
    let envelope: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(envelope["type"], "sync");
    assert_eq!(envelope["status"], "Success");
    assert_eq!(envelope["status_code"], 200);
    envelope["metadata"].clone()
}

#[test]
fn resources_have_lxds_field_names() {
    let node1 = Member::start("node1");
    node1.bootstrap();

    let server = metadata(&node1, "/1.0");
    assert_eq!(keys(&server), keys(&sample_json("query_1.0.json")));
    assert_eq!(server["auth"], "trusted");
    let extensions: Vec<&str> = server["api_extensions"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    // What `lxc cluster edit` and `lxc cluster role` check before they ask.
    for needed in [
        "clustering",
        "clustering_edit_roles",
        "clustering_failure_domains",
    ] {
        assert!(extensions.contains(&needed), "{needed}: {extensions:?}");
    }
    let env = &server["environment"];
    assert_eq!(env["server_clustered"], true);
    assert_eq!(env["server_name"], "node1");
    let fingerprint = env["certificate_fingerprint"]
        .as_str()
        .expect("a fingerprint");
    assert_eq!(fingerprint.len(), 64);
    assert!(
        env["certificate"]
            .as_str()
            .expect("PEM")
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let cluster = metadata(&node1, "/1.0/cluster");
    assert_eq!(keys(&cluster), keys(&sample_json("query_cluster.json")));

    let urls = metadata(&node1, "/1.0/cluster/members");
    assert_eq!(urls, serde_json::json!(["/1.0/cluster/members/node1"]));
    let members = metadata(&node1, "/1.0/cluster/members?recursion=1");
    let sample_member = sample_json("query_cluster_members_node1.json");
    assert_eq!(keys(&members[0]), keys(&sample_member));
    let one = metadata(&node1, "/1.0/cluster/members/node1");
    assert_eq!(one, members[0]);
}

#[test]
fn errors_are_lxds_envelopes_with_lxds_messages() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let cases = [
        (
            "GET",
            "/1.0/cluster/members/nope",
            None,
            404,
            "raw_GET_member_nonexistent_404.http",
        ),
        (
            "PATCH",
            "/1.0",
            Some(r#"{"config": {"cluster.max_voters": "4"}}"#),
            400,
            "raw_err_PATCH_max_voters_4.http",
        ),
        (
            "PATCH",
            "/1.0",
            Some(r#"{"config": {"cluster.offline_threshold": "5"}}"#),
            400,
            "raw_err_PATCH_offline_threshold_5.http",
        ),
    ];
    for (method, path, body, status, sample) in cases {
        let (got_status, got_body) = node1.raw(method, path, body);
        assert_eq!(got_status, status, "{method} {path}: {got_body}");
        assert_eq!(got_body, sample_body(sample), "{method} {path}");
    }
    // Nothing of a refused change was applied.
    assert_eq!(
        node1
            .corral(&["config", "get", "cluster.max_voters"])
            .ok()
            .trim(),
        ""
    );
}

#[test]
fn a_write_with_a_stale_etag_is_refused_with_412() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let etag = node1.etag("/1.0").expect("/1.0 has an ETag");
    let change = serde_json::json!({"config": {"user.a": "1"}});
    assert_eq!(node1.request_if_match("PATCH", "/1.0", &change, &etag), 200);
    // The config changed, so the old ETag is stale now.
    let again = serde_json::json!({"config": {"user.b": "2"}});
    assert_eq!(node1.request_if_match("PATCH", "/1.0", &again, &etag), 412);
    assert_eq!(node1.corral(&["config", "get", "user.b"]).ok().trim(), "");
    let fresh = node1.etag("/1.0").expect("an ETag");
    assert_eq!(node1.request_if_match("PATCH", "/1.0", &again, &fresh), 200);
    assert!(node1.etag("/1.0/cluster/members/node1").is_some());
}

#[test]
fn put_replaces_the_config_and_keeps_the_password_it_cannot_see() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    node1.corral(&["config", "set", "user.gone", "soon"]).ok();
    let server = metadata(&node1, "/1.0");
    let mut config = server["config"].clone();
    config.as_object_mut().expect("object").remove("user.gone");
    config["user.new"] = "here".into();
    let (status, body) = node1.raw(
        "PUT",
        "/1.0",
        Some(&serde_json::json!({"config": config}).to_string()),
    );
    assert_eq!(status, 200, "{body}");
    let after = metadata(&node1, "/1.0")["config"].clone();
    assert_eq!(after["user.new"], "here");
    assert!(after.get("user.gone").is_none(), "{after}");
    assert_eq!(after["core.trust_password"], true);
}

#[test]
fn bootstrapping_through_put_cluster_runs_as_an_operation() {
    let node1 = Member::start("node1");
    node1
        .corral(&["config", "set", "core.https_address", &node1.address])
        .ok();
    let (status, body) = node1.raw(
        "PUT",
        "/1.0/cluster",
        Some(r#"{"server_name": "node1", "enabled": true}"#),
    );
    assert_eq!(status, 202, "{body}");
    let envelope: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(envelope["type"], "async");
    assert_eq!(envelope["status_code"], 100);
    let url = envelope["operation"]
        .as_str()
        .expect("an operation URL")
        .to_owned();
    let done = metadata(&node1, &format!("{url}/wait?timeout=30"));
    assert_eq!(done["status"], "Success", "{done}");
    assert_eq!(done["class"], "task");
    // Started while the server was standalone, whose name is "none" (as in LXD).
    assert_eq!(done["location"], "none");
    let listed = metadata(&node1, "/1.0/operations?recursion=1");
    assert!(
        listed["success"]
            .as_array()
            .is_some_and(|ops| !ops.is_empty()),
        "{listed}"
    );
    assert_eq!(node1.members()[0]["roles"][0], "database-leader");
}

#[test]
fn an_unclustered_server_says_so() {
    let node1 = Member::start("node1");
    let out = node1.corral(&["cluster", "list"]);
    assert!(out.failed().contains("isn't part of a cluster"), "{out:?}");
    let cluster = metadata(&node1, "/1.0/cluster");
    assert_eq!(cluster["enabled"], false);
    assert_eq!(cluster["server_name"], "");
}

/// The header `name` of a raw HTTP capture.
fn sample_header(name: &str, header: &str) -> Option<String> {
    let text = std::fs::read_to_string(lxd_sample(name)).expect("the LXD sample");
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| l.strip_prefix(&format!("{header}: ")))
        .map(|v| v.trim().to_owned())
}

#[test]
fn creations_answer_with_lxds_location_headers() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let client = node1.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // A certificate: 201 Created pointing at it, as LXD's SyncResponseLocation answers.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = rcgen::CertificateParams::new(vec!["ci".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let fingerprint = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cert.der()));
    let body = serde_json::json!({"type": "client", "name": "ci", "certificate": cert.pem()});
    let added = runtime
        .block_on(client.post("/1.0/certificates", &body))
        .expect("the certificate is added");
    assert_eq!(added.status, 201);
    assert_eq!(added.envelope.status_code, 200);
    let location = added.location.expect("a Location header");
    assert_eq!(location, format!("/1.0/certificates/{fingerprint}"));
    let shown = metadata(&node1, &location);
    assert_eq!(shown["fingerprint"], fingerprint.as_str());
    assert_eq!(shown["name"], "ci");

    // An operation: 202 Accepted with its Location, as in LXD's capture.
    let lxd = sample_header("raw_POST_cluster_members_token.http", "Location").expect("LXD's");
    let body = serde_json::json!({"server_name": "node9"});
    let issued = runtime
        .block_on(client.post("/1.0/cluster/members", &body))
        .expect("a token");
    assert_eq!(issued.status, 202);
    let location = issued.location.expect("a Location header");
    assert_eq!(location, issued.envelope.operation);
    let shape = |l: &str| {
        l.rsplit_once('/')
            .map(|(base, id)| (base.to_owned(), id.len()))
    };
    assert_eq!(shape(&location), shape(&lxd), "{location} vs LXD's {lxd}");
    let op = metadata(&node1, &location);
    assert_eq!(op["class"], "token");
    assert_eq!(op["metadata"]["serverName"], "node9");
}
