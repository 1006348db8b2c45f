//! The shared client over HTTPS: the same `Client` (REST and the Watch stream) that speaks
//! to the unix socket reaches a member's TLS port with a trusted client certificate and
//! the cluster certificate pinned.

use std::time::Duration;

use corral_shared::api::WatchEvent;
use corral_shared::client::{Client, ClientError};
use corral_shared::tls::{ClientIdentity, ServerTrust};
use corral_tests::Member;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A new client certificate: its PEM (to trust it) and the identity that presents it.
fn identity() -> (String, ClientIdentity) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = rcgen::CertificateParams::new(vec!["remote".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let identity =
        ClientIdentity::from_pem(&cert.pem(), &key.serialize_pem(), "test").expect("identity");
    (cert.pem(), identity)
}

fn cluster_fingerprint(member: &Member) -> String {
    member.server_info()["environment"]["certificate_fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned()
}

#[test]
fn a_trusted_certificate_reaches_rest_and_watch_over_https_as_over_the_socket() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let pinned = ServerTrust::Fingerprint(cluster_fingerprint(&node1));
    let (pem, identity) = identity();
    let client = Client::https(&node1.address, &pinned, Some(&identity)).expect("TLS setup");
    assert_eq!(
        client.place().to_string(),
        format!("https://{}", node1.address)
    );
    let rt = runtime();

    // Not trusted yet: the member answers, as it does any stranger, with the public part.
    let info: serde_json::Value = rt.block_on(client.get("/1.0")).expect("GET /1.0");
    assert_eq!(info["auth"], "untrusted", "{info}");
    let refused = rt
        .block_on(client.get::<serde_json::Value>("/1.0/cluster/members"))
        .expect_err("a stranger may not list members");
    assert_eq!(refused.status(), Some(403), "{refused}");

    let body = serde_json::json!({"name": "remote", "type": "client", "certificate": pem});
    let (status, text) = node1.raw("POST", "/1.0/certificates", Some(&body.to_string()));
    assert!(matches!(status, 200 | 201), "{status}: {text}");

    // Trusted: the same answers as through the unix socket.
    let info: serde_json::Value = rt.block_on(client.get("/1.0")).expect("GET /1.0");
    assert_eq!(info["auth"], "trusted", "{info}");
    let over_https: Vec<String> = rt
        .block_on(client.get("/1.0/cluster/members"))
        .expect("members over HTTPS");
    let over_socket: Vec<String> = rt
        .block_on(node1.client().get("/1.0/cluster/members"))
        .expect("members over the socket");
    assert_eq!(over_https, over_socket);
    let mut kept = rt.block_on(client.keep_alive()).expect("a kept connection");
    for _ in 0..3 {
        let (status, _) = rt
            .block_on(kept.raw("GET", "/1.0/cluster", None))
            .expect("a request on the kept connection");
        assert_eq!(status, 200);
    }

    // The Watch stream over the same connector starts with a snapshot of this member.
    let first = rt.block_on(async {
        let mut stream = client.watch().await.expect("a trusted client may watch");
        tokio::time::timeout(Duration::from_secs(10), stream.next()).await
    });
    match first {
        Ok(Ok(Some(WatchEvent::Snapshot(snapshot)))) => {
            assert_eq!(snapshot.server_name, "node1")
        }
        other => panic!("expected a snapshot first, got {other:?}"),
    }
}

#[test]
fn a_server_with_another_certificate_is_refused_before_any_request() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let (_, identity) = identity();
    let wrong = ServerTrust::Fingerprint("ab".repeat(32));
    let client = Client::https(&node1.address, &wrong, Some(&identity)).expect("TLS setup");
    let err = runtime()
        .block_on(client.get::<serde_json::Value>("/1.0"))
        .expect_err("the pin does not match");
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("fingerprint mismatch"), "{text}");
    assert!(
        text.contains("compare its certificate's fingerprint"),
        "{text}"
    );
}
