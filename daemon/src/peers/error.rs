//! Why a call to another member failed: unreachable peers, certificate mismatches,
//! refusals and odd answers are told apart, because callers act differently on each (a
//! joiner skips the first and stops at the others).

use crate::error::Error;

/// Why a call to another member failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// Nothing answered at the address.
    #[error("{address} is unreachable: {reason}")]
    Unreachable {
        /// The address tried.
        address: String,
        /// What the network said.
        reason: String,
    },
    /// Something answered, with another certificate than the one expected.
    #[error("the server at {address} presents another certificate than the one expected: {reason}")]
    Certificate {
        /// The address tried.
        address: String,
        /// The fingerprints involved.
        reason: String,
    },
    /// The member refused.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The answer made no sense.
    #[error("malformed answer from {address}: {reason}")]
    Protocol {
        /// The address tried.
        address: String,
        /// What was wrong.
        reason: String,
    },
    /// The member answered, with something else than the call expects.
    #[error("{address} answered something else than {what} ({reason})")]
    Unexpected {
        /// The address tried.
        address: String,
        /// What was expected.
        what: &'static str,
        /// Why it did not decode.
        reason: String,
    },
    /// A gRPC call failed at the member or on the way.
    #[error("{address} did not take the call: {message}")]
    Rpc {
        /// The address tried.
        address: String,
        /// The status message.
        message: String,
    },
    /// This server holds no certificate to call members with.
    #[error("this server is not clustered: it has no cluster certificate to call members with")]
    NotClustered,
}

impl PeerError {
    /// The error for a request this member relayed to `owner` (e.g. "the leader at ADDR"):
    /// a refusal is the owner's own answer, anything else says the owner was not reached.
    pub fn relayed(self, owner: &str) -> Error {
        match self {
            PeerError::Refused { status, message } => Error::from_status(status, message),
            e => Error::Unavailable(format!("{owner} could not be reached: {e}")),
        }
    }

    /// The reason alone, without the address, for reports that name the member already.
    pub fn reason(self) -> String {
        match self {
            PeerError::Unreachable { reason, .. } => reason,
            PeerError::Unexpected { what, reason, .. } => {
                format!("it answered something else than {what} ({reason})")
            }
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_refusal_keeps_its_status_and_anything_else_names_the_owner() {
        let refused = PeerError::Refused {
            status: 404,
            message: "Cluster member not found".into(),
        };
        assert!(
            matches!(refused.relayed("the leader at a:1"), Error::NotFound(m) if m == "Cluster member not found")
        );
        let gone = PeerError::Unreachable {
            address: "a:1".into(),
            reason: "connection refused".into(),
        };
        match gone.relayed("the leader at a:1") {
            Error::Unavailable(m) => assert_eq!(
                m,
                "the leader at a:1 could not be reached: a:1 is unreachable: connection refused"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reason_drops_the_address_the_report_already_names() {
        for (error, want) in [
            (
                PeerError::Unreachable {
                    address: "a:1".into(),
                    reason: "timed out".into(),
                },
                "timed out",
            ),
            (
                PeerError::Unexpected {
                    address: "a:1".into(),
                    what: "its log position",
                    reason: "missing field".into(),
                },
                "it answered something else than its log position (missing field)",
            ),
            (
                PeerError::Refused {
                    status: 403,
                    message: "no".into(),
                },
                "no",
            ),
        ] {
            assert_eq!(error.reason(), want);
        }
    }
}
