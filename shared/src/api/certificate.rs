//! `/1.0/certificates`: the trust store.

use serde::{Deserialize, Serialize};

/// A trusted certificate, as `GET /1.0/certificates?recursion=1` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// PEM.
    pub certificate: String,
    /// SHA-256 of the DER, hex.
    pub fingerprint: String,
    /// A name for it (a member's name for server certificates).
    pub name: String,
    /// Projects a restricted certificate may use.
    #[serde(default)]
    pub projects: Vec<String>,
    /// Whether it is limited to `projects`.
    #[serde(default)]
    pub restricted: bool,
    /// "client" or "server".
    #[serde(rename = "type")]
    pub kind: String,
}

/// `POST /1.0/certificates`: add a certificate, proving the right with a token or the password.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CertificatesPost {
    /// Name to record.
    #[serde(default)]
    pub name: String,
    /// "client" (default) or "server".
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The certificate, base64 DER or PEM; empty means the one the caller connected with.
    #[serde(default)]
    pub certificate: String,
    /// The trust password, or (as `lxd init` sends it) a join token.
    #[serde(default)]
    pub password: String,
    /// A join token or a certificate add token.
    #[serde(default)]
    pub trust_token: String,
    /// Asks for a certificate add token for a client named `name` instead of adding a
    /// certificate now (LXD 5.0's `lxc config trust add`); the answer is a token operation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub token: bool,
}

/// What `corral config trust add NAME` prints for a new client, as LXD 5.0's
/// `lxc config trust add` does: base64 of this JSON, in LXD's field order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CertificateAddToken {
    /// The name the client's certificate will be trusted under.
    pub client_name: String,
    /// Lowercase hex SHA-256 of the server certificate's DER: the client checks it on contact.
    pub fingerprint: String,
    /// Addresses (`host:port`) the client may reach the cluster at.
    pub addresses: Vec<String>,
    /// What proves the client holds the token (compared in constant time).
    pub secret: String,
    /// RFC 3339 time after which it is refused; empty when it never expires.
    #[serde(default)]
    pub expires_at: String,
}

/// Why a certificate add token could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateAddTokenError {
    /// Not base64.
    #[error("Invalid trust token: illegal base64 data at input byte {0}")]
    Base64(usize),
    /// Base64, but not a trust token's JSON.
    #[error("Invalid trust token: the decoded text is not a trust token ({0})")]
    Json(String),
    /// A required field is empty.
    #[error("Invalid trust token: it has no {0}")]
    Missing(&'static str),
}

impl CertificateAddToken {
    /// The token string users copy: standard base64 (padded) of the JSON.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a trust token always serialises");
        crate::preseed::base64::encode(&json)
    }

    /// Reads a token, refusing one without a client name, address, secret or fingerprint.
    /// Surrounding whitespace is ignored; expiry is the server's to check.
    pub fn decode(text: &str) -> Result<Self, CertificateAddTokenError> {
        let bytes = crate::preseed::base64::decode(text.trim())
            .map_err(CertificateAddTokenError::Base64)?;
        let token: Self = serde_json::from_slice(&bytes)
            .map_err(|e| CertificateAddTokenError::Json(e.to_string()))?;
        for (field, empty) in [
            ("client_name", token.client_name.is_empty()),
            ("addresses", token.addresses.is_empty()),
            ("secret", token.secret.is_empty()),
            ("fingerprint", token.fingerprint.is_empty()),
        ] {
            if empty {
                return Err(CertificateAddTokenError::Missing(field));
            }
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_token_round_trips_and_a_join_token_is_not_one() {
        let token = CertificateAddToken {
            client_name: "laptop".into(),
            fingerprint: "ab".repeat(32),
            addresses: vec!["127.0.0.1:8443".into()],
            secret: "cd".repeat(32),
            expires_at: String::new(),
        };
        assert_eq!(CertificateAddToken::decode(&token.encode()), Ok(token));
        let join = crate::preseed::JoinToken {
            server_name: "m4".into(),
            fingerprint: "ab".repeat(32),
            addresses: vec!["127.0.0.1:8443".into()],
            secret: "cd".repeat(32),
            expires_at: String::new(),
        };
        assert!(matches!(
            CertificateAddToken::decode(&join.encode()),
            Err(CertificateAddTokenError::Json(_))
        ));
        assert!(matches!(
            CertificateAddToken::decode("not base64!"),
            Err(CertificateAddTokenError::Base64(_))
        ));
    }
}
