//! The join token `corral cluster add <name>` prints: base64 of a small JSON document.

use serde::{Deserialize, Serialize};

use super::base64;

/// What a join token carries, in LXD's field order (the JSON is encoded in this order).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JoinToken {
    /// The name the joining member must use.
    pub server_name: String,
    /// Lowercase hex SHA-256 of the cluster certificate's DER bytes.
    pub fingerprint: String,
    /// Cluster addresses (`host:port`) of the members that were online when it was made.
    pub addresses: Vec<String>,
    /// 32 random bytes, hex: what proves the joiner holds a token.
    pub secret: String,
    /// RFC 3339 time after which the cluster refuses it (LXD's zero time when it never does).
    pub expires_at: String,
}

/// Why a join token could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinTokenError {
    /// Not base64 (LXD's wording).
    #[error("Invalid join token: illegal base64 data at input byte {0}")]
    Base64(usize),
    /// Base64, but not the token's JSON.
    #[error("Invalid join token: the decoded text is not a join token ({0})")]
    Json(String),
    /// A required field is empty.
    #[error("Invalid join token: it has no {0}")]
    Missing(&'static str),
}

impl JoinToken {
    /// The token string users copy: standard base64 (padded) of the JSON.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a join token always serialises");
        base64::encode(&json)
    }

    /// Reads a token, refusing one without a server name, address, secret or fingerprint.
    /// Surrounding whitespace (from copy and paste) is ignored; expiry is not checked here.
    pub fn decode(text: &str) -> Result<Self, JoinTokenError> {
        let bytes = base64::decode(text.trim()).map_err(JoinTokenError::Base64)?;
        let token: Self =
            serde_json::from_slice(&bytes).map_err(|e| JoinTokenError::Json(e.to_string()))?;
        for (field, empty) in [
            ("server_name", token.server_name.is_empty()),
            ("addresses", token.addresses.is_empty()),
            ("secret", token.secret.is_empty()),
            ("fingerprint", token.fingerprint.is_empty()),
        ] {
            if empty {
                return Err(JoinTokenError::Missing(field));
            }
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token LXD printed, and what it decodes to.
    const LXD_TOKEN: &str = "eyJzZXJ2ZXJfbmFtZSI6Im5vZGUyIiwiZmluZ2VycHJpbnQiOiI0OGE5ZDgwMDNjNTYzMmI2M2E0ODY0ZGE5Y2JmMTA0MWQwOWZiZmExZjQ5ZTJmMTk1NDY4ZDM1ODdmZDYxYWQ3IiwiYWRkcmVzc2VzIjpbIjEyNy4wLjAuMTE6ODQ0MyJdLCJzZWNyZXQiOiI0MDA3NmY0NTNlZDdkZWI3NDdkMTE4MTlhMGY0OTk4ZGFjZTczNDJhZTkwNjE4ZjYwOTFkNzMzMzQ5MWRiNjM1IiwiZXhwaXJlc19hdCI6IjIwMjYtMTEtMjNUMjE6MjU6MDQuMTA2MDMxNjA2WiJ9";

    fn lxd_decoded() -> JoinToken {
        JoinToken {
            server_name: "node2".into(),
            fingerprint: "48a9d8003c5632b63a4864da9cbf1041d09fbfa1f49e2f195468d3587fd61ad7".into(),
            addresses: vec!["127.0.0.11:8443".into()],
            secret: "40076f453ed7deb747d11819a0f4998dace7342ae90618f6091d7333491db635".into(),
            expires_at: "2026-11-23T21:25:04.106031606Z".into(),
        }
    }

    #[test]
    fn decodes_and_reencodes_lxds_token_byte_for_byte() {
        assert_eq!(JoinToken::decode(LXD_TOKEN), Ok(lxd_decoded()));
        assert_eq!(lxd_decoded().encode(), LXD_TOKEN);
        assert_eq!(
            JoinToken::decode(&format!("  {LXD_TOKEN}\n")),
            Ok(lxd_decoded())
        );
    }

    #[test]
    fn refuses_broken_tokens() {
        let without = |f: fn(&mut JoinToken)| {
            let mut t = lxd_decoded();
            f(&mut t);
            t.encode()
        };
        for (text, err) in [
            ("eyJzZXJ2!", JoinTokenError::Base64(8)),
            ("TOKEN", JoinTokenError::Base64(4)),
            (
                "",
                JoinTokenError::Json("EOF while parsing a value at line 1 column 0".into()),
            ),
            (
                &without(|t| t.server_name.clear()),
                JoinTokenError::Missing("server_name"),
            ),
            (
                &without(|t| t.addresses.clear()),
                JoinTokenError::Missing("addresses"),
            ),
            (
                &without(|t| t.secret.clear()),
                JoinTokenError::Missing("secret"),
            ),
            (
                &without(|t| t.fingerprint.clear()),
                JoinTokenError::Missing("fingerprint"),
            ),
        ] {
            assert_eq!(JoinToken::decode(text), Err(err.clone()), "{text}");
        }
        assert_eq!(
            JoinTokenError::Base64(8).to_string(),
            "Invalid join token: illegal base64 data at input byte 8"
        );
    }
}
