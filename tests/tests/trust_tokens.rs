//! HTTPS trust, as LXD 5.0 has it: `corral config trust add NAME` issues a single-use,
//! expiring certificate add token that any member honours; the trust password still
//! works; a removed client certificate is refused at once, on a kept-alive connection and
//! on every member; `--target MEMBER` aims `corral config` at one member.

use std::time::Duration;

use corral_shared::api::CertificateAddToken;
use corral_tests::{Cluster, HttpsClient, Member, wait_until};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A trusted-only path: 403 until the client is trusted.
const MEMBERS: &str = "/1.0/cluster/members";

/// `corral config trust add NAME` on `m`: the printed token, checked against lxc's shape.
fn trust_add(m: &Member, name: &str) -> String {
    let out = m.corral(&["config", "trust", "add", name]);
    let text = out.ok();
    let (title, token) = text
        .strip_suffix('\n')
        .and_then(|t| t.split_once('\n'))
        .unwrap_or_else(|| panic!("two lines expected: {text:?}"));
    assert_eq!(title, format!("Client {name} certificate add token:"));
    token.to_owned()
}

/// The client's request to be trusted with `field` (`trust_token` or `password`) set.
fn add_with(client: &HttpsClient, m: &Member, field: &str, value: &str) -> (u16, String) {
    let body = serde_json::json!({ "type": "client", field: value }).to_string();
    let reply = client.request(&m.address, "POST", "/1.0/certificates", Some(&body));
    (reply.status, reply.body)
}

fn status(client: &HttpsClient, m: &Member, path: &str) -> u16 {
    client.request(&m.address, "GET", path, None).status
}

fn list_tokens_csv(m: &Member) -> String {
    m.corral(&["config", "trust", "list-tokens", "--format", "csv"])
        .ok()
        .to_owned()
}

#[test]
fn a_token_made_on_one_member_admits_its_client_once_through_any_member() {
    let cluster = Cluster::form(3);
    let (m1, m2, m3) = (&cluster[0], &cluster[1], &cluster[2]);
    let token = trust_add(m1, "laptop");
    let decoded = CertificateAddToken::decode(&token).expect("a certificate add token");
    assert_eq!(decoded.client_name, "laptop");
    assert!(
        decoded.addresses.contains(&m1.address),
        "{:?}",
        decoded.addresses
    );
    assert_eq!(decoded.expires_at, "", "core.remote_token_expiry is unset");
    let quiet = m1.corral(&["config", "trust", "add", "ci", "--quiet"]);
    let quiet_token = quiet.ok().trim_end().to_owned();
    assert_eq!(
        CertificateAddToken::decode(&quiet_token).map(|t| t.client_name),
        Ok("ci".to_owned())
    );
    // Both wait, listed by any member as lxc lists them, and neither is a join token.
    let listed = list_tokens_csv(m3);
    assert_eq!(listed, format!("ci,{quiet_token},\nlaptop,{token},\n"));
    let table = m2.corral(&["config", "trust", "list-tokens"]);
    assert!(table.ok().contains("|  NAME  |"), "{}", table.stdout);
    assert!(table.stdout.contains("EXPIRES AT"), "{}", table.stdout);
    let join = m1.corral(&["cluster", "list-tokens", "--format", "csv"]);
    assert_eq!(join.ok(), "", "cluster list-tokens shows join tokens only");

    let laptop = HttpsClient::new();
    assert_eq!(status(&laptop, m3, MEMBERS), 403, "not trusted yet");
    let (code, body) = add_with(&laptop, m2, "trust_token", &token);
    assert_eq!(code, 201, "{body}");
    // The certificate the client will see is the one the token names.
    let reply = laptop.request(&m3.address, "GET", MEMBERS, None);
    assert_eq!(reply.status, 200, "trusted on m3 at once: {}", reply.body);
    assert_eq!(reply.server_fingerprint, decoded.fingerprint);
    let trusted = m1.corral(&["config", "trust", "list", "--format", "csv"]);
    let short = &laptop.fingerprint[..12];
    let row = trusted
        .ok()
        .lines()
        .find(|l| l.starts_with("client,laptop,"))
        .unwrap_or_else(|| panic!("laptop is not listed: {}", trusted.stdout));
    assert!(row.contains(&format!(",{short},")), "{row}");

    // Used once: another client presenting it is refused, saying why, on any member.
    let thief = HttpsClient::new();
    for m in [m1, m3] {
        let (code, body) = add_with(&thief, m, "trust_token", &token);
        assert_eq!(code, 403, "{body}");
        assert!(
            body.contains("No matching certificate add operation found"),
            "{body}"
        );
    }
    assert_eq!(status(&thief, m1, MEMBERS), 403);
    assert_eq!(list_tokens_csv(m1), format!("ci,{quiet_token},\n"));

    // Revoked: gone from the list, and refused when presented.
    let revoked = m2.corral(&["config", "trust", "revoke-token", "ci"]);
    assert_eq!(revoked.ok(), "Certificate add token for ci deleted\n");
    assert_eq!(list_tokens_csv(m3), "");
    let (code, body) = add_with(&thief, m3, "trust_token", &quiet_token);
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("No matching certificate add operation found"),
        "{body}"
    );
    let again = m1.corral(&["config", "trust", "revoke-token", "ci"]);
    assert!(
        again
            .failed()
            .contains("No certificate add token for client ci"),
        "{again:?}"
    );
    // Only a trusted caller may issue one.
    let asked = thief.request(
        &m1.address,
        "POST",
        "/1.0/certificates",
        Some(r#"{"name":"me","type":"client","token":true}"#),
    );
    assert_eq!(asked.status, 403, "{}", asked.body);
}

#[test]
fn an_expired_token_is_refused_and_a_bare_secret_works_until_then() {
    let cluster = Cluster::form(2);
    let (m1, m2) = (&cluster[0], &cluster[1]);
    let bad = m1.corral(&["config", "set", "core.remote_token_expiry", "1 hour"]);
    assert!(bad.failed().contains("core.remote_token_expiry"), "{bad:?}");
    m1.corral(&["config", "set", "core.remote_token_expiry", "1S"])
        .ok();
    let token = trust_add(m1, "short-lived");
    let decoded = CertificateAddToken::decode(&token).expect("a token");
    let expires_at = OffsetDateTime::parse(&decoded.expires_at, &Rfc3339)
        .unwrap_or_else(|e| panic!("an RFC 3339 expiry, not {:?}: {e}", decoded.expires_at));
    let listed = list_tokens_csv(m2);
    assert!(listed.starts_with("short-lived,"), "{listed}");
    assert!(
        listed.trim_end().ends_with(" UTC"),
        "the expiry shown: {listed}"
    );
    wait_until(
        "the token's expiry to pass",
        Duration::from_secs(10),
        || (OffsetDateTime::now_utc() > expires_at).then_some(()),
    );
    let client = HttpsClient::new();
    let (code, body) = add_with(&client, m2, "trust_token", &token);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Token has expired"), "{body}");
    assert_eq!(status(&client, m1, MEMBERS), 403);
    assert_eq!(
        list_tokens_csv(m1),
        "",
        "an expired token is burned when used"
    );

    // With no expiry, the token's bare secret, given as the password, admits the client.
    m1.corral(&["config", "unset", "core.remote_token_expiry"])
        .ok();
    let token = trust_add(m2, "by-secret");
    let secret = CertificateAddToken::decode(&token).expect("a token").secret;
    let (code, body) = add_with(&client, m1, "password", &secret);
    assert_eq!(code, 201, "{body}");
    assert_eq!(status(&client, m2, MEMBERS), 200);
    let trusted = m1.corral(&["config", "trust", "list", "--format", "csv"]);
    assert!(
        trusted.ok().contains("client,by-secret,"),
        "{}",
        trusted.stdout
    );
}

#[test]
fn the_trust_password_still_admits_a_client() {
    let cluster = Cluster::form(2);
    let (m1, m2) = (&cluster[0], &cluster[1]);
    m1.corral(&["config", "set", "core.trust_password", "s3cret"])
        .ok();
    let client = HttpsClient::new();
    let (code, body) = add_with(&client, m2, "password", "wrong");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("not authorized"), "{body}");
    let (code, body) = add_with(&client, m2, "password", "s3cret");
    assert_eq!(code, 201, "{body}");
    assert_eq!(status(&client, m1, MEMBERS), 200);
}

#[test]
fn a_removed_client_is_refused_at_once_on_a_kept_connection_and_on_every_member() {
    let cluster = Cluster::form(3);
    let (m1, m2, m3) = (&cluster[0], &cluster[1], &cluster[2]);
    let token = trust_add(m1, "leaving");
    let client = HttpsClient::new();
    let (code, body) = add_with(&client, m1, "trust_token", &token);
    assert_eq!(code, 201, "{body}");
    let mut on_m2 = client.session(&m2.address);
    let mut on_m3 = client.session(&m3.address);
    assert_eq!(on_m2.request("GET", MEMBERS, None).0, 200);
    assert_eq!(on_m3.request("GET", MEMBERS, None).0, 200);

    m1.corral(&["config", "trust", "remove", &client.fingerprint[..12]])
        .ok();
    // The very next request, on the connections opened while trusted, and on a new one.
    let (code, body) = on_m2.request("GET", MEMBERS, None);
    assert_eq!(code, 403, "{body}");
    assert_eq!(on_m3.request("GET", MEMBERS, None).0, 403);
    assert_eq!(status(&client, m1, MEMBERS), 403);
}

#[test]
fn config_with_target_reads_and_writes_through_the_named_member() {
    let cluster = Cluster::form(2);
    let (m1, m2) = (&cluster[0], &cluster[1]);
    let own = m1.corral(&["config", "get", "core.https_address"]);
    assert_eq!(own.ok().trim(), m1.address);
    let there = m1.corral(&["config", "get", "core.https_address", "--target", "node2"]);
    assert_eq!(there.ok().trim(), m2.address);
    let here = m1.corral(&["config", "get", "core.https_address", "--target", "node1"]);
    assert_eq!(here.ok().trim(), m1.address);
    let shown = m1.corral(&["config", "show", "--target", "node2"]);
    assert!(
        shown
            .ok()
            .contains(&format!("core.https_address: {}", m2.address)),
        "{}",
        shown.stdout
    );
    // A write relayed to node2 lands in the cluster's config.
    m1.corral(&["config", "set", "user.via", "node2", "--target", "node2"])
        .ok();
    let read = m1.corral(&["config", "get", "user.via"]);
    assert_eq!(read.ok().trim(), "node2");
    let unknown = m1.corral(&["config", "get", "core.https_address", "--target", "node9"]);
    assert!(
        unknown
            .failed()
            .contains("No cluster member called 'node9'"),
        "{unknown:?}"
    );
}
