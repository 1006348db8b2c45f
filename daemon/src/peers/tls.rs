//! The client TLS configurations members call each other with, built in one place on
//! `corral_shared::tls` (the one rustls client configuration of daemon, wizard and tests):
//! the cluster certificate presented, the server pinned by fingerprint.

use std::sync::Arc;

use corral_shared::tls::{ClientIdentity, ServerTrust, TlsError, client_config};
use rustls::ClientConfig;

use crate::tls::Identity;

/// One identity's client configurations, one per protocol spoken to members.
#[derive(Clone)]
pub struct ClientTls {
    /// HTTP/2 in ALPN: gRPC (Raft, reads, forwarded writes, heartbeats).
    pub h2: Arc<ClientConfig>,
    /// HTTP/1.1 in ALPN: LXD's REST API and the internal calls.
    pub http1: Arc<ClientConfig>,
    /// The read-index line's protocols in ALPN, named asks first (see [`super::read_index`]).
    pub read_index: Arc<ClientConfig>,
    /// The Raft line's protocol in ALPN (see [`crate::raft::line`]).
    pub raft: Arc<ClientConfig>,
}

/// Configurations that present `identity` and accept only a server whose certificate has
/// fingerprint `pinned`.
pub fn client_configs(identity: &Identity, pinned: &str) -> Result<ClientTls, TlsError> {
    configs(identity, ServerTrust::Fingerprint(pinned.to_owned()))
}

/// Configurations that present `identity` and accept a server whose certificate has any
/// of the fingerprints `pinned` (the old and the new cluster certificate, while it is
/// being replaced).
pub fn client_configs_trusting(
    identity: &Identity,
    pinned: &[String],
) -> Result<ClientTls, TlsError> {
    configs(identity, ServerTrust::Fingerprints(pinned.to_vec()))
}

fn configs(identity: &Identity, trust: ServerTrust) -> Result<ClientTls, TlsError> {
    let me = ClientIdentity::new(identity.cert_der(), identity.key_der());
    Ok(ClientTls {
        h2: client_config(&trust, Some(&me), &[b"h2"])?.config,
        // REST calls speak HTTP/1.1: say so in ALPN rather than rely on the server sniffing.
        http1: client_config(&trust, Some(&me), &[b"http/1.1"])?.config,
        read_index: client_config(&trust, Some(&me), &super::read_index::ALPNS)?.config,
        raft: client_config(&trust, Some(&me), &[crate::raft::line::ALPN])?.config,
    })
}
