//! The trust store: which client and member certificates may use the API. A certificate
//! is added by a trusted caller, or by an untrusted one proving the right with a join
//! token or the trust password. Members' server certificates cannot be removed by hand.

use corral_shared::api::{Certificate, CertificatesPost};
use corral_shared::preseed::JoinToken;

use super::{certificate_tokens, tokens};
use crate::db::batch::Batch;
use crate::db::global::certificates::{self, CertificateType};
use crate::db::global::queries::{self, CertificateRow};
use crate::error::{Error, Result};
use crate::node::{Node, Read};

/// LXD's type number for client certificates.
pub const CLIENT: i64 = CertificateType::Client.code();
/// LXD's type number for members' server certificates.
pub const SERVER: i64 = CertificateType::Server.code();

/// The certificate as the API shows it.
pub fn view(row: &CertificateRow) -> Certificate {
    Certificate {
        certificate: row.certificate.clone(),
        fingerprint: row.fingerprint.clone(),
        name: row.name.clone(),
        projects: Vec::new(),
        restricted: false,
        kind: row.kind.word().into(),
    }
}

/// PEM of a DER certificate.
pub fn pem_of(der: &[u8]) -> String {
    let b64 = corral_shared::preseed::base64::encode(der);
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        body.join("\n")
    )
}

/// DER of a certificate given as PEM or as bare base64 (as LXD's clients send it).
pub fn der_of(text: &str) -> Result<Vec<u8>> {
    let bad = |why: &str| {
        Error::BadRequest(format!(
            "invalid certificate: {why}; send it as PEM or base64 DER"
        ))
    };
    if text.contains("-----BEGIN") {
        return rustls_pemfile::certs(&mut text.as_bytes())
            .next()
            .and_then(|c| c.ok())
            .map(|c| c.to_vec())
            .ok_or_else(|| bad("no certificate in the PEM"));
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    corral_shared::preseed::base64::decode(&compact)
        .map_err(|at| bad(&format!("bad base64 at byte {at}")))
}

/// Adds a certificate and returns its fingerprint; without one in `post`, the one the
/// caller `presented` (DER). Untrusted callers must present a join token (which is burned),
/// a certificate add token or its secret (burned too: the caller's own certificate is then
/// trusted under the token's client name), or the trust password; anything else is refused
/// with LXD's "not authorized".
pub async fn add(
    node: &Node,
    post: &CertificatesPost,
    presented: Option<&[u8]>,
    trusted: bool,
) -> Result<String> {
    let from_connection = || {
        presented.map(<[u8]>::to_vec).ok_or_else(|| {
            Error::BadRequest(
                "No client certificate provided: connect with one or send it in \"certificate\""
                    .into(),
            )
        })
    };
    let mut der = None;
    let mut name = post.name.clone();
    let mut kind = if post.kind == "server" {
        CertificateType::Server
    } else {
        CertificateType::Client
    };
    if !trusted {
        let secret = if post.trust_token.is_empty() {
            &post.password
        } else {
            &post.trust_token
        };
        if let Ok(token) = JoinToken::decode(secret) {
            tokens::consume(node, &token).await?;
            // A join token admits a member: its certificate is a server certificate under its name.
            name = token.server_name;
            kind = CertificateType::Server;
        } else if let Some(client) = by_certificate_token(node, secret).await? {
            // As in LXD, the token decides everything: the name, a client certificate, and
            // the certificate the caller connects with, whatever the request says.
            name = client;
            kind = CertificateType::Client;
            der = Some(from_connection()?);
        } else {
            let config = super::config::current(node).await?;
            let stored = config
                .get("core.trust_password")
                .map(String::as_str)
                .unwrap_or("");
            if stored.is_empty() || !corral_shared::config::verify_trust_password(stored, secret) {
                return Err(Error::Forbidden("not authorized".into()));
            }
        }
    }
    let der = match der {
        Some(der) => der,
        None if post.certificate.is_empty() => from_connection()?,
        None => der_of(&post.certificate)?,
    };
    let fingerprint = corral_shared::fingerprint::of_der(&der);
    let mut batch = Batch::new();
    certificates::trust(&mut batch, &fingerprint, kind, &name, &pem_of(&der));
    node.propose(batch).await?;
    Ok(fingerprint)
}

/// The client name a certificate add token (or its bare secret) in `secret` admits, the
/// token burned; `None` when `secret` is no token's.
async fn by_certificate_token(node: &Node, secret: &str) -> Result<Option<String>> {
    if secret.is_empty() {
        return Ok(None);
    }
    certificate_tokens::consume(node, &certificate_tokens::Presented::read(secret)).await
}

/// Every trusted certificate as of now: a linearizable read, or this member's copy marked
/// stale when no leader can confirm it.
pub async fn list_current(node: &Node) -> Result<Read<Vec<Certificate>>> {
    let read = node.read_current(queries::certificates).await?;
    Ok(read.map(|rows| rows.iter().map(view).collect()))
}

/// One certificate by fingerprint, as [`list_current`] reads (LXD's error when there is none).
pub async fn get_current(node: &Node, fingerprint: &str) -> Result<Read<Result<Certificate>>> {
    Ok(list_current(node).await?.map(|all| find(all, fingerprint)))
}

fn find(all: Vec<Certificate>, fingerprint: &str) -> Result<Certificate> {
    all.into_iter()
        .find(|c| c.fingerprint == fingerprint)
        .ok_or_else(|| Error::NotFound("Certificate not found".into()))
}

/// Removes a client certificate; members' server certificates are refused.
pub async fn delete(node: &Node, fingerprint: &str) -> Result<()> {
    // A certificate added through another member a moment ago must be found here.
    node.read_barrier().await?;
    let rows = node.global.read(queries::certificates).await?;
    let cert = find(rows.iter().map(view).collect(), fingerprint)?;
    if cert.kind == "server" {
        return Err(Error::BadRequest(format!(
            "the certificate of member {:?} is a server certificate and cannot be removed here; remove the member with 'corral cluster remove {}'",
            cert.name, cert.name
        )));
    }
    let mut batch = Batch::new();
    certificates::forget(&mut batch, fingerprint);
    node.propose(batch).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_round_trip_between_pem_and_der() {
        let id = crate::tls::Identity::generate("t", vec!["t".into()]).unwrap();
        let der = der_of(id.cert_pem()).unwrap();
        assert_eq!(corral_shared::fingerprint::of_der(&der), id.fingerprint());
        assert_eq!(der_of(&pem_of(&der)).unwrap(), der);
        let bare = corral_shared::preseed::base64::encode(&der);
        assert_eq!(der_of(&bare).unwrap(), der);
        assert!(der_of("not a certificate!").is_err());
    }
}
