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
    /// A join token.
    #[serde(default)]
    pub trust_token: String,
}
