//! Certificate add tokens (LXD 5.0's `lxc config trust add`): a trusted caller asks for one
//! for a client name; the new client presents it once, as `trust_token` or `password`, to
//! have the certificate it connects with trusted under that name. Replicated, so any
//! member honours them; burned through Raft before anything else is checked, so a token
//! admits one client at most; shown as operations of class `token`, as LXD shows them.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::{
    CertificateAddToken, CertificatesPost, MemberStatus, Operation, OperationClass, OperationStatus,
};
use rand::RngCore;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{members, tokens};
use crate::db::batch::Batch;
use crate::db::global::certificate_tokens as db_tokens;
use crate::db::global::queries::{self, CertificateTokenRow, MemberRow};
use crate::error::{Error, Result};
use crate::node::{Node, Read};

/// LXD's refusal of a token no waiting one matches (used, revoked or never issued here).
pub const NO_MATCH: &str = "No matching certificate add operation found";

/// LXD's refusal of a token used after its expiry.
pub const EXPIRED: &str = "Token has expired";

/// The config key giving tokens' lifetime (LXD's; empty or unset: they never expire).
pub const EXPIRY_KEY: &str = "core.remote_token_expiry";

/// What a caller presented to prove it may add its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// A whole certificate add token (base64 JSON).
    Token(CertificateAddToken),
    /// Anything else: perhaps a token's bare secret, perhaps the trust password.
    Bare(String),
}

impl Presented {
    /// Reads what was presented: a token when it decodes as one.
    pub fn read(text: &str) -> Self {
        match CertificateAddToken::decode(text) {
            Ok(token) => Presented::Token(token),
            Err(_) => Presented::Bare(text.to_owned()),
        }
    }

    fn secret(&self) -> &str {
        match self {
            Presented::Token(t) => &t.secret,
            Presented::Bare(s) => s,
        }
    }
}

/// The waiting token whose secret is the presented one (compared in constant time).
pub fn matching<'a>(
    rows: &'a [CertificateTokenRow],
    presented: &Presented,
) -> Option<&'a CertificateTokenRow> {
    let secret = presented.secret();
    if secret.is_empty() {
        return None;
    }
    rows.iter().find(|r| {
        corral_shared::fingerprint::constant_time_eq(r.secret.as_bytes(), secret.as_bytes())
    })
}

/// Checks a request for a token: a client certificate, no certificate given, a usable name
/// (LXD's rules and wording).
pub fn check_request(post: &CertificatesPost) -> Result<()> {
    if !post.certificate.is_empty() {
        return Err(Error::BadRequest(
            "Can't use certificate if token is requested".into(),
        ));
    }
    if !post.kind.is_empty() && post.kind != "client" {
        return Err(Error::BadRequest(
            "Tokens can only be issued for client certificates".into(),
        ));
    }
    if post.name.is_empty() {
        return Err(Error::BadRequest(
            "A client name must be provided: name the client the token is for, e.g. \
             'corral config trust add laptop'"
                .into(),
        ));
    }
    if post.name.starts_with('-') || post.name.contains('/') {
        return Err(Error::BadRequest(format!(
            "Invalid certificate name {:?}, name must not start with a hyphen or contain forward slashes",
            post.name
        )));
    }
    Ok(())
}

/// When a token issued at `now` expires under `expiry` (RFC 3339; "" for never).
pub fn expires_at(expiry: Option<Duration>, now: OffsetDateTime) -> String {
    expiry
        .and_then(|d| (now + d).format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The lifetime `core.remote_token_expiry` gives tokens: `None` when unset or empty (values
/// are checked when set; one that still fails to parse counts as unset).
pub fn lifetime(config: &BTreeMap<String, String>) -> Option<Duration> {
    config
        .get(EXPIRY_KEY)
        .and_then(|v| corral_shared::config::parse_expiry(v).ok())
        .flatten()
}

/// The addresses a token names: this member's API address first (when it is a concrete
/// one), then every other online member's.
pub fn addresses(own: Option<&str>, members: &[(MemberStatus, String)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let concrete = |a: &str| !a.is_empty() && !a.starts_with(':') && !a.starts_with("[::]:");
    if let Some(own) = own.filter(|a| concrete(a)) {
        out.push(own.to_owned());
    }
    for (status, address) in members {
        if *status == MemberStatus::Online && !out.contains(address) {
            out.push(address.clone());
        }
    }
    out
}

/// The token as an operation, as LXD shows one: the request it answers, the secret, the
/// certificate the client will see, where to reach the cluster, and the expiry when set.
pub fn as_operation(row: &CertificateTokenRow, location: &str) -> Operation {
    let request: serde_json::Value = serde_json::from_str(&row.request).unwrap_or_else(
        |_| serde_json::json!({ "name": row.name, "type": "client", "token": true }),
    );
    let mut metadata = serde_json::json!({
        "request": request,
        "secret": row.secret,
        "fingerprint": row.fingerprint,
        "addresses": row.addresses,
    });
    if !row.expires_at.is_empty() {
        metadata["expiresAt"] = row.expires_at.clone().into();
    }
    Operation {
        id: row.uuid.clone(),
        class: OperationClass::Token,
        description: "Executing operation".into(),
        created_at: row.created_at.clone(),
        updated_at: row.created_at.clone(),
        status: OperationStatus::Running,
        status_code: OperationStatus::Running.code(),
        resources: BTreeMap::new(),
        metadata,
        may_cancel: true,
        err: String::new(),
        location: location.to_owned(),
    }
}

fn location_of(rows: &[MemberRow], node_id: u64) -> String {
    rows.iter()
        .find(|m| m.id == node_id)
        .map_or_else(String::new, |m| m.name.clone())
}

/// Issues a token for the client named in `post` (checked by [`check_request`]).
pub async fn issue(node: &Node, post: &CertificatesPost) -> Result<Operation> {
    check_request(post)?;
    let config = super::config::current(node).await?;
    let listed: Vec<(MemberStatus, String)> = if node.is_clustered() {
        members::list(node)
            .await?
            .into_iter()
            .map(|m| (m.status, m.url.trim_start_matches("https://").to_owned()))
            .collect()
    } else {
        Vec::new()
    };
    let addresses = addresses(
        config.get("core.https_address").map(String::as_str),
        &listed,
    );
    if addresses.is_empty() {
        return Err(Error::BadRequest(
            "Can't issue token when server isn't listening on network: set an address first, \
             e.g. 'corral config set core.https_address 10.0.0.1:8443'"
                .into(),
        ));
    }
    let now = OffsetDateTime::now_utc();
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let request = CertificatesPost {
        name: post.name.clone(),
        kind: "client".into(),
        token: true,
        ..CertificatesPost::default()
    };
    let row = CertificateTokenRow {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: post.name.clone(),
        secret: hex::encode(secret),
        fingerprint: node.presented_identity().fingerprint().to_owned(),
        addresses,
        expires_at: expires_at(lifetime(&config), now),
        created_at: now.format(&Rfc3339).unwrap_or_default(),
        node_id: node.id(),
        request: serde_json::to_string(&request).map_err(|e| Error::Internal(e.to_string()))?,
    };
    let mut batch = Batch::new();
    db_tokens::issue(&mut batch, &row);
    node.propose(batch).await?;
    let location = members::own_name(node).await.unwrap_or_default();
    Ok(as_operation(&row, &location))
}

/// Every waiting token, as operations, as of now: a linearizable read, or this member's
/// copy marked stale when no leader can confirm it.
pub async fn list_current(node: &Node) -> Result<Read<Vec<Operation>>> {
    let read = node
        .read_current(|c| Ok((queries::certificate_tokens(c)?, queries::members(c)?)))
        .await?;
    Ok(read.map(|(rows, members)| {
        rows.iter()
            .map(|r| as_operation(r, &location_of(&members, r.node_id)))
            .collect()
    }))
}

/// Deletes the token shown as operation `uuid`; false if there is none.
pub async fn revoke(node: &Node, uuid: &str) -> Result<bool> {
    let mut batch = Batch::new();
    db_tokens::revoke(&mut batch, uuid);
    let outcome = node.propose(batch).await?;
    Ok(outcome.rows_affected.first().copied().unwrap_or(0) > 0)
}

/// Uses what a caller presented: when it is (the secret of) a waiting token, burns the token
/// through Raft, then checks its expiry, and returns the name the certificate is trusted
/// under. `None` when a bare value matches no token (it may be the trust password); a
/// whole token that matches none, or one past its expiry, is refused with LXD's words.
pub async fn consume(node: &Node, presented: &Presented) -> Result<Option<String>> {
    // The token may have been issued through another member a moment ago.
    node.read_barrier().await?;
    let rows = node.global.read(queries::certificate_tokens).await?;
    let refused = || Error::Forbidden(NO_MATCH.into());
    let Some(row) = matching(&rows, presented).cloned() else {
        return match presented {
            Presented::Token(_) => Err(refused()),
            Presented::Bare(_) => Ok(None),
        };
    };
    if !revoke(node, &row.uuid).await? {
        // Another client burned it between our read and our write.
        return Err(refused());
    }
    if tokens::expired(&row.expires_at, OffsetDateTime::now_utc()) {
        return Err(Error::Forbidden(EXPIRED.into()));
    }
    let request: CertificatesPost = serde_json::from_str(&row.request).unwrap_or_default();
    Ok(Some(if request.name.is_empty() {
        row.name
    } else {
        request.name
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, secret: &str) -> CertificateTokenRow {
        CertificateTokenRow {
            uuid: format!("uuid-{name}"),
            name: name.into(),
            secret: secret.into(),
            fingerprint: "fp".into(),
            addresses: vec!["127.0.0.1:8443".into()],
            expires_at: String::new(),
            created_at: "2026-12-01T10:00:00Z".into(),
            node_id: 1,
            request: format!(r#"{{"name":"{name}","type":"client","token":true}}"#),
        }
    }

    fn token(name: &str, secret: &str) -> Presented {
        Presented::Token(CertificateAddToken {
            client_name: name.into(),
            fingerprint: "fp".into(),
            addresses: vec!["127.0.0.1:8443".into()],
            secret: secret.into(),
            expires_at: String::new(),
        })
    }

    #[test]
    fn a_token_or_its_bare_secret_matches_by_secret_alone() {
        let rows = vec![row("laptop", "aaaa"), row("ci", "bbbb")];
        for (what, presented, want) in [
            ("whole token", token("laptop", "aaaa"), Some("laptop")),
            // The name in the token is the client's to read, not to choose.
            ("token renamed", token("admin", "bbbb"), Some("ci")),
            (
                "bare secret",
                Presented::Bare("aaaa".into()),
                Some("laptop"),
            ),
            ("wrong secret", token("laptop", "cccc"), None),
            ("prefix of a secret", Presented::Bare("aaa".into()), None),
            ("empty", Presented::Bare(String::new()), None),
        ] {
            assert_eq!(
                matching(&rows, &presented).map(|r| r.name.as_str()),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn presented_values_are_read_as_tokens_only_when_they_decode() {
        let t = CertificateAddToken {
            client_name: "laptop".into(),
            fingerprint: "fp".into(),
            addresses: vec!["a:1".into()],
            secret: "s".into(),
            expires_at: String::new(),
        };
        assert_eq!(Presented::read(&t.encode()), Presented::Token(t));
        assert_eq!(
            Presented::read("hunter2"),
            Presented::Bare("hunter2".into())
        );
    }

    #[test]
    fn requests_for_tokens_follow_lxds_rules() {
        let post = |name: &str, kind: &str, cert: &str| CertificatesPost {
            name: name.into(),
            kind: kind.into(),
            certificate: cert.into(),
            token: true,
            ..CertificatesPost::default()
        };
        for (what, request, want) in [
            ("plain", post("laptop", "client", ""), None),
            ("type left out", post("laptop", "", ""), None),
            (
                "with a certificate",
                post("laptop", "client", "PEM"),
                Some("Can't use certificate if token is requested"),
            ),
            (
                "for a server",
                post("m4", "server", ""),
                Some("Tokens can only be issued for client certificates"),
            ),
            (
                "no name",
                post("", "client", ""),
                Some("A client name must be provided"),
            ),
            (
                "a hyphen first",
                post("-x", "client", ""),
                Some("Invalid certificate name \"-x\", name must not start with a hyphen"),
            ),
            (
                "a slash",
                post("a/b", "client", ""),
                Some("Invalid certificate name \"a/b\""),
            ),
        ] {
            match (check_request(&request), want) {
                (Ok(()), None) => {}
                (Err(e), Some(text)) => assert!(e.to_string().contains(text), "{what}: {e}"),
                (got, want) => panic!("{what}: got {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn expiry_follows_core_remote_token_expiry() {
        let now = OffsetDateTime::parse("2026-12-01T10:00:00Z", &Rfc3339).unwrap();
        let config = |v: Option<&str>| -> BTreeMap<String, String> {
            v.map(|v| BTreeMap::from([(EXPIRY_KEY.to_owned(), v.to_owned())]))
                .unwrap_or_default()
        };
        for (value, want) in [
            (None, ""),
            (Some(""), ""),
            (Some("1S"), "2026-12-01T10:00:01Z"),
            (Some("1d 2H"), "2026-12-02T12:00:00Z"),
            (Some("garbage"), ""),
        ] {
            assert_eq!(expires_at(lifetime(&config(value)), now), want, "{value:?}");
        }
    }

    #[test]
    fn a_token_names_this_members_address_then_the_online_others() {
        let members = vec![
            (MemberStatus::Online, "127.0.0.1:8443".to_owned()),
            (MemberStatus::Offline, "127.0.0.2:8443".to_owned()),
            (MemberStatus::Online, "127.0.0.3:8443".to_owned()),
        ];
        assert_eq!(
            addresses(Some("127.0.0.3:8443"), &members),
            ["127.0.0.3:8443", "127.0.0.1:8443"]
        );
        assert_eq!(
            addresses(Some(":8443"), &members),
            ["127.0.0.1:8443", "127.0.0.3:8443"]
        );
        assert!(addresses(Some("[::]:8443"), &[]).is_empty());
        assert_eq!(addresses(Some("10.0.0.1:8443"), &[]), ["10.0.0.1:8443"]);
    }

    #[test]
    fn tokens_look_like_lxds_certificate_add_token_operations() {
        let mut r = row("laptop", "s");
        let op = as_operation(&r, "m1");
        assert_eq!((op.class, op.status_code), (OperationClass::Token, 103));
        assert_eq!(op.metadata["request"]["name"], "laptop");
        assert_eq!(op.metadata["request"]["type"], "client");
        assert!(op.metadata.get("expiresAt").is_none());
        assert!(op.metadata.get("serverName").is_none(), "not a join token");
        r.expires_at = "2026-12-01T11:00:00Z".into();
        assert_eq!(
            as_operation(&r, "m1").metadata["expiresAt"],
            "2026-12-01T11:00:00Z"
        );
    }
}
