//! Calls to the member holding an instance (its `/internal/instances/...` endpoints), made
//! over the cluster connection by a member that received a request for an instance it does
//! not hold. The answer's error, when there is one, comes back as the holder said it.

use std::time::Duration;

use corral_shared::api::{Envelope, ResponseType};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::Peers;

/// A member holding instances, to be called.
pub struct Holder {
    /// Its name (for messages).
    pub name: String,
    /// Its cluster address.
    pub address: String,
}

impl Holder {
    /// The member `name` at `address`.
    pub fn new(name: &str, address: &str) -> Self {
        Self {
            name: name.to_owned(),
            address: address.to_owned(),
        }
    }

    /// Sends `method path` with `body` and returns the metadata of its answer, within `bound`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        node: &Node,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        bound: Duration,
    ) -> Result<T> {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let answer = Peers::of(node)?
            .member(&self.address)
            .within(bound)
            .relay(method, path, bytes.into())
            .await
            .map_err(|e| self.unreachable(&e.reason()))?;
        let envelope: Envelope = serde_json::from_slice(&answer.body).map_err(|e| {
            Error::Internal(format!(
                "cluster member {} answered {method} {path} with HTTP {} and no LXD envelope ({e})",
                self.name, answer.status
            ))
        })?;
        if envelope.kind == ResponseType::Error || answer.status >= 400 {
            return Err(Error::from_status(answer.status, envelope.error));
        }
        serde_json::from_value(envelope.metadata).map_err(|e| {
            Error::Internal(format!(
                "cluster member {} answered {method} {path} with unexpected metadata: {e}",
                self.name
            ))
        })
    }

    /// Sends `method path` with raw `body` and returns the answer's status and body as sent.
    pub async fn raw(
        &self,
        node: &Node,
        method: &str,
        path: &str,
        body: Vec<u8>,
        bound: Duration,
    ) -> Result<(u16, hyper::body::Bytes)> {
        let answer = Peers::of(node)?
            .member(&self.address)
            .within(bound)
            .relay(method, path, body.into())
            .await
            .map_err(|e| self.unreachable(&e.reason()))?;
        Ok((answer.status, answer.body))
    }

    /// The refusal when the holder does not answer.
    pub fn unreachable(&self, reason: &str) -> Error {
        Error::Unavailable(format!(
            "The instance is on cluster member {}, which could not be reached ({reason}): \
             check that it runs ('corral cluster list'); its instances can be read but not \
             operated until it is back",
            self.name
        ))
    }
}

/// `path` with `?key=value` pairs, each value percent-encoded.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = path.to_owned();
    for (i, (k, v)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(
            with_query("/x", &[("path", "/etc/my file"), ("mode", "0644")]),
            "/x?path=/etc/my%20file&mode=0644"
        );
        assert_eq!(percent_encode("a&b=c"), "a%26b%3Dc");
    }
}
